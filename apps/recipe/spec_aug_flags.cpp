// --spec_aug and its settings (see spec_aug_flags.h).
#include "apps/recipe/spec_aug_flags.h"

#include <algorithm>
#include <cmath>

#include "engine/audio/crop.h"
#include "engine/audio/fbank.h"

namespace spk::recipe {

namespace {

using flag_check::num;

void check_axis(const std::string& axis, int64_t masks, int64_t width, int64_t size, const std::string& size_text) {
  const std::string m = "--spec_aug_" + axis + "_masks", w = "--spec_aug_" + axis + "_width";
  if (masks < 0) throw UsageError(m + ": must be 0 or more, got " + num(double(masks)));
  if (masks == 0) return;
  if (width < 1) throw UsageError(w + ": must be at least 1, got " + num(double(width)));
  if (width > size) throw UsageError(w + " " + num(double(width)) + " is wider than " + size_text);
}

}  // namespace

std::optional<SpecAugConfig> spec_aug_config(const RecipeConfig& c, const FrontEnd& fe) {
  if (!c.spec_aug) return std::nullopt;
  if (c.frontend == "waveform")
    throw UsageError("--spec_aug: masks the time and frequency axes of spectral features (B, F, T); --frontend "
                     "waveform gives the model raw audio (leave --spec_aug off, or pick a spectral --frontend)");
  SpecAugConfig s;
  if (c.spec_aug_style != "taoruijie" && c.spec_aug_style != "wespeaker")
    throw UsageError("--spec_aug_style: unknown style '" + c.spec_aug_style + "' (taoruijie, wespeaker)");
  s.style = spec_aug_style(c.spec_aug_style);
  s.time_masks = c.spec_aug_time_masks;
  s.time_width = c.spec_aug_time_width;
  s.freq_masks = c.spec_aug_freq_masks;
  s.freq_width = c.spec_aug_freq_width;
  s.prob = c.spec_aug_prob;
  const int64_t F = fe.width();
  // --sampler pyannote: the shortest chunk bounds the time masks.
  const bool chunks = c.sampler == "pyannote";
  const double chunk_s = c.chunk_min_duration > 0 ? c.chunk_min_duration : c.chunk_duration;
  const int64_t T = fbank_frames(fe.fbank, chunks ? int64_t(std::llround(chunk_s * audio::kDefaultSampleRate))
                                                  : audio::max_audio_samples(c.max_frames));
  check_axis("freq", s.freq_masks, s.freq_width, F,
             "the " + num(double(F)) + " feature rows of the front end (--n_mels " + num(double(c.n_mels)) + ")");
  check_axis("time", s.time_masks, s.time_width, T,
             chunks ? "the " + num(double(T)) + " frames of the shortest chunk (" + num(chunk_s) + " s: " +
                          "--chunk_min_duration, or --chunk_duration)"
                    : "the " + num(double(T)) + " frames of a training crop (--max_frames " + num(double(c.max_frames)) +
                          ")");
  if (!(s.prob >= 0 && s.prob <= 1)) throw UsageError("--spec_aug_prob: must be in [0, 1], got " + num(s.prob));
  const std::string err = spec_aug_config_error(s, F, T);   // the engine's own check, which the above mirror
  if (!err.empty()) throw UsageError("--spec_aug: " + err);
  return s;
}

std::string spec_aug_str(const SpecAugConfig& s) {
  const bool tao = s.style == SpecAugStyle::taoruijie;
  const std::string lo = tao ? " of width 0.." : " of width 1..";
  const int64_t hi_t = tao ? s.time_width - 1 : s.time_width, hi_f = tao ? s.freq_width - 1 : s.freq_width;
  return std::string(spec_aug_style_name(s.style)) + ", " + num(double(s.time_masks)) + " time mask(s)" + lo +
         num(double(hi_t)) + " frames, " + num(double(s.freq_masks)) + " freq mask(s)" + lo + num(double(hi_f)) +
         " bins, prob " + num(s.prob) + (tao ? " per utterance" : " per batch");
}

Tensor spec_aug_train_features(const Tensor& feats, const SpecAugConfig& s, Rng& rng, const BatchShare& share) {
  if (feats.dim() != 3 || feats.size(1) < 2)
    throw UsageError("--spec_aug: the front end gives " + feats.str() + ", not spectral features (B, F, T) with "
                     "F > 1 (a waveform front end has no frequency axis to mask); leave --spec_aug off");
  if (share.world <= 1) return spec_augment(feats, s, rng);
  const int64_t B = feats.size(0), N = share.groups, W = share.world, M = share.crops;
  SPK_CHECK(N > 0 && M > 0 && B % M == 0 && B / M <= N, "spec_aug_train_features: ", B, " rows for ", N,
            " groups of ", M, " crops per rank");
  const SpecAugMasks all = spec_aug_draw(s, M * N * W, feats.size(1), feats.size(2), rng);
  SpecAugMasks mine = all;
  mine.B = B;
  const int64_t stride = 2 * (all.n_time + all.n_freq);
  mine.intervals.assign(size_t(B * stride), 0);
  const int64_t n_here = B / M;   // groups in this batch (fewer than N if some were dropped): row m·n_here + j
  for (int64_t i = 0; i < B; ++i) {
    const int64_t m = i / n_here, j = i % n_here;
    const int64_t g = m * N * W + share.rank * N + j;   // the row's place in the global batch
    std::copy_n(all.intervals.begin() + g * stride, stride, mine.intervals.begin() + i * stride);
  }
  return spec_aug_apply(feats, mine);
}

}  // namespace spk::recipe
