// spk_train --ssl without MUSAN/RIR (docs/ssl.md, "Augmentation"): a cheap, synthetic stand-in for
// voxceleb_trainer's MUSAN + RIR recipe, applied to each view from the view's own random stream, so the two
// crops of one utterance differ by more than their offset. Without it everything the two crops share (the
// session's reverb, noise floor and channel) identifies the utterance, and a contrastive encoder learns those
// session cues instead of the speaker (the measured failure of the first CEL/SimCLR runs).
//
// Per view x[0:n], drawing from rng in this order (so a seed fixes every byte, whatever the worker count):
//   1. reverb, with probability reverb_prob: h[0] = 1, h[t] = N(0,1)·exp(-6.9·t / (rt60·fs)) for
//      0 < t < rt60·fs, rt60 ~ U[reverb_rt60_min, reverb_rt60_max] s; x = (x * h/||h||)[0:n] (augment.h's
//      reverberate, as an RIR file would be applied);
//   2. low-pass, with probability lowpass_prob: an RBJ-cookbook biquad (Q = 1/√2) at fc ~ U[lowpass_min_hz,
//      lowpass_max_hz), run forward once (a channel's band limit; the demo corpus's sessions have one);
//   3. coloured noise at snr ~ U[snr_min, snr_max] dB: white N(0,1), then one pole y[t] = w[t] + a·y[t-1],
//      a ~ U[-0.9, 0.9] (a < 0 tilts it blue, a > 0 pink to brown), scaled so 10 log10(Σx² / Σnoise²) = snr;
//      a silent crop stays silent;
//   4. gain g ~ U[-gain_db, gain_db] dB: x *= 10^(g/20).
// Each step always draws its random numbers, used or not, so a change of one probability does not reshuffle
// the others' draws.
#pragma once
#include <cstdint>

#include "engine/rng.h"

namespace spk::audio {

struct ViewAugmentConfig {
  double gain_db = 6;                                   // --ssl_aug_gain_db
  double snr_min = 5, snr_max = 20;                     // --ssl_aug_snr_min, --ssl_aug_snr_max
  double reverb_prob = 0.5;                             // --ssl_aug_reverb_prob
  double reverb_rt60_min = 0.2, reverb_rt60_max = 0.8;  // seconds (fixed: the demo corpus's rooms lie inside)
  double lowpass_prob = 0.5;                            // --ssl_aug_lowpass_prob
  double lowpass_min_hz = 3000, lowpass_max_hz = 7500;
  int sample_rate = 16000;
};

// What one call did, for tests and logs.
struct ViewAugmentRecord {
  bool reverb = false;
  double rt60 = 0;
  bool lowpass = false;
  double cutoff_hz = 0;
  double snr_db = 0, noise_pole = 0, gain_db = 0;
};

// Throws spk::Error naming the flag for a setting outside its range (negative gain, snr_min > snr_max, a
// probability outside [0, 1], non-finite values).
void check_view_augment_config(const ViewAugmentConfig& c);

class ViewAugment {
 public:
  explicit ViewAugment(ViewAugmentConfig c);   // checks c
  ViewAugmentRecord apply(float* x, int64_t n, Rng& rng) const;
  const ViewAugmentConfig& config() const { return c_; }

 private:
  ViewAugmentConfig c_;
};

// The biquad of step 2, in place (exposed for its test against the analytic response).
void lowpass_biquad(float* x, int64_t n, double cutoff_hz, int sample_rate);

}  // namespace spk::audio
