// HardNeg's blip mode (losses/blip_itm.h): the hardest-negative selection on hand-built similarity matrices, the
// ITM head and the whole blip total against a plain double loop (multi-head attention written out head by head),
// gradients by finite differences, and the seed's handling of a batch with a repeated speaker.
#include <algorithm>
#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/blip_itm.h"
#include "losses/infonce.h"
#include "ref.h"

using namespace spk;
using test::rand_input;

namespace {

// y W^T + b for W (O, I) rows [from, from + O) of w.
ref::Mat affine(const ref::Mat& y, const ref::Mat& w, const ref::Vec& b, size_t from, size_t out) {
  ref::Mat o(y.size(), ref::Vec(out));
  for (size_t r = 0; r < y.size(); ++r)
    for (size_t i = 0; i < out; ++i) o[r][i] = b[from + i] + ref::dot(y[r], w[from + i]);
  return o;
}

// torch.nn.MultiheadAttention(query = q, key = value = kv) on one unbatched sequence, no dropout or mask.
ref::Mat mha_ref(const ref::Mat& q, const ref::Mat& kv, const ItmHead& head) {
  const size_t e = q[0].size(), h = size_t(head.attn->num_heads), dh = e / h;
  const ref::Mat w = ref::rows(head.attn->in_proj_weight);
  const ref::Vec b = head.attn->in_proj_bias.to_double();
  const ref::Mat qq = affine(q, w, b, 0, e), kk = affine(kv, w, b, e, e), vv = affine(kv, w, b, 2 * e, e);
  ref::Mat cat(q.size(), ref::Vec(e, 0.0));
  for (size_t hh = 0; hh < h; ++hh)
    for (size_t i = 0; i < q.size(); ++i) {
      ref::Vec s(kv.size());
      for (size_t j = 0; j < kv.size(); ++j) {
        double d = 0;
        for (size_t k = hh * dh; k < (hh + 1) * dh; ++k) d += qq[i][k] * kk[j][k];
        s[j] = d / std::sqrt(double(dh));
      }
      const double top = *std::max_element(s.begin(), s.end());
      double z = 0;
      for (double& v : s) z += (v = std::exp(v - top));
      for (size_t j = 0; j < kv.size(); ++j)
        for (size_t k = hh * dh; k < (hh + 1) * dh; ++k) cat[i][k] += s[j] / z * vv[j][k];
    }
  return affine(cat, ref::rows(head.attn->out_proj->weight), head.attn->out_proj->bias.to_double(), 0, e);
}

// The hardest negative by its definition: the largest off-diagonal similarity of the row (first on ties).
std::vector<size_t> hardest_ref(const ref::Mat& s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size(); ++i) {
    size_t best = i == 0 ? 1 : 0;
    for (size_t j = 0; j < s.size(); ++j)
      if (j != i && s[i][j] > s[i][best]) best = j;
    out.push_back(best);
  }
  return out;
}

// L_itm of ECAPAModel.py train_blip for the pairs (x[b], y[b]) with logit scale tau.
double itm_ref(const ref::Mat& x, const ref::Mat& y, double tau, const ItmHead& head) {
  const size_t n = x.size();
  const ref::Mat xh = ref::normalize_rows(x), yh = ref::normalize_rows(y);
  ref::Mat s(n, ref::Vec(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) s[i][j] = tau * ref::dot(xh[i], yh[j]);
  ref::Mat image = xh, text = yh;
  for (size_t pass = 0; pass < 2; ++pass)
    for (size_t neg : hardest_ref(pass == 0 ? s : ref::transpose(s))) {
      image.push_back(xh[image.size() % n]);
      text.push_back(yh[neg]);   // the seed appends the second view in both directions
    }
  const ref::Mat att = mha_ref(text, image, head);
  ref::Mat hid(image.size(), ref::Vec(x[0].size()));
  for (size_t r = 0; r < image.size(); ++r)
    for (size_t k = 0; k < hid[r].size(); ++k) hid[r][k] = std::max(0.0, image[r][k] + att[r][k]);
  const ref::Mat logits = affine(hid, ref::rows(head.itm_head->weight), head.itm_head->bias.to_double(), 0, 2);
  ref::Labels target(3 * n, 0);
  std::fill(target.begin(), target.begin() + long(n), 1);
  return ref::ce(logits, target);
}

// HardNeg's clip total: 0.2·½[CE(P) + CE(Pᵀ)] + 0.8·AAMsoftmax(m 0.2, s 30) on view 1.
double clip_total_ref(const std::vector<ref::Mat>& g, double tau, const ref::Mat& w, const ref::Labels& y) {
  const size_t n = g.size();
  ref::Mat p(n, ref::Vec(n)), cos(n, ref::Vec(w.size()));
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < n; ++k) p[i][k] = tau * ref::dot(ref::normalize(g[i][0]), ref::normalize(g[k][1]));
    for (size_t c = 0; c < w.size(); ++c) cos[i][c] = ref::dot(ref::normalize(g[i][0]), ref::normalize(w[c]));
  }
  const double contrast = (ref::ce(p, ref::diag_labels(n)) + ref::ce(ref::transpose(p), ref::diag_labels(n))) / 2;
  return 0.2 * contrast + 0.8 * ref::ce(ref::arc_logits(cos, y, 0.2, 30, false, false), y);
}

LossConfig blip_config(int64_t d, int64_t classes) {
  LossConfig c = ref::f64_config(d, classes, 2);
  c.hardneg_mode = "blip";
  c.blip_itm_heads = 2;
  return c;
}

}  // namespace

TEST_CASE("blip: the hardest negative is the largest off-diagonal similarity, first on ties") {
  // Rows: the positive (diagonal) is the largest, so only the exclusion keeps it out; row 2 has a tie (cols 0, 3),
  // row 3 the hardest negative before the diagonal.
  const ref::Mat s = {{5.0, 1.0, 3.0, 2.0}, {0.5, 4.0, -1.0, 0.7}, {2.0, 1.0, 9.0, 2.0}, {-3.0, 8.0, 1.0, 9.5}};
  CHECK(hardest_negatives(ref::tensor(s)) == std::vector<int64_t>{2, 3, 0, 1});
  // The transposed direction (t2i) reads the columns.
  CHECK(hardest_negatives(ref::tensor(ref::transpose(s))) == std::vector<int64_t>{2, 3, 0, 0});
  // A negative scale reverses the ranking: softmax is taken of the scaled similarities, as in the seed.
  ref::Mat neg = s;
  for (auto& r : neg)
    for (double& v : r) v = -v;
  CHECK(hardest_negatives(ref::tensor(neg)) == std::vector<int64_t>{1, 2, 1, 0});
  // Equal similarities (τ = 0): the first index that is not the diagonal.
  CHECK(hardest_negatives(ref::tensor(ref::Mat(3, ref::Vec(3, 0.0)))) == std::vector<int64_t>{1, 0, 0});
  // Far-apart logits: their softmax underflows to 0, so with the 1e-4 floor they tie and the first wins (-2000
  // over -1000), as in the seed's f32 code; the floor exists to keep them above the zeroed diagonal.
  CHECK(hardest_negatives(ref::tensor({{0.0, -2000.0, -1000.0}, {0.0, 0.0, 1.0}, {3.0, 2.0, 1.0}})) ==
        std::vector<int64_t>{1, 2, 0});
  CHECK(hardest_negatives(ref::tensor({{1.0}})) == std::vector<int64_t>{0});
  CHECK_THROWS_AS(hardest_negatives(Tensor::zeros({2, 3}, DType::f64)), Error);
}

TEST_CASE("blip: the ITM loss equals a double loop over mined pairs, attention written out head by head") {
  Rng rng(911);
  ItmHead head(4, 2, rng, DType::f64);
  CHECK(ref::param_names(head) == std::vector<std::string>{"attn.in_proj_weight", "attn.in_proj_bias",
                                                            "attn.out_proj.weight", "attn.out_proj.bias",
                                                            "itm_head.weight", "itm_head.bias"});
  Tensor bias = head.attn->in_proj_bias;
  bias.copy_(rand_input({12}, rng));   // nonzero biases, so the q/k/v slices are checked too
  Tensor x = rand_input({5, 4}, rng), y = rand_input({5, 4}, rng);
  for (double tau : {2.659, -0.7}) {
    CAPTURE(tau);
    Tensor loss = head.loss(l2_normalize(x, 1, 1e-12), l2_normalize(y, 1, 1e-12), Tensor::scalar(tau, DType::f64));
    test::expect_close(loss, {itm_ref(ref::rows(x), ref::rows(y), tau, head)}, 1e-12, 1e-11, "L_itm");
  }
  // Gradients reach both views (through every pair, the mined negatives included) and every head parameter.
  std::vector<Tensor> inputs{x.set_requires_grad(true), y.set_requires_grad(true)};
  for (const auto& p : head.parameters()) inputs.push_back(p);
  test::gradcheck([&](const std::vector<Tensor>& in) {
    return head.loss(l2_normalize(in[0], 1, 1e-12), l2_normalize(in[1], 1, 1e-12), Tensor::scalar(2.659, DType::f64));
  }, inputs);
  CHECK_THROWS_WITH_AS(head.loss(slice(x, 0, 0, 1), slice(y, 0, 0, 1), Tensor::scalar(1.0, DType::f64)),
                       doctest::Contains("B >= 2"), Error);
}

TEST_CASE("blip: total = (0.2·L_itm + 0.8·(0.2·InfoNCE + 0.8·AAM)) / 2, the seed's weighting") {
  Rng rng(912);
  InfoNCELoss loss(blip_config(4, 6), rng, false);
  CHECK(ref::param_names(loss) ==
        std::vector<std::string>{"logit_scale", "aam.weight", "attn.in_proj_weight", "attn.in_proj_bias",
                                 "attn.out_proj.weight", "attn.out_proj.bias", "itm_head.weight", "itm_head.bias"});
  REQUIRE(loss.itm);
  Tensor x = rand_input({5, 2, 4}, rng);
  const ref::Labels y{3, 1, 0, 2, 5};
  const double tau = std::log(1 / 0.07);
  const auto g = ref::groups(x);
  const double clip = clip_total_ref(g, tau, ref::rows(loss.aam->weight), y);
  const double itm = itm_ref(ref::member(g, 0), ref::member(g, 1), tau, *loss.itm);
  LossOutput out = loss.forward(x, ref::labels(y));
  test::expect_close(out.loss, {(0.2 * itm + 0.8 * clip) / 2}, 1e-12, 1e-11, "blip total");
  CHECK(out.warning.empty());
  ref::gradcheck_loss(loss, x, ref::labels(y));

  // blip_itm_weight moves the split; clip mode is the same loss without the head.
  LossConfig c = blip_config(4, 6);
  c.blip_itm_weight = 0.5;
  Rng rng2(912);
  InfoNCELoss half(c, rng2, false);
  test::expect_close(half.forward(x, ref::labels(y)).loss, {(0.5 * itm + 0.5 * clip) / 2}, 1e-12, 1e-11, "w 0.5");
  c.hardneg_mode = "clip";   // infonce_aam_mix auto is on in HardNeg's modes
  Rng rng3(912);
  InfoNCELoss clip_only(c, rng3, false);
  CHECK(ref::param_names(clip_only) == std::vector<std::string>{"logit_scale", "aam.weight"});
  test::expect_close(clip_only.forward(x, ref::labels(y)).loss, {clip}, 1e-12, 1e-11, "clip mode");
}

TEST_CASE("blip: a batch with a repeated speaker keeps the first pair of each, as HardNeg's collate does") {
  Rng rng(913);
  InfoNCELoss loss(blip_config(4, 6), rng, false);
  Tensor x = rand_input({5, 2, 4}, rng);
  LossOutput dup = loss.forward(x, ref::labels({3, 1, 0, 1, 3}));
  LossOutput kept = loss.forward(slice(x, 0, 0, 3), ref::labels({3, 1, 0}));
  test::expect_close(dup.loss, kept.loss.to_double(), 1e-15, 1e-15, "deduplicated");
  CHECK(dup.warning.find("2 pair(s) of a speaker already in the batch dropped") != std::string::npos);
  // One speaker left: the clip terms only, said in the warning.
  LossOutput one = loss.forward(x, ref::labels({2, 2, 2, 2, 2}));
  CHECK(std::isfinite(one.loss.item()));
  CHECK(one.warning.find("one speaker left, no ITM term") != std::string::npos);
}

TEST_CASE("blip: bad settings name the setting") {
  Rng rng(914);
  LossConfig c = blip_config(4, 6);
  c.blip_itm_heads = 3;
  CHECK_THROWS_WITH_AS(InfoNCELoss(c, rng, false), doctest::Contains("blip_itm_heads 3 must divide nOut 4"), Error);
  c = blip_config(4, 6);
  c.blip_itm_weight = 1.5;
  CHECK_THROWS_WITH_AS(InfoNCELoss(c, rng, false), doctest::Contains("blip_itm_weight 1.5 must be in [0, 1]"), Error);
  c = blip_config(4, 6);
  c.hardneg_mode = "bert";
  CHECK_THROWS_WITH_AS(InfoNCELoss(c, rng, false), doctest::Contains("hardneg_mode 'bert'"), Error);
}
