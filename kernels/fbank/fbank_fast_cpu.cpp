// The fast CPU log-mel front end (fbank.h: fbank_forward_cpu_fast). The reference (fbank_cpu.cpp) runs one frame
// at a time in double through std::complex with recomputed twiddles: ~30 us a frame. Here everything is f32 and
// works on VL consecutive frames of one utterance at once (16 with AVX-512, 8 with AVX2, 4 with SSE), stored
// lane-minor ([position][lane]): every inner loop is one VL-float vector operation (GCC vector extensions: one
// register) with no data-dependent indexing. The body (fbank_fast_kernel.inc) is compiled three times, for AVX-512, AVX2+FMA and
// baseline x86-64, and picked at run time (the library is built without -march=native).
//
// Per utterance: its padded signal (fbank_signal) transposed into hop-sample columns, ST[c][r] = sig[r·hop + c],
// so that window sample n of VL consecutive frames is VL consecutive floats (no gather; each sample is transposed
// once, not win/hop times). Per block of VL frames:
//   1. Kaldi's DC removal and per-frame pre-emphasis; the window, packed as z[j] = y[2j] + i·y[2j+1];
//   2. the real n_fft-point FFT as the N = n_fft/2-point complex FFT of z: radix-4 decimation-in-frequency stages
//      (a radix-2 one last when log2 N is odd) with per-stage contiguous twiddles computed once in double, the
//      result left in bit-reversed order; then untangled (reading the bit-reversed places) into |X[k]|², k <= N;
//   3. the triangular mel filters as sparse dot products (each bin feeds at most two filters: ~2·n_freq
//      multiply-adds a frame, where a dense (n_mels x n_freq) sgemm would do 40-80x that), offset, floor, log
//      (a polynomial log: libm's logf does not vectorise);
// then, per (utterance, mel) row, the normalisation over time, accumulated in double as in the reference.
// Units of work (utterances, blocks, rows) write disjoint outputs in a fixed order: the bits do not depend on the
// threads (they do on the instruction set: FMA contraction).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/fbank/fbank.h"

namespace spk {

namespace {

// The config's tables as the kernel reads them (raw pointers into PlanStore and its PlanTables).
struct FastPlan {
  int N = 0, win = 0, n_mels = 0;
  bool kaldi = false, remove_dc = false, log = true;
  float preemph = 0, energy_offset = 0, energy_floor = 0;
  const int32_t* sig_off = nullptr;    // (win) window sample n of the block's first frame, relative to ST + t0
  const int32_t* zoff_sig = nullptr;   // (n_fft) frame position -> offset in ST + t0 (torchaudio mode)
  const int32_t* zoff_raw = nullptr;   // (n_fft) frame position -> offset in the block's raw buffer (kaldi mode)
  const float* zw = nullptr;           // (n_fft) window weight of each frame position, 0 outside the window
  const float* tw4 = nullptr;          // radix-4 stages: per stage of quarter q, q x (W^k, W^2k, W^3k) re/im
  const int32_t* rev = nullptr;        // (N) bit reversal
  const float *ur = nullptr, *ui = nullptr;   // exp(-2πi k / n_fft), k <= N/2
  const int32_t *mel_first = nullptr, *mel_offset = nullptr;
  const float* mel_weight = nullptr;   // the filters' weights / 4 (the untangling yields 4·|X|²)
};

// The tables that depend only on the config's spectral fields and the lane count, built once per such config
// (the cos/sin and fbank_tables' mel maths cost ~3 % of a 16-crop call) and kept in a small cache.
struct PlanTables {
  int N = 0, W = 0, wo = 0;
  std::vector<int32_t> zoff_raw, rev, mel_first, mel_offset;
  std::vector<float> zw, tw4, ur, ui, mel_weight;
};

std::shared_ptr<const PlanTables> build_tables(const FbankConfig& c, int lanes) {
  const FbankTables tb = fbank_tables(c);
  auto t = std::make_shared<PlanTables>();
  const int N = c.n_fft / 2, W = tb.win_length, wo = tb.win_offset;
  t->N = N;
  t->W = W;
  t->wo = wo;
  t->zoff_raw.assign(size_t(c.n_fft), 0);
  t->zw.assign(size_t(c.n_fft), 0.f);
  for (int pos = 0; pos < c.n_fft; ++pos) {
    const int n = pos - wo;
    if (n < 0 || n >= W) continue;
    t->zoff_raw[size_t(pos)] = n * lanes;
    t->zw[size_t(pos)] = float(tb.window[size_t(n)]);
  }
  for (int s = N; s >= 4; s /= 4)
    for (int k = 0; k < s / 4; ++k)
      for (int m = 1; m <= 3; ++m) {
        t->tw4.push_back(float(std::cos(2 * M_PI * m * k / s)));
        t->tw4.push_back(float(-std::sin(2 * M_PI * m * k / s)));
      }
  t->tw4.resize(t->tw4.size() + 6);   // never empty
  t->rev.resize(size_t(N));
  for (int i = 0, j = 0; i < N; ++i) {
    t->rev[size_t(i)] = j;
    int bit = N >> 1;
    for (; bit && (j & bit); bit >>= 1) j ^= bit;
    j |= bit;
  }
  t->ur.resize(size_t(N / 2 + 1));
  t->ui.resize(size_t(N / 2 + 1));
  for (int k = 0; k <= N / 2; ++k) {
    t->ur[size_t(k)] = float(std::cos(2 * M_PI * k / c.n_fft));
    t->ui[size_t(k)] = float(-std::sin(2 * M_PI * k / c.n_fft));
  }
  t->mel_first = tb.mel_first;
  t->mel_offset = tb.mel_offset;
  for (double w : tb.mel_weight) t->mel_weight.push_back(float(w * 0.25));
  t->mel_weight.push_back(0.f);   // never empty
  return t;
}

// fbank_tables reads mode, sample_rate, n_fft, win_length, window, n_mels, f_min, f_max.
std::shared_ptr<const PlanTables> cached_tables(const FbankConfig& c, int lanes) {
  struct Entry {
    FbankConfig c;
    int lanes;
    std::shared_ptr<const PlanTables> t;
  };
  static std::mutex mu;
  static std::vector<Entry> cache;   // most recent last
  auto same = [&](const Entry& e) {
    return e.lanes == lanes && e.c.mode == c.mode && e.c.sample_rate == c.sample_rate && e.c.n_fft == c.n_fft &&
           e.c.win_length == c.win_length && e.c.window == c.window && e.c.n_mels == c.n_mels &&
           e.c.f_min == c.f_min && e.c.f_max == c.f_max;
  };
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const Entry& e : cache)
      if (same(e)) return e.t;
  }
  std::shared_ptr<const PlanTables> t = build_tables(c, lanes);
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= 8) cache.erase(cache.begin());
  cache.push_back({c, lanes, t});
  return t;
}

struct PlanStore {
  FastPlan p;
  std::shared_ptr<const PlanTables> t;
  int hop = 0;
  int64_t Rp = 0;   // ST's row stride (frames' start rows, padded)
  std::vector<int32_t> sig_off, zoff_sig;
};

void make_plan(const FbankConfig& c, int64_t T, int64_t Ls, int lanes, PlanStore& ps) {
  ps.t = cached_tables(c, lanes);
  const PlanTables& t = *ps.t;
  FastPlan& p = ps.p;
  const int N = t.N, W = t.W, hop = c.hop_length, wo = t.wo;
  p.N = N;
  p.win = W;
  p.n_mels = c.n_mels;
  p.kaldi = c.mode == FbankMode::kaldi;
  p.remove_dc = p.kaldi && c.remove_dc_offset;
  p.preemph = p.kaldi ? float(c.preemph) : 0.f;
  p.log = c.log;
  p.energy_offset = float(c.energy_offset);
  p.energy_floor = float(c.energy_floor);
  ps.hop = hop;
  // ST rows: every sample of the signal, and every row a lane of the last block reads (lanes past T read zeros;
  // 16-frame blocks bound the blocks of any lane count).
  const int64_t blocks = (T + 15) / 16, q_max = (wo + W - 1) / hop;
  ps.Rp = (std::max((Ls + hop - 1) / hop, blocks * 16 + q_max + 1) + 15) / 16 * 16;
  ps.sig_off.resize(size_t(W));
  for (int n = 0; n < W; ++n) ps.sig_off[size_t(n)] = int32_t((wo + n) % hop * ps.Rp + (wo + n) / hop);
  ps.zoff_sig.assign(size_t(c.n_fft), 0);
  for (int pos = wo; pos < wo + W; ++pos) ps.zoff_sig[size_t(pos)] = ps.sig_off[size_t(pos - wo)];
  p.sig_off = ps.sig_off.data();
  p.zoff_sig = ps.zoff_sig.data();
  p.zoff_raw = t.zoff_raw.data();
  p.zw = t.zw.data();
  p.tw4 = t.tw4.data();
  p.rev = t.rev.data();
  p.ur = t.ur.data();
  p.ui = t.ui.data();
  p.mel_first = t.mel_first.data();
  p.mel_offset = t.mel_offset.data();
  p.mel_weight = t.mel_weight.data();
}

size_t fast_scratch_floats(const FastPlan& p, int lanes) {
  return size_t(lanes * (3 * p.N + 1 + std::max(p.win, p.n_mels)));
}

// The kernel's helpers pass vectors by value between functions of internal linkage, all inlined: no ABI to keep.
#pragma GCC diagnostic ignored "-Wpsabi"

// The kernel body once per instruction set. Headers are all included above, so only the .inc's own (static)
// functions get the wider targets.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SPK_FBANK_X86_ISAS 1
namespace isa_avx512 {
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi,bmi2,popcnt")
#define VL 16
typedef float vf __attribute__((vector_size(4 * VL)));
typedef int32_t vi __attribute__((vector_size(4 * VL)));
typedef float vfu __attribute__((vector_size(4 * VL), aligned(4)));   // for unaligned loads and stores
#include "kernels/fbank/fbank_fast_kernel.inc"
#undef VL
#pragma GCC pop_options
}  // namespace isa_avx512
namespace isa_avx2 {
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,popcnt")
#define VL 8
typedef float vf __attribute__((vector_size(4 * VL)));
typedef int32_t vi __attribute__((vector_size(4 * VL)));
typedef float vfu __attribute__((vector_size(4 * VL), aligned(4)));
#include "kernels/fbank/fbank_fast_kernel.inc"
#undef VL
#pragma GCC pop_options
}  // namespace isa_avx2
#endif
namespace isa_base {
#define VL 4
typedef float vf __attribute__((vector_size(4 * VL)));
typedef int32_t vi __attribute__((vector_size(4 * VL)));
typedef float vfu __attribute__((vector_size(4 * VL), aligned(4)));
#include "kernels/fbank/fbank_fast_kernel.inc"
#undef VL
}  // namespace isa_base

struct Kernels {
  int lanes;   // frames per block
  void (*transpose)(const float*, int64_t, int, int64_t, float*);
  void (*block)(const FastPlan&, const float*, int64_t, int64_t, int64_t, float*, float*);
  void (*normalise)(float*, int64_t, int64_t, bool, double);
  void (*scale_preemph)(const float*, int64_t, float, float, float*);
};

bool isa_supported(FbankFastIsa isa) {
  switch (isa) {
#ifdef SPK_FBANK_X86_ISAS
    case FbankFastIsa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    case FbankFastIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
#else
    case FbankFastIsa::avx512:
    case FbankFastIsa::avx2: return false;
#endif
    case FbankFastIsa::baseline:
    case FbankFastIsa::best: return true;
  }
  return false;
}

Kernels kernels_for(FbankFastIsa isa) {
  if (isa == FbankFastIsa::best)
    isa = isa_supported(FbankFastIsa::avx512) ? FbankFastIsa::avx512
          : isa_supported(FbankFastIsa::avx2) ? FbankFastIsa::avx2
                                              : FbankFastIsa::baseline;
#ifdef SPK_FBANK_X86_ISAS
  if (isa == FbankFastIsa::avx512) return {16, isa_avx512::transpose_signal, isa_avx512::block_log_mel, isa_avx512::normalise_rows,
            isa_avx512::scale_preemph};
  if (isa == FbankFastIsa::avx2) return {8, isa_avx2::transpose_signal, isa_avx2::block_log_mel, isa_avx2::normalise_rows,
            isa_avx2::scale_preemph};
#endif
  return {4, isa_base::transpose_signal, isa_base::block_log_mel, isa_base::normalise_rows,
          isa_base::scale_preemph};
}

// 64-byte aligned float storage, kept across calls (thread-local) so that calls do not page-fault fresh memory;
// release() frees it when it holds more than a long utterance's worth (16 MB: ~4 minutes at 16 kHz).
struct AlignedBuf {
  std::vector<float> v;
  float* get(size_t n) {
    if (v.size() < n + 16) v.resize(n + 16);
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t(63));
  }
  void release_if_large() {
    if (v.size() > (size_t(1) << 22)) std::vector<float>().swap(v);
  }
};

// Length of fbank_signal for L samples.
int64_t signal_length(const FbankConfig& c, int64_t L) {
  if (c.mode == FbankMode::torchaudio) return c.center ? L + c.n_fft / 2 * 2 : L;
  if (c.snip_edges) return L;
  const int64_t pad = c.win_length / 2 - c.hop_length / 2;
  return std::max<int64_t>(pad, 0) + (L - std::max<int64_t>(0, -pad)) + L;
}

// fbank_signal(input_scale · x) into out (signal_length floats), in one pass and without allocating (the
// utterance-sized vectors fbank_signal returns come from mmap: page faults on every call).
void build_signal(const Kernels& k, const FbankConfig& c, const float* x, int64_t L, float* out) {
  const float s = float(c.input_scale);
  if (c.mode == FbankMode::torchaudio) {
    const int64_t pad = c.center ? c.n_fft / 2 : 0;
    float* y = out + pad;
    const float pre = float(c.preemph);
    k.scale_preemph(x, L, s, pre, y);
    if (c.preemph > 0) y[0] = s * x[0] - pre * (s * x[1]);
    for (int64_t i = 0; i < pad; ++i) {   // reflect, no edge repeat: y[-i] = y[i], y[L-1+i] = y[L-1-i]
      out[pad - 1 - i] = y[i + 1];
      y[L + i] = y[L - 2 - i];
    }
    return;
  }
  if (c.snip_edges) {
    k.scale_preemph(x, L, s, 0.f, out);
    return;
  }
  const int64_t pad = c.win_length / 2 - c.hop_length / 2;
  int64_t o = 0;
  for (int64_t i = pad - 1; i >= 0; --i) out[o++] = s * x[i];
  for (int64_t i = std::max<int64_t>(0, -pad); i < L; ++i) out[o++] = s * x[i];
  for (int64_t i = L - 1; i >= 0; --i) out[o++] = s * x[i];
}

}  // namespace

bool fbank_fast_isa_supported(FbankFastIsa isa) { return isa_supported(isa); }

void fbank_forward_cpu_fast(const FbankConfig& c, const float* wav, float* out, int64_t B, int64_t L, int threads,
                            FbankFastIsa isa) {
  if (!isa_supported(isa)) isa = FbankFastIsa::best;
  const Kernels kern = kernels_for(isa);
  const int64_t T = fbank_num_frames(c, L), M = c.n_mels, Ls = signal_length(c, L);
  PlanStore ps;
  make_plan(c, T, Ls, kern.lanes, ps);
  const FastPlan& plan = ps.p;
  const int VL = kern.lanes;
  const int64_t st_floats = int64_t(ps.hop) * ps.Rp, blocks = (T + VL - 1) / VL;
  const size_t scratch_floats = fast_scratch_floats(plan, VL);
  const bool instance = c.norm == FbankNorm::instance;
  threads = std::max(threads, 1);
  // Thread-local buffers, kept across calls (an utterance's signal and transposed signal: ~0.1 MB for 2 s).
  struct Buffers {
    AlignedBuf sig, st, scratch;
  };
  if (B >= 2 * int64_t(threads) || threads == 1) {
    // One unit per utterance: signal, transpose, blocks, normalisation, with the transposed signal still in L2.
    parallel_units(B, threads, [&](int64_t b) {
      thread_local Buffers buf;
      float* sig = buf.sig.get(size_t(Ls));
      float* st = buf.st.get(size_t(st_floats));
      float* scratch = buf.scratch.get(scratch_floats);
      build_signal(kern, c, wav + b * L, L, sig);
      kern.transpose(sig, Ls, ps.hop, ps.Rp, st);
      for (int64_t k = 0; k < blocks; ++k) kern.block(plan, st, ps.Rp, T, k * VL, out + b * M * T, scratch);
      if (c.norm != FbankNorm::none) kern.normalise(out + b * M * T, M, T, instance, c.norm_eps);
      buf.sig.release_if_large();
      buf.st.release_if_large();
    });
    return;
  }
  // Few utterances for the threads: the blocks of each utterance are split over them too.
  thread_local AlignedBuf st_all;   // the utterances' transposed signals, st_floats apart (kept: no page faults)
  float* st_base = st_all.get(size_t(B * st_floats));
  parallel_units(B, threads, [&](int64_t b) {
    thread_local Buffers buf;
    float* sig = buf.sig.get(size_t(Ls));
    build_signal(kern, c, wav + b * L, L, sig);
    kern.transpose(sig, Ls, ps.hop, ps.Rp, st_base + b * st_floats);
    buf.sig.release_if_large();
  });
  // Several blocks per unit amortise the unit overhead; units stay many enough for every thread.
  const int64_t per_unit = std::max<int64_t>(1, std::min<int64_t>(8, B * blocks / (4 * threads)));
  const int64_t units_per_utt = (blocks + per_unit - 1) / per_unit;
  parallel_units(B * units_per_utt, threads, [&](int64_t u) {
    thread_local Buffers buf;
    float* scratch = buf.scratch.get(scratch_floats);
    const int64_t b = u / units_per_utt, k0 = (u % units_per_utt) * per_unit;
    for (int64_t k = k0; k < std::min(blocks, k0 + per_unit); ++k)
      kern.block(plan, st_base + b * st_floats, ps.Rp, T, k * VL, out + b * M * T, scratch);
  });
  st_all.release_if_large();
  if (c.norm != FbankNorm::none) {
    const int64_t rows_per_unit = std::max<int64_t>(1, (B * M + 4 * threads - 1) / (4 * threads));
    const int64_t units = (B * M + rows_per_unit - 1) / rows_per_unit;
    parallel_units(units, threads, [&](int64_t u) {
      const int64_t r0 = u * rows_per_unit, r1 = std::min(B * M, r0 + rows_per_unit);
      kern.normalise(out + r0 * T, r1 - r0, T, instance, c.norm_eps);
    });
  }
}

}  // namespace spk
