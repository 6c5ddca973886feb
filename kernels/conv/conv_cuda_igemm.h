// Implicit-GEMM convolution for the GPU: the index maps, the tile-loading maps and the launch plan shared by
// the CUDA kernel (kernels/conv/conv_cuda.cu) and its host-side emulation (tests/kernels/test_conv_cuda_host.cpp),
// so that every index computed on the GPU is also computed, and checked against the CPU conv, on a machine
// without one. Plain C++ (no CUDA headers): in nvcc the functions are __host__ __device__.
//
// Each pass of a conv, per group, is one GEMM  C (M, N) = A (M, K) · B (K, N)  whose operands are never
// materialised: the tile loaders compute each element from the conv tensors, 0 outside the matrix, the
// image or the padding. Taps t = (ci, kh, kw) and positions q = (img, oh, ow) are flat, in memory order.
//
//   pass             M        N                K                A (m, k)                    B (k, n)               C
//   forward          C_out_g  N·H_out·W_out    C_in_g·KH·KW     w[m, tap k]                 x seen by tap k at q=n  y (+ bias)
//   backward_data    C_in_g   N·H·W            C_out_g·KH·KW    w[co, m, kh, kw], k=(co,kh,kw) dy[img, co, oh, ow]   dx
//                                                                 where pixel n is read through (kh, kw) from (oh, ow), else 0
//   backward_weight  C_out_g  C_in_g·KH·KW     N·H_out·W_out    dy[img, m, p], k = (img, p)  x seen by tap n at q=k  dw
//
// backward_data gathers dy instead of scattering into dx, so every dx element is written once (=) by one
// thread; for stride s > 1 only 1 in s² of its B entries is non-zero (those taps are wasted work, accepted:
// strided convs are 3 of 36 in ResNetSE34L). backward_weight has a long K (every output position of the
// batch) and a small C, so it is split over K into `splits` slices whose partial products go to a workspace
// and are summed in a fixed order by a second kernel (deterministic; no atomics).
//
// Tiles: a block of NT = 256 threads (8 warps) computes a BM × BN tile of C, stepping through K in slices of
// BK = 16 held in shared memory (double-buffered, the next slice loaded into registers while the current one
// is multiplied). Each warp owns a WM × WN sub-tile of 16 × 16 TF32 wmma fragments. A is loaded with
// consecutive threads on consecutive k (weights and dy are contiguous along k); B with consecutive threads
// on consecutive n for forward and backward_data (neighbouring output positions read neighbouring pixels)
// and on consecutive k for backward_weight (where k runs over positions).
//
// 32-bit indexing inside an image: make_geom checks that every per-image or per-weight offset and every GEMM
// size fits; image bases are 64-bit.
#pragma once
#include <cstdint>

#include "kernels/common/check.h"
#include "kernels/conv/conv.h"

#if defined(__CUDACC__)
#define SPK_HD __host__ __device__ __forceinline__
#else
#define SPK_HD inline
#endif

namespace spk::conv_igemm {

enum class Pass : uint8_t { forward, backward_data, backward_weight };

SPK_HD uint32_t umulhi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return uint32_t((uint64_t(a) * b) >> 32);
#endif
}

// n / d for 0 <= n < 2^31 and a divisor 1 <= d < 2^31 fixed at launch, as a multiply-high and a shift instead
// of the ~20-instruction integer division (Granlund & Montgomery; CUTLASS's FastDivmod): with
// p = 31 + ceil(log2 d), m = ceil(2^p / d), n / d = umulhi(n, m) >> (p − 32). The gathers decode taps and
// positions with these for every element they load. Checked against `/` in tests/kernels/test_conv_cuda_host.cpp.
struct FastDiv {
  int d = 1;
  uint32_t mul = 0, shr = 0;
  FastDiv() = default;
  explicit FastDiv(int divisor) : d(divisor) {
    if (d == 1) return;
    int log2_ceil = 0;
    while ((int64_t(1) << log2_ceil) < d) ++log2_ceil;
    const uint32_t p = 31u + uint32_t(log2_ceil);
    mul = uint32_t(((uint64_t(1) << p) + uint64_t(d) - 1) / uint64_t(d));
    shr = p - 32u;
  }
  SPK_HD int div(int n) const { return d == 1 ? n : int(umulhi32(uint32_t(n), mul) >> shr); }
};

// ConvGeom as 32-bit ints with the derived sizes the loaders need, and fast dividers for the decodes.
struct Geom {
  int N, C_in, H, W, C_out, KH, KW, sh, sw, ph, pw, dh, dw, groups;
  int H_out, W_out, P, HW, Cig, Cog, KHKW, Kg;
  FastDiv by_P, by_W_out, by_HW, by_W, by_KHKW, by_KW, by_sh, by_sw;
};

constexpr int64_t kMaxIndex = int64_t(1) << 30;   // sizes stay below this so tile ends never overflow int

inline Geom make_geom(const ConvGeom& g) {
  const int64_t P = g.H_out() * g.W_out(), HW = g.H * g.W;
  const int64_t limits[] = {g.N * P, g.N * HW, g.C_in * HW, g.C_out * P, g.C_out * g.K_g(), g.N, g.C_in, g.C_out};
  for (int64_t v : limits)
    SPK_CHECK(v >= 0 && v < kMaxIndex, "conv CUDA: geometry (N ", g.N, ", C_in ", g.C_in, ", H ", g.H, ", W ", g.W,
              ", C_out ", g.C_out, ", K ", g.KH, "x", g.KW, ") has a size of ", v, " elements, above the 2^30 the "
              "kernels index with 32-bit ints; split the batch");
  SPK_CHECK(g.H_out() >= 1 && g.W_out() >= 1 && g.H >= 1 && g.W >= 1 && g.KH >= 1 && g.KW >= 1 && g.stride_h >= 1 &&
            g.stride_w >= 1, "conv CUDA: empty geometry (H ", g.H, ", W ", g.W, ", out ", g.H_out(), "x", g.W_out(), ")");
  Geom r;
  r.N = int(g.N); r.C_in = int(g.C_in); r.H = int(g.H); r.W = int(g.W); r.C_out = int(g.C_out);
  r.KH = int(g.KH); r.KW = int(g.KW); r.sh = int(g.stride_h); r.sw = int(g.stride_w); r.ph = int(g.pad_h);
  r.pw = int(g.pad_w); r.dh = int(g.dil_h); r.dw = int(g.dil_w); r.groups = int(g.groups);
  r.H_out = int(g.H_out()); r.W_out = int(g.W_out()); r.P = int(P); r.HW = int(HW);
  r.Cig = int(g.C_in_g()); r.Cog = int(g.C_out_g()); r.KHKW = int(g.KH * g.KW); r.Kg = int(g.K_g());
  r.by_P = FastDiv(r.P); r.by_W_out = FastDiv(r.W_out); r.by_HW = FastDiv(r.HW); r.by_W = FastDiv(r.W);
  r.by_KHKW = FastDiv(r.KHKW); r.by_KW = FastDiv(r.KW); r.by_sh = FastDiv(r.sh); r.by_sw = FastDiv(r.sw);
  return r;
}

// ------------------------------------------------------------------------------------------------ tiles

template <int BM_, int BN_, int WARPS_M_, int WARPS_N_>
struct TileCfg {
  static constexpr int BM = BM_, BN = BN_, BK = 16;
  static constexpr int WARPS_M = WARPS_M_, WARPS_N = WARPS_N_, NWARPS = WARPS_M * WARPS_N, NT = 32 * NWARPS;
  static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N, FM = WM / 16, FN = WN / 16;
  // Shared-memory row pitches in floats: wmma wants multiples of 4 (16 bytes); +4 moves consecutive rows
  // off the same banks.
  static constexpr int LDA = BK + 4, LDB = BN + 4;
  static constexpr int A_PER = BM * BK / NT, B_PER = BK * BN / NT;   // elements each thread loads per slice
  static_assert(WM % 16 == 0 && WN % 16 == 0 && FM >= 1 && FN >= 1, "warp tiles are whole 16x16 fragments");
  static_assert(NT % BK == 0 && NT % BN == 0, "the slot maps below need NT to be a multiple of BK and BN");
  static_assert(A_PER * NT == BM * BK && B_PER * NT == BK * BN, "tiles split evenly over the threads");
  // wmma pointers must be 32-byte aligned: every fragment origin is a multiple of 8 floats from the
  // (128-byte aligned) buffer start, and so is the second buffer of each pair.
  static_assert((16 * LDA) % 8 == 0 && (8 * LDB) % 8 == 0 && (BM * LDA) % 8 == 0 && (BK * LDB) % 8 == 0,
                "fragment origins must stay 32-byte aligned");
};
using CfgSmall = TileCfg<32, 128, 2, 4>;    // M <= 32: C_out 16/32 of ResNetSE34L's first stages
using CfgMedium = TileCfg<64, 128, 2, 4>;   // M <= 64
using CfgLarge = TileCfg<128, 128, 4, 2>;   // M > 64: TDNN/ECAPA channels, ResNet's deep stages
constexpr int kConfigs = 3;
constexpr int kTileBM[kConfigs] = {CfgSmall::BM, CfgMedium::BM, CfgLarge::BM};
constexpr int kTileBN[kConfigs] = {CfgSmall::BN, CfgMedium::BN, CfgLarge::BN};
constexpr int kBK = 16;

// Where thread `tid`'s i-th loaded element sits in the A tile (BM × BK) or the B tile (BK × BN).
// A: consecutive threads on consecutive k. B: on consecutive n, or on consecutive k when kFixK.
template <class Cfg>
SPK_HD void a_slot(int tid, int i, int& mm, int& kk) {
  kk = tid % Cfg::BK;
  mm = tid / Cfg::BK + i * (Cfg::NT / Cfg::BK);
}
template <class Cfg, bool kFixK>
SPK_HD void b_slot(int tid, int i, int& kk, int& nn) {
  if constexpr (kFixK) {
    kk = tid % Cfg::BK;
    nn = tid / Cfg::BK + i * (Cfg::NT / Cfg::BK);
  } else {
    nn = tid % Cfg::BN;
    kk = tid / Cfg::BN + i * (Cfg::NT / Cfg::BN);
  }
}

// ------------------------------------------------------------------------------------------------ gathers

// im2col without the matrix: the input pixel that tap t = (ci, kh, kw) of output position q = (img, oh, ow)
// reads, or 0 in the padding. A position is decoded once (pos) and then read at many taps (at).
struct Im2col {
  const float* x;   // (N, C_in, H, W), already offset to the group's first channel
  Geom g;
  struct Pos {
    const float* base;   // image img of x
    int ih0, iw0;        // top-left input pixel of the receptive field (may be in the padding)
    bool valid;
  };
  SPK_HD Pos pos(int q) const {
    Pos r{x, 0, 0, q < g.N * g.P};
    if (!r.valid) return r;
    const int img = g.by_P.div(q), p = q - img * g.P, oh = g.by_W_out.div(p), ow = p - oh * g.W_out;
    r.base = x + int64_t(img) * g.C_in * g.HW;
    r.ih0 = oh * g.sh - g.ph;
    r.iw0 = ow * g.sw - g.pw;
    return r;
  }
  SPK_HD float at(const Pos& q, int t) const {
    if (!q.valid || t >= g.Kg) return 0.f;
    const int ci = g.by_KHKW.div(t), rs = t - ci * g.KHKW, kh = g.by_KW.div(rs), kw = rs - kh * g.KW;
    const int ih = q.ih0 + kh * g.dh, iw = q.iw0 + kw * g.dw;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return 0.f;
    return q.base[ci * g.HW + ih * g.W + iw];
  }
};

// The GEMM sizes and K slicing every problem carries; filled in by plan() + bind().
struct GemmDims {
  int M = 0, N = 0, K = 0;
  int splits = 1, k_per_split = 0;   // K slice of blockIdx.z % splits: [s·k_per_split, min(K, (s+1)·k_per_split))
};

// forward: y (N, C_out, H_out, W_out) = conv(x, w) + bias.
struct Forward : GemmDims {
  static constexpr bool kBFixK = false;
  Geom g;
  const float *x, *w, *bias;   // bias may be null
  float* y;
  // per group (set_group)
  int grp = 0;
  const float* wg = nullptr;
  Im2col im{};

  SPK_HD void set_group(int group) {
    grp = group;
    wg = w + int64_t(grp) * g.Cog * g.Kg;
    im = Im2col{x + int64_t(grp) * g.Cig * g.HW, g};
  }
  struct AFix { const float* col; bool valid; };
  SPK_HD AFix a_fix(int k) const { return {wg + (k < K ? k : 0), k < K}; }
  SPK_HD float a_get(const AFix& f, int m) const { return f.valid && m < M ? f.col[m * g.Kg] : 0.f; }
  using BFix = Im2col::Pos;
  SPK_HD BFix b_fix(int n) const { return im.pos(n); }
  SPK_HD float b_get(const BFix& f, int k) const { return im.at(f, k); }
  SPK_HD void store(int m, int n, int /*split*/, float v) const {
    if (m >= M || n >= N) return;
    const int img = g.by_P.div(n), p = n - img * g.P, co = grp * g.Cog + m;
    y[(int64_t(img) * g.C_out + co) * g.P + p] = bias ? v + bias[co] : v;
  }
};

// backward_data: dx (N, C_in, H, W) from dy and w.
struct BackwardData : GemmDims {
  static constexpr bool kBFixK = false;
  Geom g;
  const float *w, *dy;
  float* dx;
  int grp = 0;
  const float *wg = nullptr, *dyg = nullptr;

  SPK_HD void set_group(int group) {
    grp = group;
    wg = w + int64_t(grp) * g.Cog * g.Kg;
    dyg = dy + int64_t(grp) * g.Cog * g.P;
  }
  struct AFix { const float* p; bool valid; };
  SPK_HD AFix a_fix(int k) const {   // k = (co, kh, kw): column m is w[co, m, kh, kw]
    if (k >= K) return {wg, false};
    const int co = g.by_KHKW.div(k), rs = k - co * g.KHKW;
    return {wg + co * g.Kg + rs, true};
  }
  SPK_HD float a_get(const AFix& f, int m) const { return f.valid && m < M ? f.p[m * g.KHKW] : 0.f; }
  struct BFix { const float* base; int th, tw; bool valid; };
  SPK_HD BFix b_fix(int n) const {   // n = (img, ih, iw); th/tw: the pixel in padded coordinates
    BFix r{dyg, 0, 0, n < N};
    if (!r.valid) return r;
    const int img = g.by_HW.div(n), q = n - img * g.HW, ih = g.by_W.div(q), iw = q - ih * g.W;
    r.base = dyg + int64_t(img) * g.C_out * g.P;
    r.th = ih + g.ph;
    r.tw = iw + g.pw;
    return r;
  }
  // Output (oh, ow) reads pixel (ih, iw) through tap (kh, kw) iff oh·sh + kh·dh = ih + ph (likewise w).
  SPK_HD float b_get(const BFix& f, int k) const {
    if (!f.valid || k >= K) return 0.f;
    const int co = g.by_KHKW.div(k), rs = k - co * g.KHKW, kh = g.by_KW.div(rs), kw = rs - kh * g.KW;
    const int a = f.th - kh * g.dh, b = f.tw - kw * g.dw;
    if (a < 0 || b < 0) return 0.f;
    const int oh = g.by_sh.div(a), ow = g.by_sw.div(b);
    if (oh * g.sh != a || ow * g.sw != b || oh >= g.H_out || ow >= g.W_out) return 0.f;
    return f.base[co * g.P + oh * g.W_out + ow];
  }
  SPK_HD void store(int m, int n, int /*split*/, float v) const {
    if (m >= M || n >= N) return;
    const int img = g.by_HW.div(n), q = n - img * g.HW;
    dx[(int64_t(img) * g.C_in + grp * g.Cig + m) * g.HW + q] = v;
  }
};

// backward_weight: dw (C_out, C_in/groups, KH, KW) from dy and x; with splits > 1 the partial products go to
// ws (groups, splits, M, N) and reduce_splits() adds them into dw.
struct BackwardWeight : GemmDims {
  static constexpr bool kBFixK = true;
  Geom g;
  const float *x, *dy;
  float *dw, *ws;
  int grp = 0;
  const float* dyg = nullptr;
  Im2col im{};

  SPK_HD void set_group(int group) {
    grp = group;
    dyg = dy + int64_t(grp) * g.Cog * g.P;
    im = Im2col{x + int64_t(grp) * g.Cig * g.HW, g};
  }
  struct AFix { const float* p; bool valid; };
  SPK_HD AFix a_fix(int k) const {   // k = (img, p): column m is dy[img, m, p]
    if (k >= K) return {dyg, false};
    const int img = g.by_P.div(k), p = k - img * g.P;
    return {dyg + int64_t(img) * g.C_out * g.P + p, true};
  }
  SPK_HD float a_get(const AFix& f, int m) const { return f.valid && m < M ? f.p[m * g.P] : 0.f; }
  using BFix = Im2col::Pos;
  SPK_HD BFix b_fix(int k) const { return im.pos(k); }
  SPK_HD float b_get(const BFix& f, int n) const { return im.at(f, n); }
  SPK_HD void store(int m, int n, int split, float v) const {
    if (m >= M || n >= N) return;
    if (splits == 1) dw[(int64_t(grp) * g.Cog + m) * g.Kg + n] = v;
    else ws[((int64_t(grp) * splits + split) * M + m) * N + n] = v;
  }
};

// ------------------------------------------------------------------------------------------------ block steps

// What block (bx, by, bz) computes: C rows [m0, m0 + BM), columns [n0, n0 + BN), group grp, K slice [k_lo, k_hi).
struct BlockJob { int m0, n0, grp, split, k_lo, k_hi; };
template <class Cfg, class Prob>
SPK_HD BlockJob block_job(const Prob& pr, int bx, int by, int bz) {
  BlockJob j;
  j.n0 = bx * Cfg::BN;
  j.m0 = by * Cfg::BM;
  j.grp = bz / pr.splits;
  j.split = bz - j.grp * pr.splits;
  j.k_lo = j.split * pr.k_per_split;
  j.k_hi = pr.K - j.k_lo < pr.k_per_split ? pr.K : j.k_lo + pr.k_per_split;
  return j;
}

// Thread tid's share of the A and B slices starting at k0 into registers (the loaders bound-check).
template <class Cfg, class Prob>
SPK_HD void load_slices(const Prob& pr, const BlockJob& j, int tid, int k0, float (&ra)[Cfg::A_PER],
                        float (&rb)[Cfg::B_PER]) {
  {
    int mm, kk;
    a_slot<Cfg>(tid, 0, mm, kk);   // kk is the same for every i
    const auto f = pr.a_fix(k0 + kk);
#pragma unroll
    for (int i = 0; i < Cfg::A_PER; ++i) {
      a_slot<Cfg>(tid, i, mm, kk);
      ra[i] = pr.a_get(f, j.m0 + mm);
    }
  }
  int kk, nn;
  b_slot<Cfg, Prob::kBFixK>(tid, 0, kk, nn);   // the fixed index (kk or nn) is the same for every i
  const auto f = Prob::kBFixK ? pr.b_fix(k0 + kk) : pr.b_fix(j.n0 + nn);
#pragma unroll
  for (int i = 0; i < Cfg::B_PER; ++i) {
    b_slot<Cfg, Prob::kBFixK>(tid, i, kk, nn);
    rb[i] = pr.b_get(f, Prob::kBFixK ? j.n0 + nn : k0 + kk);
  }
}

// ... and from the registers into the shared tiles As (BM × LDA, row m) and Bs (BK × LDB, row k).
template <class Cfg, bool kBFixK>
SPK_HD void store_slices(int tid, const float (&ra)[Cfg::A_PER], const float (&rb)[Cfg::B_PER], float* As,
                         float* Bs) {
#pragma unroll
  for (int i = 0; i < Cfg::A_PER; ++i) {
    int mm, kk;
    a_slot<Cfg>(tid, i, mm, kk);
    As[mm * Cfg::LDA + kk] = ra[i];
  }
#pragma unroll
  for (int i = 0; i < Cfg::B_PER; ++i) {
    int kk, nn;
    b_slot<Cfg, kBFixK>(tid, i, kk, nn);
    Bs[kk * Cfg::LDB + nn] = rb[i];
  }
}

// Warp w's sub-tile origin inside the block tile.
template <class Cfg>
SPK_HD void warp_origin(int warp, int& wm0, int& wn0) {
  wm0 = (warp / Cfg::WARPS_N) * Cfg::WM;
  wn0 = (warp % Cfg::WARPS_N) * Cfg::WN;
}

// Epilogue: fragment (fi, fj) of a warp, stored row-major 16 × 16 in `frag`; lane writes its 8 elements
// (consecutive lanes on consecutive columns, so the global writes of a half-warp are contiguous).
template <class Cfg, class Prob>
SPK_HD void store_fragment(const Prob& pr, const BlockJob& j, int warp, int fi, int fj, const float* frag, int lane) {
  int wm0, wn0;
  warp_origin<Cfg>(warp, wm0, wn0);
  const int m_base = j.m0 + wm0 + fi * 16, n_base = j.n0 + wn0 + fj * 16;
#pragma unroll
  for (int e = lane; e < 256; e += 32) {
    const int r = e / 16, c = e % 16;
    pr.store(m_base + r, n_base + c, j.split, frag[e]);
  }
}

// ------------------------------------------------------------------------------------------------ plan

struct Plan {
  Pass pass = Pass::forward;
  int cfg = 0;                  // index into kTileBM / kTileBN (CfgSmall, CfgMedium, CfgLarge)
  GemmDims dims;
  int64_t grid_x = 1, grid_y = 1, grid_z = 1;
  int64_t workspace_floats = 0;   // split-K partials, (groups, splits, M, N); 0 when splits == 1
};

constexpr int kMinSlicesPerSplit = 8;   // a split-K slice of fewer BK-slices than this costs more than it saves
constexpr int kMaxSplits = 256;
constexpr int kBlocksPerSm = 4;         // the block count a split-K plan aims for, per SM

inline int pick_config(int M) { return M <= 32 ? 0 : M <= 64 ? 1 : 2; }

// The launch of one pass. cfg_override >= 0 forces a tile config (tests); sm_count sizes split-K.
inline Plan plan(const Geom& g, Pass pass, int sm_count, int cfg_override = -1) {
  Plan pl;
  pl.pass = pass;
  const int64_t NP = int64_t(g.N) * g.P, NHW = int64_t(g.N) * g.HW, taps_out = int64_t(g.Cog) * g.KHKW;
  int64_t M = 0, N = 0, K = 0;
  switch (pass) {
    case Pass::forward: M = g.Cog; N = NP; K = g.Kg; break;
    case Pass::backward_data: M = g.Cig; N = NHW; K = taps_out; break;
    case Pass::backward_weight: M = g.Cog; N = g.Kg; K = NP; break;
  }
  SPK_CHECK(M < kMaxIndex && N < kMaxIndex && K < kMaxIndex, "conv CUDA: GEMM (", M, ", ", N, ", ", K,
            ") too large for 32-bit indexing");
  pl.cfg = cfg_override >= 0 ? cfg_override : pick_config(int(M));
  SPK_CHECK(pl.cfg >= 0 && pl.cfg < kConfigs, "conv CUDA: no tile config ", pl.cfg);
  const int BM = kTileBM[pl.cfg], BN = kTileBN[pl.cfg];
  pl.grid_x = (N + BN - 1) / BN;
  pl.grid_y = (M + BM - 1) / BM;
  int64_t splits = 1;
  if (pass == Pass::backward_weight && sm_count > 0) {
    const int64_t tiles = pl.grid_x * pl.grid_y * g.groups, target = int64_t(kBlocksPerSm) * sm_count;
    const int64_t by_k = K / (int64_t(kBK) * kMinSlicesPerSplit);
    splits = (target + tiles - 1) / tiles;
    splits = splits < by_k ? splits : by_k;
    splits = splits < kMaxSplits ? splits : kMaxSplits;
    splits = splits < 65535 / g.groups ? splits : 65535 / g.groups;
    splits = splits < 1 ? 1 : splits;
  }
  // Slices are whole BK multiples, and every split gets at least one element: recount after rounding.
  int64_t kps = (K + splits - 1) / splits;
  kps = (kps + kBK - 1) / kBK * kBK;
  if (kps < kBK) kps = kBK;
  splits = (K + kps - 1) / kps;
  if (splits < 1) splits = 1;
  pl.dims.M = int(M); pl.dims.N = int(N); pl.dims.K = int(K);
  pl.dims.splits = int(splits);
  pl.dims.k_per_split = int(kps);
  pl.grid_z = int64_t(g.groups) * splits;
  SPK_CHECK(pl.grid_y <= 65535 && pl.grid_z <= 65535 && pl.grid_x < (int64_t(1) << 31),
            "conv CUDA: grid (", pl.grid_x, ", ", pl.grid_y, ", ", pl.grid_z, ") exceeds CUDA's limits");
  pl.workspace_floats = splits > 1 ? int64_t(g.groups) * splits * M * N : 0;
  return pl;
}

// The spk backend's choice between the tensor-core implicit GEMM and the direct fp32 loops.
constexpr double kDirectMaxFlops = 1e5;   // below this a conv is launch-bound: the plain kernel is as fast
inline bool use_direct(const ConvGeom& g, ConvCudaAlgo algo) {
  if (algo == ConvCudaAlgo::direct) return true;
  if (algo == ConvCudaAlgo::igemm) return false;
  return g.flops() < kDirectMaxFlops;
}

}  // namespace spk::conv_igemm
