// SpecAugment masks: drawing (host, seeded) and applying (kernels/specaug). See spec_augment.h.
#include "engine/audio/spec_augment.h"

#include <algorithm>
#include <sstream>

#include "engine/autograd.h"
#include "engine/check.h"
#include "engine/cuda.h"
#include "engine/dispatch.h"
#include "kernels/specaug/specaug.h"

namespace spk {

namespace {

std::string axis_error(const char* count_name, int64_t count, const char* width_name, int64_t width, int64_t D,
                       const char* axis) {
  std::ostringstream s;
  if (count < 0) s << count_name << " must be 0 or more, got " << count;
  else if (count > 0 && width < 1) s << width_name << " must be at least 1, got " << width;
  else if (count > 0 && width > D)
    s << width_name << " " << width << " is wider than the features' " << D << " " << axis;
  return s.str();
}

// One taoruijie-style mask along an axis of size D for every utterance (FbankAug.mask_along_axis): the widths of
// the whole batch first, then the starts, whose range depends on the widest.
void draw_taoruijie(int64_t width, int64_t D, int64_t B, Rng& rng, const std::vector<bool>& on, int32_t* out,
                    int64_t stride) {
  std::vector<int64_t> w(static_cast<size_t>(B));
  int64_t w_max = 0;
  for (int64_t b = 0; b < B; ++b) w_max = std::max(w_max, w[size_t(b)] = rng.randint(0, width));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t start = rng.randint(0, std::max<int64_t>(1, D - w_max));
    int32_t* p = out + b * stride;
    p[0] = on[size_t(b)] ? int32_t(start) : 0;
    p[1] = on[size_t(b)] ? int32_t(start + w[size_t(b)]) : 0;
  }
}

}  // namespace

SpecAugStyle spec_aug_style(const std::string& name) {
  if (name == "taoruijie") return SpecAugStyle::taoruijie;
  if (name == "wespeaker") return SpecAugStyle::wespeaker;
  SPK_FAIL("spec_augment: unknown style '", name, "' (taoruijie, wespeaker)");
}

const char* spec_aug_style_name(SpecAugStyle s) { return s == SpecAugStyle::wespeaker ? "wespeaker" : "taoruijie"; }

std::string spec_aug_config_error(const SpecAugConfig& cfg, int64_t F, int64_t T) {
  std::string e = axis_error("time_masks", cfg.time_masks, "time_width", cfg.time_width, T, "frames");
  if (e.empty()) e = axis_error("freq_masks", cfg.freq_masks, "freq_width", cfg.freq_width, F, "bins");
  if (e.empty() && !(cfg.prob >= 0 && cfg.prob <= 1)) {
    std::ostringstream s;
    s << "prob must be in [0, 1], got " << cfg.prob;
    e = s.str();
  }
  return e;
}

SpecAugMasks spec_aug_draw(const SpecAugConfig& cfg, int64_t B, int64_t F, int64_t T, Rng& rng) {
  const std::string err = spec_aug_config_error(cfg, F, T);
  SPK_CHECK(err.empty(), "spec_augment: ", err);
  SPK_CHECK(B >= 0, "spec_augment: negative batch size ", B);
  SpecAugMasks m;
  m.B = B;
  m.n_time = cfg.time_masks;
  m.n_freq = cfg.freq_masks;
  const int64_t n = m.n_time + m.n_freq, stride = 2 * n;
  m.intervals.assign(size_t(B * stride), 0);
  if (cfg.style == SpecAugStyle::taoruijie) {
    std::vector<bool> on(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) on[size_t(b)] = cfg.prob >= 1 || rng.uniform() < cfg.prob;
    for (int64_t k = 0; k < n; ++k) {
      const bool time = k < m.n_time;
      draw_taoruijie(time ? cfg.time_width : cfg.freq_width, time ? T : F, B, rng, on, m.intervals.data() + 2 * k,
                     stride);
    }
    return m;
  }
  // wespeaker: one coin and one set of intervals for the batch, copied to every utterance.
  if (B == 0 || !(rng.uniform() < cfg.prob)) return m;
  std::vector<int32_t> row(static_cast<size_t>(stride));
  for (int64_t k = 0; k < n; ++k) {
    const bool time = k < m.n_time;
    const int64_t D = time ? T : F, width = time ? cfg.time_width : cfg.freq_width;
    const int64_t start = rng.randint(0, D);        // random.randint(0, max_frames - 1), inclusive
    const int64_t w = rng.randint(1, width + 1);    // random.randint(1, max_t), inclusive
    row[size_t(2 * k)] = int32_t(start);
    row[size_t(2 * k + 1)] = int32_t(std::min(D, start + w));
  }
  for (int64_t b = 0; b < B; ++b) std::copy(row.begin(), row.end(), m.intervals.begin() + b * stride);
  return m;
}

Tensor spec_aug_apply(const Tensor& feats_in, const SpecAugMasks& masks) {
  SPK_CHECK(feats_in.defined(), "spec_augment: undefined input");
  SPK_CHECK(feats_in.dim() == 3, "spec_augment: expects features (B, F, T), got ", feats_in.str());
  SPK_CHECK(!needs_grad({feats_in}), "spec_augment: has no backward (it masks front-end features, which run under "
            "no_grad), but ", feats_in.str(), " requires grad; wrap the call in NoGradGuard or detach() the input");
  const int64_t B = feats_in.size(0), F = feats_in.size(1), T = feats_in.size(2);
  SPK_CHECK(masks.B == B && masks.n_time >= 0 && masks.n_freq >= 0 &&
                int64_t(masks.intervals.size()) == B * 2 * (masks.n_time + masks.n_freq),
            "spec_augment: masks drawn for ", masks.B, " utterances (", masks.intervals.size(),
            " values) do not fit ", feats_in.str());
  const Tensor x = feats_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  if (x.device().is_cpu()) {
    if (x.dtype() == DType::f32)
      specaug_forward_cpu<float>(x.data<float>(), y.data<float>(), B, F, T, masks.intervals.data(), masks.n_time,
                                 masks.n_freq);
    else if (x.dtype() == DType::f64)
      specaug_forward_cpu<double>(x.data<double>(), y.data<double>(), B, F, T, masks.intervals.data(), masks.n_time,
                                  masks.n_freq);
    else
      SPK_FAIL("spec_augment: expects f32 or f64 features, got ", x.str());
    return y;
  }
  SPK_CHECK(x.dtype() == DType::f32, "spec_augment: expects f32 features on a GPU, got ", x.str());
  SPK_CUDA_ONLY({
    // No masks (zero counts): a plain copy, with no empty upload.
    const Tensor m = masks.intervals.empty()
                         ? Tensor()
                         : Tensor::from_vector(std::vector<double>(masks.intervals.begin(), masks.intervals.end()),
                                               {int64_t(masks.intervals.size())}, DType::i32, x.device());
    specaug_forward_cuda(x.data<float>(), y.data<float>(), B, F, T, m.defined() ? m.data<int32_t>() : nullptr,
                         masks.n_time, masks.n_freq, cuda::current_stream());
  });
  return y;
}

Tensor spec_augment(const Tensor& feats, const SpecAugConfig& cfg, Rng& rng) {
  SPK_CHECK(feats.defined() && feats.dim() == 3, "spec_augment: expects features (B, F, T), got ",
            feats.defined() ? feats.str() : std::string("an undefined tensor"));
  return spec_aug_apply(feats, spec_aug_draw(cfg, feats.size(0), feats.size(1), feats.size(2), rng));
}

}  // namespace spk
