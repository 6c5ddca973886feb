// The fast CPU log-mel front end (fbank.h: fbank_forward_cpu_fast). The reference (fbank_cpu.cpp) runs one frame
// at a time in double through std::complex with recomputed twiddles: ~30 us a frame. Here everything is f32 and
// works on kLanes = 16 consecutive frames of one utterance at once, stored lane-minor ([position][lane]), so every
// inner loop runs over the 16 lanes with no data-dependent indexing and compiles to a few full-width vector
// instructions (one AVX-512 register per row; the hot function is also built for AVX2 and baseline x86-64 and
// picked at load time, as the library is built without -march=native).
//
// Per block of 16 frames:
//   1. gather the window samples of each frame from the utterance's padded signal (fbank_signal), Kaldi's DC
//      removal and per-frame pre-emphasis, the window;
//   2. the real n_fft-point FFT as an N = n_fft/2-point complex FFT of z[j] = r[2j] + i·r[2j+1] (the packing
//      engine/audio/fft_conv.cpp uses), iterative radix-2 with per-stage contiguous twiddles computed once in
//      double; then untangled into the n_fft/2 + 1 bins' power |X[k]|²;
//   3. the triangular mel filters as sparse dot products (each bin feeds at most two filters: ~2·n_freq
//      multiply-adds a frame, where a dense (n_mels x n_freq) sgemm would do 40-80x that), offset, floor, log
//      (a polynomial log: libm's logf does not vectorise);
// then, per (utterance, mel) row, the normalisation over time, accumulated in double as in the reference.
// Units of work (blocks, rows) write disjoint outputs in a fixed order: the bits do not depend on the threads.
#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/fbank/fbank.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SPK_FBANK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SPK_FBANK_CLONES
#endif

namespace spk {

namespace {

constexpr int kLanes = 16;

// Everything a block needs that depends only on the config, built once per call.
struct FastPlan {
  int n_fft = 0, N = 0, n_freq = 0, win = 0, win_offset = 0, hop = 0, n_mels = 0;
  bool kaldi = false, remove_dc = false, log = true;
  float preemph_frame = 0, energy_offset = 0, energy_floor = 0;
  std::vector<float> window;               // (win)
  std::vector<int32_t> rev;                // bit reversal over N
  std::vector<float> twr, twi;             // stage of half-size h at offset h - 1: exp(-2πi k / 2h), k < h
  std::vector<float> ur, ui;               // exp(-2πi k / n_fft), k = 0..N: the untangling twiddles
  std::vector<int32_t> mel_first, mel_offset;
  std::vector<float> mel_weight;
};

FastPlan make_plan(const FbankConfig& c) {
  const FbankTables tb = fbank_tables(c);
  FastPlan p;
  p.n_fft = c.n_fft;
  p.N = c.n_fft / 2;
  p.n_freq = tb.n_freq;
  p.win = tb.win_length;
  p.win_offset = tb.win_offset;
  p.hop = c.hop_length;
  p.n_mels = c.n_mels;
  p.kaldi = c.mode == FbankMode::kaldi;
  p.remove_dc = p.kaldi && c.remove_dc_offset;
  p.preemph_frame = p.kaldi ? float(c.preemph) : 0.f;
  p.log = c.log;
  p.energy_offset = float(c.energy_offset);
  p.energy_floor = float(c.energy_floor);
  p.window.assign(tb.window.begin(), tb.window.end());
  const int N = p.N;
  p.rev.resize(size_t(N));
  for (int i = 0, j = 0; i < N; ++i) {
    p.rev[size_t(i)] = j;
    int bit = N >> 1;
    for (; bit && (j & bit); bit >>= 1) j ^= bit;
    j |= bit;
  }
  p.twr.resize(size_t(std::max(N - 1, 1)));
  p.twi.resize(p.twr.size());
  for (int h = 1; h < N; h <<= 1)
    for (int k = 0; k < h; ++k) {
      p.twr[size_t(h - 1 + k)] = float(std::cos(M_PI * k / h));
      p.twi[size_t(h - 1 + k)] = float(-std::sin(M_PI * k / h));
    }
  p.ur.resize(size_t(N + 1));
  p.ui.resize(size_t(N + 1));
  for (int k = 0; k <= N; ++k) {
    p.ur[size_t(k)] = float(std::cos(2 * M_PI * k / p.n_fft));
    p.ui[size_t(k)] = float(-std::sin(2 * M_PI * k / p.n_fft));
  }
  p.mel_first = tb.mel_first;
  p.mel_offset = tb.mel_offset;
  p.mel_weight.assign(tb.mel_weight.begin(), tb.mel_weight.end());
  return p;
}

// Natural log of x > 0 (normal): x = m·2^e with m in [√½, √2), ln m = 2·atanh(s), s = (m-1)/(m+1), |s| < 0.172,
// by its odd series to s^9 (next term < 1e-9 relative). Branch-free, so the lane loops vectorise; zero,
// subnormal and non-finite inputs are redone with std::log by the caller.
inline float poly_log(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  int e = int((bits >> 23) & 0xff) - 127;
  float m = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f800000u);   // [1, 2)
  const bool high = m > 1.41421356f;
  m = high ? 0.5f * m : m;
  e += high ? 1 : 0;
  const float s = (m - 1.f) / (m + 1.f), s2 = s * s;
  const float series = 2.f + s2 * (2.f / 3 + s2 * (2.f / 5 + s2 * (2.f / 7 + s2 * (2.f / 9))));
  return s * series + float(e) * 0.693147180559945f;
}

struct Scratch {
  std::vector<float> raw, re, im, power, mel;
};

// Log-mel energies of frames t0 .. t0+15 of one utterance (lanes past T repeat frame T-1 and are not written)
// into out_rows (n_mels rows of T floats). sig is the utterance's fbank_signal.
SPK_FBANK_CLONES
void block_log_mel(const FastPlan& p, const float* sig, int64_t T, int64_t t0, float* out_rows, Scratch& s) {
  constexpr int V = kLanes;
  const int N = p.N, W = p.win;
  s.raw.resize(size_t(W * V));
  s.re.resize(size_t(N * V));
  s.im.resize(size_t(N * V));
  s.power.resize(size_t((N + 1) * V));
  s.mel.resize(size_t(V));
  float* __restrict raw = s.raw.data();
  float* __restrict re = s.re.data();
  float* __restrict im = s.im.data();
  float* __restrict pw = s.power.data();

  // 1. Window samples, [n][lane]: one gather per n (lane f at offset off[f]); spare lanes of a partial last
  //    block repeat frame T-1.
  int32_t off[V];
  for (int f = 0; f < V; ++f) off[f] = int32_t((std::min<int64_t>(t0 + f, T - 1) - t0) * p.hop);
  const float* src = sig + t0 * p.hop + p.win_offset;
  for (int n = 0; n < W; ++n)
#pragma GCC ivdep
    for (int f = 0; f < V; ++f) raw[n * V + f] = src[off[f] + n];
  if (p.kaldi) {   // DC removal, pre-emphasis with the first sample using itself (fbank.h)
    double mean[V] = {};
    for (int n = 0; n < W; ++n)
      for (int f = 0; f < V; ++f) mean[f] += raw[n * V + f];
    float meanf[V];
    for (int f = 0; f < V; ++f) meanf[f] = p.remove_dc ? float(mean[f] / W) : 0.f;
    for (int n = W - 1; n >= 0; --n) {
      const int prev = n > 0 ? n - 1 : 0;
      #pragma GCC ivdep
      for (int f = 0; f < V; ++f)
        raw[n * V + f] = (raw[n * V + f] - meanf[f]) - p.preemph_frame * (raw[prev * V + f] - meanf[f]);
    }
  }
  // Windowed frame position q = win_offset + n; z[j] = r[2j] + i·r[2j+1] scattered to bit-reversed order.
  for (int j = 0; j < N; ++j) {
    float* __restrict zr = re + p.rev[size_t(j)] * V;
    float* __restrict zi = im + p.rev[size_t(j)] * V;
    const int n0 = 2 * j - p.win_offset, n1 = n0 + 1;
    const float w0 = n0 >= 0 && n0 < W ? p.window[size_t(n0)] : 0.f;
    const float w1 = n1 >= 0 && n1 < W ? p.window[size_t(n1)] : 0.f;
    const float* r0 = raw + std::clamp(n0, 0, W - 1) * V;
    const float* r1 = raw + std::clamp(n1, 0, W - 1) * V;
    #pragma GCC ivdep
    for (int f = 0; f < V; ++f) {
      zr[f] = w0 * r0[f];
      zi[f] = w1 * r1[f];
    }
  }

  // 2. Radix-2 stages, then the untangling: X[k] = Fe + W^k·Fo, Fe = (Z[k] + conj Z[N-k]) / 2,
  //    Fo = (Z[k] - conj Z[N-k]) / 2i (indices mod N).
  for (int h = 1; h < N; h <<= 1)
    for (int i = 0; i < N; i += 2 * h)
      for (int k = 0; k < h; ++k) {
        const float wr = p.twr[size_t(h - 1 + k)], wi = p.twi[size_t(h - 1 + k)];
        float* __restrict ar = re + (i + k) * V;
        float* __restrict ai = im + (i + k) * V;
        float* __restrict br = re + (i + k + h) * V;
        float* __restrict bi = im + (i + k + h) * V;
        #pragma GCC ivdep
        for (int f = 0; f < V; ++f) {
          const float tr = br[f] * wr - bi[f] * wi, ti = br[f] * wi + bi[f] * wr;
          const float xr = ar[f], xi = ai[f];
          ar[f] = xr + tr;
          ai[f] = xi + ti;
          br[f] = xr - tr;
          bi[f] = xi - ti;
        }
      }
  for (int k = 0; k <= N; ++k) {
    const float* za_r = re + (k % N) * V;
    const float* za_i = im + (k % N) * V;
    const float* zb_r = re + ((N - k) % N) * V;
    const float* zb_i = im + ((N - k) % N) * V;
    const float wr = p.ur[size_t(k)], wi = p.ui[size_t(k)];
    #pragma GCC ivdep
    for (int f = 0; f < V; ++f) {
      const float er = 0.5f * (za_r[f] + zb_r[f]), ei = 0.5f * (za_i[f] - zb_i[f]);
      const float o_r = 0.5f * (za_i[f] + zb_i[f]), o_i = -0.5f * (za_r[f] - zb_r[f]);
      const float xr = er + wr * o_r - wi * o_i, xi = ei + wr * o_i + wi * o_r;
      pw[k * V + f] = xr * xr + xi * xi;
    }
  }

  // 3. Mel filters, offset, floor, log; written to the rows of the frames that exist.
  const int valid = int(std::min<int64_t>(V, T - t0));
  float* __restrict e = s.mel.data();
  for (int m = 0; m < p.n_mels; ++m) {
    for (int f = 0; f < V; ++f) e[f] = 0.f;
    const int32_t first = p.mel_first[size_t(m)], lo = p.mel_offset[size_t(m)], hi = p.mel_offset[size_t(m) + 1];
    for (int32_t j = lo; j < hi; ++j) {
      const float w = p.mel_weight[size_t(j)];
      const float* row = pw + (first + j - lo) * V;
      #pragma GCC ivdep
      for (int f = 0; f < V; ++f) e[f] += w * row[f];
    }
    for (int f = 0; f < V; ++f) e[f] += p.energy_offset;
    if (p.log) {
      bool odd = false;
      for (int f = 0; f < V; ++f) {
        e[f] = std::max(e[f], p.energy_floor);
        odd |= !(e[f] >= FLT_MIN && e[f] <= FLT_MAX);
      }
      float lg[V];
      for (int f = 0; f < V; ++f) lg[f] = poly_log(e[f]);
      if (odd)
        for (int f = 0; f < V; ++f)
          if (!(e[f] >= FLT_MIN && e[f] <= FLT_MAX)) lg[f] = std::log(e[f]);
      for (int f = 0; f < V; ++f) e[f] = lg[f];
    }
    float* dst = out_rows + int64_t(m) * T + t0;
    for (int f = 0; f < valid; ++f) dst[f] = e[f];
  }
}

// In place over one row of T values, the reference's normalise_over_time with double sums.
void normalise_row(float* r, int64_t T, FbankNorm norm, double eps) {
  if (norm == FbankNorm::none) return;
  double mean = 0, var = 0;
  for (int64_t t = 0; t < T; ++t) mean += r[t];
  mean /= double(T);
  for (int64_t t = 0; t < T; ++t) var += (r[t] - mean) * (r[t] - mean);
  var /= double(T);
  const double inv = norm == FbankNorm::instance ? 1.0 / std::sqrt(var + eps) : 1.0;
  for (int64_t t = 0; t < T; ++t) r[t] = float((r[t] - mean) * inv);
}

}  // namespace

void fbank_forward_cpu_fast(const FbankConfig& c, const float* wav, float* out, int64_t B, int64_t L, int threads) {
  const FastPlan plan = make_plan(c);
  const int64_t T = fbank_num_frames(c, L), M = c.n_mels;
  std::vector<std::vector<float>> sig(static_cast<size_t>(B));
  const float scale = float(c.input_scale);
  parallel_units(B, threads, [&](int64_t b) {
    if (scale == 1.f) {   // the common case: no scaled copy
      sig[size_t(b)] = fbank_signal(c, wav + b * L, L);
      return;
    }
    std::vector<float> x(wav + b * L, wav + (b + 1) * L);
    for (float& v : x) v *= scale;
    sig[size_t(b)] = fbank_signal(c, x.data(), L);
  });
  const int64_t blocks = (T + kLanes - 1) / kLanes;
  // Several blocks per unit amortise the scratch; units stay many enough for every thread.
  const int64_t per_unit = std::max<int64_t>(1, std::min<int64_t>(8, B * blocks / (4 * std::max(threads, 1))));
  const int64_t units_per_utt = (blocks + per_unit - 1) / per_unit;
  parallel_units(B * units_per_utt, threads, [&](int64_t u) {
    thread_local Scratch s;
    const int64_t b = u / units_per_utt, k0 = (u % units_per_utt) * per_unit;
    for (int64_t k = k0; k < std::min(blocks, k0 + per_unit); ++k)
      block_log_mel(plan, sig[size_t(b)].data(), T, k * kLanes, out + b * M * T, s);
  });
  if (c.norm != FbankNorm::none)
    parallel_units(B, threads, [&](int64_t b) {
      for (int64_t m = 0; m < M; ++m) normalise_row(out + (b * M + m) * T, T, c.norm, c.norm_eps);
    });
}

}  // namespace spk
