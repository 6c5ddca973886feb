// MFCC tables and the double-precision CPU reference (mfcc.h). The reference runs the fbank CPU reference in double
// and follows torchaudio's order of operations: log-mel, dB and top_db (torchaudio), DCT (with the lifter folded
// into its rows, which is the same product as Kaldi's DCT-then-lifter), c0 := log energy (Kaldi use_energy), then
// the normalisation over time.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <sstream>

#include "kernels/common/check.h"
#include "kernels/fbank/mfcc.h"

namespace spk {

namespace {

using detail::cat;   // kernels/common/check.h

}  // namespace

std::string mfcc_config_error(const MfccConfig& c) {
  const std::string fb = fbank_config_error(c.fbank);
  if (!fb.empty()) return fb;
  if (!c.fbank.log) return "the log-mel stage must take the log (fbank.log = true): cepstra are the DCT of log energies";
  if (c.fbank.norm != FbankNorm::none)
    return "the log-mel stage must not normalise (fbank.norm = none); set the MFCC's own norm, applied to the cepstra";
  if (c.n_ceps < 1 || c.n_ceps > c.fbank.n_mels)
    return cat("n_ceps must be in [1, n_mels = ", c.fbank.n_mels, "], got ", c.n_ceps);
  if (!(c.top_db >= 0) || !std::isfinite(c.top_db)) return cat("top_db must be finite and >= 0, got ", c.top_db);
  if (c.top_db > 0 && !c.db) return "top_db clamps dB values: it needs db = true";
  if (!std::isfinite(c.lifter)) return cat("lifter must be finite, got ", c.lifter);
  if (c.use_energy && c.fbank.mode != FbankMode::kaldi)
    return "use_energy (c0 := log frame energy) exists only in kaldi mode";
  if (!(c.energy_floor >= 0)) return cat("energy_floor must be >= 0, got ", c.energy_floor);
  if (c.norm == FbankNorm::instance && !(c.norm_eps > 0)) return cat("instance norm needs norm_eps > 0, got ", c.norm_eps);
  return "";
}

std::vector<double> mfcc_dct_table(const MfccConfig& c) {
  const int K = c.n_ceps, M = c.fbank.n_mels;
  std::vector<double> d(size_t(K) * size_t(M));
  for (int k = 0; k < K; ++k) {
    const double scale = std::sqrt(2.0 / double(M)) * (k == 0 ? 1.0 / std::sqrt(2.0) : 1.0);
    const double lift = c.lifter != 0 ? 1.0 + 0.5 * c.lifter * std::sin(M_PI * double(k) / c.lifter) : 1.0;
    for (int m = 0; m < M; ++m)
      d[size_t(k) * size_t(M) + size_t(m)] = lift * scale * std::cos(M_PI / double(M) * (double(m) + 0.5) * double(k));
  }
  return d;
}

int64_t mfcc_frame_sample(const FbankConfig& fb, int64_t t, int64_t n, int64_t L) {
  if (fb.snip_edges) return t * fb.hop_length + n;
  const int64_t j = t * fb.hop_length + n - (fb.win_length / 2 - fb.hop_length / 2);
  return j < 0 ? -j - 1 : j >= L ? 2 * L - 1 - j : j;
}

void mfcc_log_energy_cpu(const MfccConfig& c, const double* wav, double* out, int64_t B, int64_t L) {
  const FbankConfig& fb = c.fbank;
  const int64_t Tn = fbank_num_frames(fb, L), W = fb.win_length;
  const std::vector<double> window = fbank_tables(fb).window;
  std::vector<double> frame(static_cast<size_t>(W));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tn; ++t) {
      double mean = 0;
      for (int64_t n = 0; n < W; ++n) {
        frame[size_t(n)] = wav[b * L + mfcc_frame_sample(fb, t, n, L)] * fb.input_scale;
        mean += frame[size_t(n)];
      }
      mean = fb.remove_dc_offset ? mean / double(W) : 0.0;
      double e = 0;
      for (int64_t n = 0; n < W; ++n) {
        double v = frame[size_t(n)] - mean;
        if (!c.raw_energy) {
          const double prev = frame[size_t(n > 0 ? n - 1 : 0)] - mean;
          v = (v - fb.preemph * prev) * window[size_t(n)];
        }
        e += v * v;
      }
      double le = std::log(std::max(e, double(FLT_EPSILON)));
      if (c.energy_floor > 0) le = std::max(le, std::log(c.energy_floor));
      out[b * Tn + t] = le;
    }
}

template <class T>
void mfcc_forward_cpu(const MfccConfig& c, const T* wav, T* out, int64_t B, int64_t L, int threads) {
  const int64_t Tn = fbank_num_frames(c.fbank, L), M = c.fbank.n_mels, K = c.n_ceps;
  std::vector<double> x(wav, wav + B * L), mel(size_t(B * M * Tn));
  fbank_forward_cpu<double>(c.fbank, x.data(), mel.data(), B, L, threads);
  std::vector<double> energy;
  if (c.use_energy) {
    energy.resize(size_t(B * Tn));
    mfcc_log_energy_cpu(c, x.data(), energy.data(), B, L);
  }
  const std::vector<double> dct = mfcc_dct_table(c);
  std::vector<double> ceps(size_t(K * Tn));
  for (int64_t b = 0; b < B; ++b) {
    double* mb = mel.data() + b * M * Tn;
    if (c.db) {
      for (int64_t i = 0; i < M * Tn; ++i) mb[i] *= 10.0 / std::log(10.0);
      if (c.top_db > 0) {
        const double floor = *std::max_element(mb, mb + M * Tn) - c.top_db;
        for (int64_t i = 0; i < M * Tn; ++i) mb[i] = std::max(mb[i], floor);
      }
    }
    for (int64_t k = 0; k < K; ++k)
      for (int64_t t = 0; t < Tn; ++t) {
        double s = 0;
        for (int64_t m = 0; m < M; ++m) s += dct[size_t(k * M + m)] * mb[m * Tn + t];
        ceps[size_t(k * Tn + t)] = c.use_energy && k == 0 ? energy[size_t(b * Tn + t)] : s;
      }
    for (int64_t k = 0; k < K; ++k) {
      double* r = ceps.data() + k * Tn;
      normalise_over_time(r, Tn, c.norm, c.norm_eps);
      for (int64_t t = 0; t < Tn; ++t) out[(b * K + k) * Tn + t] = T(r[t]);
    }
  }
}

template void mfcc_forward_cpu<float>(const MfccConfig&, const float*, float*, int64_t, int64_t, int);
template void mfcc_forward_cpu<double>(const MfccConfig&, const double*, double*, int64_t, int64_t, int);

}  // namespace spk
