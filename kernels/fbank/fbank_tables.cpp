// Config validation, frame counts, and the window / mel filterbank tables, spelled as torchaudio spells them
// (torchaudio/functional/functional.py melscale_fbanks, torchaudio/compliance/kaldi.py get_mel_banks). Built in
// double: torchaudio builds them in the default dtype (f32), so our tables are the exact values its f32 tables
// approximate; the golden files are made with torch's default dtype set to f64.
#include <cmath>
#include <sstream>

#include "kernels/common/check.h"
#include "kernels/fbank/fbank.h"
#include "kernels/fft/fft.h"

namespace spk {

namespace {

using detail::cat;   // kernels/common/check.h

const char* mode_name(FbankMode m) { return m == FbankMode::kaldi ? "kaldi" : "torchaudio"; }

// torchaudio's all_freqs run to sample_rate // 2 (integer division of an int rate); Kaldi's Nyquist is 0.5·sr.
double nyquist(const FbankConfig& c) {
  return c.mode == FbankMode::kaldi ? 0.5 * c.sample_rate : std::floor(c.sample_rate / 2);
}

double htk_mel(double f) { return 2595.0 * std::log10(1.0 + f / 700.0); }
double htk_hz(double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); }
double kaldi_mel(double f) { return 1127.0 * std::log(1.0 + f / 700.0); }

// Window values w[n], n < N. torchaudio: torch.*_window(N) is periodic (denominator N); Kaldi (compliance.kaldi
// _feature_window_function): periodic=False (denominator N - 1), povey = hann^0.85.
std::vector<double> make_window(const FbankConfig& c) {
  const int N = c.win_length;
  const bool periodic = c.mode == FbankMode::torchaudio;
  const double denom = periodic ? double(N) : double(N - 1);
  std::vector<double> w(size_t(N), 1.0);
  for (int n = 0; n < N; ++n) {
    const double a = denom > 0 ? 2.0 * M_PI * double(n) / denom : 0.0;
    switch (c.window) {
      case FbankWindow::hamming: w[size_t(n)] = 0.54 - 0.46 * std::cos(a); break;
      case FbankWindow::hann: w[size_t(n)] = 0.5 - 0.5 * std::cos(a); break;
      case FbankWindow::povey: w[size_t(n)] = std::pow(0.5 - 0.5 * std::cos(a), 0.85); break;
      case FbankWindow::rectangular: break;
    }
  }
  // torch.hann_window(1) / hamming_window(1) return [1]; Kaldi with N = 1 would divide by zero, we return 1 too.
  if (N == 1) w[0] = 1.0;
  return w;
}

// Dense (n_mels, n_freq) filterbank.
std::vector<double> make_mel(const FbankConfig& c) {
  const int n_freq = c.n_fft / 2 + 1, M = c.n_mels;
  const double f_max = fbank_f_max(c);
  std::vector<double> fb(size_t(M) * size_t(n_freq), 0.0);
  if (c.mode == FbankMode::torchaudio) {
    // melscale_fbanks(n_freqs, f_min, f_max, n_mels, sr, norm=None, mel_scale='htk'):
    //   all_freqs = linspace(0, sr // 2, n_freqs); m_pts = linspace(mel(f_min), mel(f_max), n_mels + 2);
    //   f_pts = hz(m_pts); down = (f_pts[i] - f)/(f_pts[i+1] - f_pts[i]) ... fb = max(0, min(down, up)).
    const double top = nyquist(c), m_lo = htk_mel(c.f_min), m_hi = htk_mel(f_max);
    std::vector<double> f_pts(size_t(M) + 2);
    for (int i = 0; i < M + 2; ++i) f_pts[size_t(i)] = htk_hz(m_lo + (m_hi - m_lo) * double(i) / double(M + 1));
    for (int k = 0; k < n_freq; ++k) {
      const double f = n_freq > 1 ? top * double(k) / double(n_freq - 1) : 0.0;
      for (int m = 0; m < M; ++m) {
        const double down = -(f_pts[size_t(m)] - f) / (f_pts[size_t(m) + 1] - f_pts[size_t(m)]);
        const double up = (f_pts[size_t(m) + 2] - f) / (f_pts[size_t(m) + 2] - f_pts[size_t(m) + 1]);
        fb[size_t(m) * size_t(n_freq) + size_t(k)] = std::max(0.0, std::min(down, up));
      }
    }
  } else {
    // get_mel_banks(num_bins, padded_window_size, sr, low_freq, high_freq, vtln_warp=1): bins spaced evenly in
    // Kaldi mel between mel(low) and mel(high) (num_bins + 2 edges); the weight of FFT bin k (frequency k·sr/n_fft,
    // k < n_fft/2) is the triangle evaluated in the mel domain; the Nyquist bin gets weight 0 (padded column).
    const double m_lo = kaldi_mel(c.f_min), m_hi = kaldi_mel(f_max);
    const double delta = (m_hi - m_lo) / double(M + 1), bin_width = c.sample_rate / double(c.n_fft);
    std::vector<double> bin_mel(size_t(c.n_fft / 2));
    for (int k = 0; k < c.n_fft / 2; ++k) bin_mel[size_t(k)] = kaldi_mel(bin_width * double(k));
    for (int m = 0; m < M; ++m) {
      const double left = m_lo + double(m) * delta, center = m_lo + double(m + 1) * delta,
                   right = m_lo + double(m + 2) * delta;
      for (int k = 0; k < c.n_fft / 2; ++k) {
        const double mel = bin_mel[size_t(k)];
        const double up = (mel - left) / (center - left), down = (right - mel) / (right - center);
        fb[size_t(m) * size_t(n_freq) + size_t(k)] = std::max(0.0, std::min(up, down));
      }
    }
  }
  return fb;
}

}  // namespace

double fbank_f_max(const FbankConfig& c) { return c.f_max > 0 ? c.f_max : nyquist(c) + c.f_max; }

std::string fbank_config_error(const FbankConfig& c) {
  const char* mode = mode_name(c.mode);
  if (!(c.sample_rate > 0)) return cat("sample_rate must be > 0, got ", c.sample_rate);
  if (!is_pow2(c.n_fft) || c.n_fft < 8 || c.n_fft > 4096)
    return cat("n_fft must be a power of two in [8, 4096], got ", c.n_fft);
  if (c.win_length < 1 || c.win_length > c.n_fft)
    return cat("win_length must be in [1, n_fft = ", c.n_fft, "], got ", c.win_length);
  if (c.hop_length < 1) return cat("hop_length must be >= 1, got ", c.hop_length);
  if (c.n_mels < 1 || c.n_mels > c.n_fft / 2 + 1)
    return cat("n_mels must be in [1, n_fft/2 + 1 = ", c.n_fft / 2 + 1, "], got ", c.n_mels);
  if (!(c.preemph >= 0 && c.preemph <= 1)) return cat("preemph must be in [0, 1], got ", c.preemph);
  if (!std::isfinite(c.input_scale) || c.input_scale == 0)
    return cat("input_scale must be finite and nonzero, got ", c.input_scale);
  if (!(c.energy_offset >= 0) || !(c.energy_floor >= 0))
    return cat("energy_offset and energy_floor must be >= 0, got ", c.energy_offset, " and ", c.energy_floor);
  if (c.norm == FbankNorm::instance && !(c.norm_eps > 0))
    return cat("instance norm needs norm_eps > 0, got ", c.norm_eps);
  const double f_max = fbank_f_max(c), nyq = nyquist(c);
  if (c.mode == FbankMode::kaldi) {
    if (c.n_fft != next_pow2(c.win_length))
      return cat("kaldi mode pads frames to the next power of two (round_to_power_of_two): n_fft must be ",
                 next_pow2(c.win_length), " for win_length ", c.win_length, ", got ", c.n_fft);
    if (c.n_mels <= 3) return cat("kaldi mode needs n_mels > 3 (Kaldi's rule), got ", c.n_mels);
    if (c.win_length < 2) return cat("kaldi mode needs win_length >= 2, got ", c.win_length);
    if (!(c.f_min >= 0 && c.f_min < nyq && f_max > 0 && f_max <= nyq && c.f_min < f_max))
      return cat("kaldi mode needs 0 <= f_min < f_max <= Nyquist (", nyq, " Hz); got f_min ", c.f_min,
                 ", f_max ", f_max, " (from f_max = ", c.f_max, ")");
  } else {
    if (c.window == FbankWindow::povey) return cat("the povey window exists only in kaldi mode (", mode, ")");
    if (!(c.f_min >= 0 && c.f_min < f_max))
      return cat("torchaudio mode needs 0 <= f_min < f_max; got f_min ", c.f_min, ", f_max ", f_max,
                 " (from f_max = ", c.f_max, ")");
  }
  return "";
}

int64_t fbank_num_frames(const FbankConfig& c, int64_t L) {
  const int64_t hop = c.hop_length;
  if (c.mode == FbankMode::torchaudio)
    return c.center ? 1 + L / hop : (L >= c.n_fft ? 1 + (L - c.n_fft) / hop : 0);
  if (c.snip_edges) return L >= c.win_length ? 1 + (L - c.win_length) / hop : 0;
  return (L + hop / 2) / hop;
}

std::string fbank_length_error(const FbankConfig& c, int64_t L) {
  if (c.preemph > 0 && c.mode == FbankMode::torchaudio && L < 2)
    return cat("pre-emphasis reflect-pads one sample and needs at least 2 samples, got ", L);
  if (L < 1) return cat("needs at least one sample, got ", L);
  if (c.mode == FbankMode::torchaudio) {
    if (c.center && L <= c.n_fft / 2)
      return cat("torchaudio mode with center=True reflect-pads n_fft/2 = ", c.n_fft / 2,
                 " samples at each end, which needs more than ", c.n_fft / 2, " samples; got ", L);
    if (!c.center && L < c.n_fft)
      return cat("torchaudio mode with center=False needs at least n_fft = ", c.n_fft, " samples; got ", L);
    return "";
  }
  // torchaudio asserts win_length <= L in both framings. With snip_edges=False the signal is then mirrored (edge
  // sample repeated) by a full length at the right and win/2 - hop/2 < L at the left, which covers every frame.
  if (L < c.win_length)
    return cat("kaldi mode needs at least win_length = ", c.win_length, " samples (one whole frame, as torchaudio's ",
               "kaldi.fbank asserts); got ", L);
  return "";
}

std::vector<double> FbankTables::dense_mel() const {
  std::vector<double> fb(size_t(n_mels) * size_t(n_freq), 0.0);
  for (int m = 0; m < n_mels; ++m)
    for (int32_t j = mel_offset[size_t(m)]; j < mel_offset[size_t(m) + 1]; ++j)
      fb[size_t(m) * size_t(n_freq) + size_t(mel_first[size_t(m)] + j - mel_offset[size_t(m)])] =
          mel_weight[size_t(j)];
  return fb;
}

FbankTables fbank_tables(const FbankConfig& c) {
  FbankTables t;
  t.n_fft = c.n_fft;
  t.n_freq = c.n_fft / 2 + 1;
  t.n_mels = c.n_mels;
  t.win_length = c.win_length;
  // torch.stft centres a shorter window in the n_fft frame; Kaldi zero-pads frames on the right.
  t.win_offset = c.mode == FbankMode::torchaudio ? (c.n_fft - c.win_length) / 2 : 0;
  t.window = make_window(c);
  const std::vector<double> fb = make_mel(c);
  t.mel_offset.push_back(0);
  for (int m = 0; m < c.n_mels; ++m) {
    const double* row = fb.data() + size_t(m) * size_t(t.n_freq);
    int lo = 0, hi = t.n_freq - 1;
    while (lo < t.n_freq && row[lo] == 0.0) ++lo;
    while (hi >= lo && row[hi] == 0.0) --hi;
    t.mel_first.push_back(lo < t.n_freq ? lo : 0);
    for (int k = lo; k <= hi; ++k) t.mel_weight.push_back(row[k]);
    t.mel_offset.push_back(int32_t(t.mel_weight.size()));
  }
  return t;
}

FbankCudaPack fbank_cuda_pack(const FbankTables& t) {
  FbankCudaPack p;
  p.f.assign(t.window.begin(), t.window.end());
  p.f.insert(p.f.end(), t.mel_weight.begin(), t.mel_weight.end());
  p.i.assign(t.mel_first.begin(), t.mel_first.end());
  p.i.insert(p.i.end(), t.mel_offset.begin(), t.mel_offset.end());
  p.n_weights = int(t.mel_weight.size());
  return p;
}

}  // namespace spk
