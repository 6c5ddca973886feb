// HardNeg infonce / aam_infonce; see infonce.h. The plain CLIP term is one fused op (engine similarity_ce with
// symmetric and l2_normalize's per-row eps; docs/cuda/losses.md); aam_infonce's row-normalised margin logits
// stay composed (the fused op has no margin on similarity rows). The AAM classifier is fused in aamsoftmax.cpp.
#include "losses/infonce.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

InfoNCELoss::InfoNCELoss(const LossConfig& c, Rng& rng, bool row_margin)
    : Loss(row_margin ? "aam_infonce" : "infonce",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::accuracy}),
      row_margin_(row_margin), mix_weight_(c.infonce_mix_weight), row_m_(c.infonce_row_margin),
      row_s_(c.infonce_row_scale), itm_weight_(c.blip_itm_weight) {
  loss_util::check_dtype(name(), c);
  // HardNeg: logit_scale = nn.Parameter(ones * log(1 / 0.07)), then used linearly (logits = τ·cos).
  SPK_CHECK(std::isfinite(c.infonce_temperature) && c.infonce_temperature > 0 && c.infonce_temperature < 1, name(),
            ": infonce_temperature ", c.infonce_temperature, " must be in (0, 1) (the logit scale starts at ln(1/T))");
  logit_scale = register_parameter("logit_scale", Tensor::scalar(std::log(1 / c.infonce_temperature), c.dtype));
  if (row_margin) loss_util::check_angular(name(), row_m_, row_s_, "infonce_row_margin", "infonce_row_scale");
  SPK_CHECK(c.infonce_aam_mix == "auto" || c.infonce_aam_mix == "true" || c.infonce_aam_mix == "false", name(),
            ": infonce_aam_mix '", c.infonce_aam_mix, "' (auto, true or false expected)");
  const std::string& mode = c.hardneg_mode;
  SPK_CHECK(mode == "none" || mode == "classifier" || mode == "clip" || mode == "blip", name(), ": hardneg_mode '",
            mode, "' (none, classifier, clip or blip expected)");
  SPK_CHECK(mode != "classifier", name(), ": hardneg_mode classifier trains aamsoftmax, not ", name());
  const bool hardneg = mode == "clip" || mode == "blip";
  if (c.infonce_aam_mix == "true" || (c.infonce_aam_mix == "auto" && (row_margin || hardneg))) {
    SPK_CHECK(mix_weight_ >= 0 && mix_weight_ <= 1, name(), ": infonce_mix_weight ", mix_weight_, " must be in [0, 1]");
    aam = register_module("aam", std::make_shared<AAMSoftmaxLoss>(c, rng, c.infonce_cls_margin, c.infonce_cls_scale));
  }
  if (mode == "blip") {
    SPK_CHECK(itm_weight_ >= 0 && itm_weight_ <= 1, name(), ": blip_itm_weight ", itm_weight_, " must be in [0, 1]");
    SPK_CHECK(c.blip_itm_heads > 0 && c.nOut % c.blip_itm_heads == 0, name(), ": blip_itm_heads ", c.blip_itm_heads,
              " must divide nOut ", c.nOut);
    itm = std::make_shared<ItmHead>(c.nOut, c.blip_itm_heads, rng, c.dtype);
    register_module("attn", itm->attn);          // the seed's names: attn.*, itm_head.*
    register_module("itm_head", itm->itm_head);
  }
}

namespace {

// The rows HardNeg's collate keeps: the first of each speaker label, in order.
std::vector<int64_t> first_of_each_speaker(const std::vector<int64_t>& labels) {
  std::vector<int64_t> keep;
  std::set<int64_t> seen;
  for (size_t i = 0; i < labels.size(); ++i)
    if (seen.insert(labels[i]).second) keep.push_back(int64_t(i));
  return keep;
}

}  // namespace

LossOutput InfoNCELoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  Tensor y = labels;
  std::string warning;
  if (labels.defined()) {
    SPK_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == n, name(),
              ": labels must be i64 (", n, "), got ", labels.str());
    const std::vector<int64_t> all = labels.to_vector<int64_t>();
    const std::vector<int64_t> keep = first_of_each_speaker(all);
    if (int64_t(keep.size()) < n) {
      const int64_t k = int64_t(keep.size());
      std::vector<int64_t> kept_labels;
      for (int64_t i : keep) kept_labels.push_back(all[size_t(i)]);
      g = index_select(g, 0, Tensor::from_vector(keep, {k}, x.device()));
      y = Tensor::from_vector(kept_labels, {k}, x.device());
      warning = name() + ": " + std::to_string(n - k) +
                " pair(s) of a speaker already in the batch dropped (HardNeg's collate keeps the first of each)";
    }
  }
  LossOutput out = clip(g, y);
  auto add_warning = [&](const std::string& w) { out.warning += (out.warning.empty() ? "" : "; ") + w; };
  if (!warning.empty()) add_warning(warning);
  if (itm) {
    if (g.size(0) < 2) {
      add_warning(name() + ": blip: one speaker left, no ITM term");
    } else {
      Tensor xh = l2_normalize(loss_util::group_member(g, 0), 1, 1e-12);
      Tensor yh = l2_normalize(loss_util::group_member(g, 1), 1, 1e-12);
      out.loss = mul_scalar(add(mul_scalar(itm->loss(xh, yh, logit_scale), itm_weight_),
                                mul_scalar(out.loss, 1 - itm_weight_)),
                            0.5);
    }
  }
  return out;
}

LossOutput InfoNCELoss::clip(const Tensor& g, const Tensor& labels) {
  const int64_t n = g.size(0);
  if (!row_margin_) {
    FusedLossOutput f = similarity_ce(loss_util::group_member(g, 0), loss_util::group_member(g, 1), logit_scale,
                                      Tensor(), {.symmetric = true, .eps_rule = CosineEps::per_row, .eps = 1e-12});
    if (!aam) return {f.loss, prediction_accuracy(f.pred), metric_kind()};
    LossOutput cls = aam->forward(loss_util::group_member(g, 0), labels);
    return {add(mul_scalar(f.loss, mix_weight_), mul_scalar(cls.loss, 1 - mix_weight_)), cls.metric, metric_kind()};
  }
  Tensor xh = l2_normalize(loss_util::group_member(g, 0), 1, 1e-12);
  Tensor yh = l2_normalize(loss_util::group_member(g, 1), 1, 1e-12);
  Tensor p = mul(matmul(xh, transpose(yh, 0, 1)), logit_scale);
  Tensor q = transpose(p, 0, 1);
  Tensor target = loss_util::positional_labels(n, 1, g.device());
  auto term = [&](const Tensor& z) {
    Tensor rows = l2_normalize(z, 1, 1e-12);
    Tensor diag = loss_util::one_hot(target, n, rows.dtype());
    return cross_entropy(loss_util::additive_angular_margin(rows, diag, row_m_, row_s_, /*easy_margin=*/false,
                                                            loss_util::ArcFallback::voxceleb_trainer),
                         target);
  };
  Tensor contrast = mul_scalar(add(term(p), term(q)), 0.5);
  if (!aam) return {contrast, top1_accuracy(p, target), metric_kind()};
  LossOutput cls = aam->forward(loss_util::group_member(g, 0), labels);
  return {add(mul_scalar(contrast, mix_weight_), mul_scalar(cls.loss, 1 - mix_weight_)), cls.metric, metric_kind()};
}

}  // namespace spk
