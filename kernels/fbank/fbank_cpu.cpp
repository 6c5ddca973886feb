// CPU reference of the log-mel front end (the spec the CUDA kernel is checked against). It follows torchaudio's
// order of operations literally: build the (pre-emphasised, padded) signal, cut frames, window, FFT, power,
// filterbank, log, then normalise over time. Everything inside runs in double; T only sets the I/O type.
// Threads: the kernels' work pool (kernels/common/work_pool.h), never OpenMP, whose spinning threads would
// hold the cores the convs after it want. Each stage splits into independent units (an utterance, a block
// of frame pairs, a block of rows) that write disjoint outputs, so the bits do not depend on the threads.
#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/fbank/fbank.h"
#include "kernels/fft/fft.h"

namespace spk {

namespace {

// The signal torchaudio's stft slides over, for one utterance: scale, optional whole-signal pre-emphasis
// (reflect pad of one sample => y[0] = x[0] - c·x[1]), then the center=True reflect pad of n_fft/2 (no edge
// repeat: x[-1] = x[1]). Frame t is then padded[t·hop + p], p < n_fft.
template <class T>
std::vector<T> torchaudio_signal(const FbankConfig& c, const T* x, int64_t L) {
  std::vector<T> y(x, x + L);
  const T pre = T(c.preemph);
  if (c.preemph > 0) {
    y[0] = x[0] - pre * x[1];
    for (int64_t n = 1; n < L; ++n) y[size_t(n)] = x[n] - pre * x[n - 1];
  }
  if (!c.center) return y;
  const int64_t pad = c.n_fft / 2;
  std::vector<T> p(size_t(L + 2 * pad));
  for (int64_t i = 0; i < L + 2 * pad; ++i) {
    int64_t j = i - pad;
    if (j < 0) j = -j;
    if (j >= L) j = 2 * (L - 1) - j;
    p[size_t(i)] = y[size_t(j)];
  }
  return p;
}

// The signal Kaldi's framing slides over: as is (snip_edges), or mirrored with the edge sample repeated
// ([x2 x1 x0 | x0 x1 ... | xL-1 xL-2 ...]) with pad = win/2 - hop/2 samples on the left. Frame t is
// signal[t·hop + n], n < win_length (shifted by |pad| when pad < 0, as torchaudio trims the front).
template <class T>
std::vector<T> kaldi_signal(const FbankConfig& c, const T* x, int64_t L) {
  if (c.snip_edges) return std::vector<T>(x, x + L);
  const int64_t pad = c.win_length / 2 - c.hop_length / 2;
  std::vector<T> p;
  if (pad > 0)
    for (int64_t i = pad - 1; i >= 0; --i) p.push_back(x[i]);
  for (int64_t i = std::max<int64_t>(0, -pad); i < L; ++i) p.push_back(x[i]);
  for (int64_t i = L - 1; i >= 0; --i) p.push_back(x[i]);
  return p;
}

// One frame -> n_fft real samples ready for the FFT (window applied, zero padding in place).
void build_frame(const FbankConfig& c, const FbankTables& tb, const std::vector<double>& sig, int64_t t,
                 std::vector<double>& frame) {
  std::fill(frame.begin(), frame.end(), 0.0);
  const int64_t start = t * c.hop_length;
  if (c.mode == FbankMode::torchaudio) {
    for (int n = 0; n < tb.win_length; ++n)
      frame[size_t(tb.win_offset + n)] = sig[size_t(start + tb.win_offset + n)] * tb.window[size_t(n)];
    return;
  }
  // Kaldi: DC offset removal, then pre-emphasis inside the frame (replicate pad: the first sample uses itself).
  std::vector<double> raw(sig.begin() + start, sig.begin() + start + tb.win_length);
  if (c.remove_dc_offset) {
    double mean = 0;
    for (double v : raw) mean += v;
    mean /= double(raw.size());
    for (double& v : raw) v -= mean;
  }
  for (int n = 0; n < tb.win_length; ++n) {
    const double prev = raw[size_t(n > 0 ? n - 1 : 0)];
    frame[size_t(n)] = (raw[size_t(n)] - c.preemph * prev) * tb.window[size_t(n)];
  }
}

// fn(lo, hi) over [0, n) cut into a few blocks per thread (blocks amortise the per-block scratch; several per
// thread let one thread finish the work when another is descheduled).
template <class F>
void for_blocks(int64_t n, int threads, F&& fn) {
  const int64_t blocks = std::min<int64_t>(n, threads > 1 ? 4 * int64_t(threads) : 1);
  parallel_units(blocks, threads, [&](int64_t b) { fn(b * n / blocks, (b + 1) * n / blocks); });
}

double log_energy(const FbankConfig& c, double e) {
  e += c.energy_offset;
  return c.log ? std::log(std::max(e, c.energy_floor)) : e;
}

}  // namespace

template <class T>
std::vector<T> fbank_signal(const FbankConfig& c, const T* x, int64_t L) {
  return c.mode == FbankMode::torchaudio ? torchaudio_signal(c, x, L) : kaldi_signal(c, x, L);
}
template std::vector<float> fbank_signal<float>(const FbankConfig&, const float*, int64_t);
template std::vector<double> fbank_signal<double>(const FbankConfig&, const double*, int64_t);

void normalise_over_time(double* r, int64_t Tn, FbankNorm norm, double eps) {
  if (norm == FbankNorm::none || Tn <= 0) return;
  double mean = 0, var = 0;
  for (int64_t t = 0; t < Tn; ++t) mean += r[t];
  mean /= double(Tn);
  for (int64_t t = 0; t < Tn; ++t) var += (r[t] - mean) * (r[t] - mean);
  var /= double(Tn);
  const double inv = norm == FbankNorm::instance ? 1.0 / std::sqrt(var + eps) : 1.0;
  for (int64_t t = 0; t < Tn; ++t) r[t] = (r[t] - mean) * inv;
}

template <class T>
void fbank_forward_cpu(const FbankConfig& c, const T* wav, T* out, int64_t B, int64_t L, int threads) {
  const FbankTables tb = fbank_tables(c);
  const int64_t Tn = fbank_num_frames(c, L);
  const int M = c.n_mels;

  std::vector<std::vector<double>> sig(static_cast<size_t>(B));
  parallel_units(B, threads, [&](int64_t b) {
    std::vector<double> x(static_cast<size_t>(L));
    for (int64_t i = 0; i < L; ++i) x[size_t(i)] = double(wav[b * L + i]) * c.input_scale;
    sig[size_t(b)] = fbank_signal(c, x.data(), L);
  });

  // Log-mel energies in double, (B, n_mels, T); rounded to T only after normalisation, so a band with a small
  // spread over time does not amplify the rounding of its values.
  std::vector<double> feat(static_cast<size_t>(B * M * Tn));
  // Frames go through the FFT in pairs: one complex FFT of a + i·b gives both real spectra,
  // A[k] = (Z[k] + conj Z[n-k]) / 2 and B[k] = (Z[k] - conj Z[n-k]) / 2i, at half the cost of two transforms.
  const int64_t n_frames = B * Tn, n = c.n_fft;
  for_blocks((n_frames + 1) / 2, threads, [&](int64_t pair_lo, int64_t pair_hi) {
    std::vector<double> frame_a(static_cast<size_t>(n)), frame_b(static_cast<size_t>(n));
    std::vector<double> power_a(size_t(tb.n_freq)), power_b(size_t(tb.n_freq));
    std::vector<std::complex<double>> spec(static_cast<size_t>(n));
    auto mel_log = [&](const std::vector<double>& power, int64_t bt) {
      const int64_t b = bt / Tn, t = bt % Tn;
      for (int m = 0; m < M; ++m) {
        double e = 0;
        for (int32_t j = tb.mel_offset[size_t(m)]; j < tb.mel_offset[size_t(m) + 1]; ++j)
          e += tb.mel_weight[size_t(j)] * power[size_t(tb.mel_first[size_t(m)] + j - tb.mel_offset[size_t(m)])];
        feat[size_t((b * M + m) * Tn + t)] = log_energy(c, e);
      }
    };
    for (int64_t pair = pair_lo; pair < pair_hi; ++pair) {
      const int64_t ba = 2 * pair, bb = 2 * pair + 1;   // global frame indices b·T + t
      build_frame(c, tb, sig[size_t(ba / Tn)], ba % Tn, frame_a);
      if (bb < n_frames)
        build_frame(c, tb, sig[size_t(bb / Tn)], bb % Tn, frame_b);
      else
        std::fill(frame_b.begin(), frame_b.end(), 0.0);
      for (int64_t p = 0; p < n; ++p) spec[size_t(p)] = {frame_a[size_t(p)], frame_b[size_t(p)]};
      fft_inplace_cpu(spec.data(), n, false);
      for (int64_t k = 0; k < tb.n_freq; ++k) {
        const std::complex<double> z = spec[size_t(k)], zc = std::conj(spec[size_t((n - k) % n)]);
        power_a[size_t(k)] = std::norm(0.5 * (z + zc));
        power_b[size_t(k)] = std::norm(0.5 * (z - zc));   // |(z - zc) / 2i|² = |(z - zc) / 2|²
      }
      mel_log(power_a, ba);
      if (bb < n_frames) mel_log(power_b, bb);
    }
  });

  // Normalisation per (utterance, mel bin) over time: mean subtraction, or InstanceNorm1d's
  // (x - mean) / sqrt(biased var + eps).
  auto normalise_row = [&](int64_t row) {
    double* r = feat.data() + row * Tn;
    normalise_over_time(r, Tn, c.norm, c.norm_eps);
    for (int64_t t = 0; t < Tn; ++t) out[row * Tn + t] = T(r[t]);
  };
  for_blocks(B * M, threads, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) normalise_row(row);
  });
}

template void fbank_forward_cpu<float>(const FbankConfig&, const float*, float*, int64_t, int64_t, int);
template void fbank_forward_cpu<double>(const FbankConfig&, const double*, double*, int64_t, int64_t, int);

}  // namespace spk
