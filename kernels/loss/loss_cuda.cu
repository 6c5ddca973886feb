// CUDA kernels of the fused cosine-softmax losses (kernels/loss/loss.h), f32 with double row sums.
// NOT YET RUN ON A GPU: written and compiled without one; tests/kernels/test_cuda_parity_loss.cpp checks them
// against the CPU kernels the first time a GPU is present (docs/cuda/losses.md).
//
// Launch structure (B rows, C classes or N×N similarities, D features; 256-thread blocks):
//   margin_softmax_ce forward   norms_kernel      x rows and W classes in one launch: 1/‖v‖ and 1/‖v‖²
//                               cuBLAS SGEMM      dots (B, C) = x·Wᵀ on the raw rows (normalisation folded
//                                                 into the per-element scale rx·rw of the next kernel)
//                               margin_rows       one block per row, three sweeps of the row (L1/L2 resident):
//                                                 logits + max/argmax, Σ exp, then F = ∂loss/∂dot in place
//                    backward   2× cuBLAS SGEMM   dx = F·W, dW = Fᵀ·x (raw)
//                               fixup_kernel      x rows and W classes in one launch: the normalisation's
//                                                 projection term and the upstream gradient g
//   similarity_ce forward       norms_kernel (squared norms), SGEMM dots (N, N) = a·bᵀ,
//                               sim_stats (block i: row i and column i logsumexp / loss / argmax),
//                               sim_grad (block i: row i of F, the projection coefficients of a_i and b_i,
//                               partial sums of ∂loss/∂w and ∂loss/∂bias)
//                    backward   2× SGEMM, fixup_kernel, sum_partials (one block: dw, dbias)
// Reductions are a fixed xor-butterfly within warps and a fixed-order pass over the warps' partials, so results
// are deterministic and every thread of a block holds the same bits. Argmax keeps the first maximum; NaN counts
// as −inf (as in the CPU kernels). Rows are single blocks: every row loop is uniform across the block, which
// the barriers inside the reductions need.
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/gemm/gemm.h"
#include "kernels/loss/loss.h"
#include "kernels/loss/loss_math.h"

namespace spk {

namespace {

constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;
constexpr unsigned kFull = 0xffffffffu;

// ---------------------------------------------------------------- block reductions

__device__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

// Σ over the block; all threads must call it; all get the same value.
__device__ double block_sum(double v, double* sh) {
  v = warp_sum(v);
  __syncthreads();   // earlier readers of sh are done
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  double r = sh[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) r += sh[w];
  return r;
}

struct MaxArg {
  float v;
  int i;
};

// The larger value wins, the smaller index on ties. Keys are never NaN (callers map NaN to −inf).
__device__ MaxArg pick(MaxArg a, MaxArg b) { return (b.v > a.v || (b.v == a.v && b.i < a.i)) ? b : a; }

__device__ MaxArg block_argmax(MaxArg v, MaxArg* sh) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    MaxArg u;
    u.v = __shfl_xor_sync(kFull, v.v, o);
    u.i = __shfl_xor_sync(kFull, v.i, o);
    v = pick(v, u);
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  MaxArg r = sh[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) r = pick(r, sh[w]);
  return r;
}

__device__ float key_of(float z) { return isnan(z) ? -INFINITY : z; }

// Softmax statistics of a logit sequence z(0..n−1) owned by the whole block: max (m), argmax and
// log Σ exp(z − m) in double. zf is called three times per element index; it must be cheap.
template <class Z>
__device__ void block_seq_stats(int64_t n, const Z& zf, double* sh_sum, MaxArg* sh_arg, float& m, double& log_sum,
                                int& arg) {
  MaxArg best{-INFINITY, INT_MAX};
  for (int64_t j = threadIdx.x; j < n; j += kBlock) best = pick(best, MaxArg{key_of(zf(j)), int(j)});
  best = block_argmax(best, sh_arg);
  m = best.v;
  arg = best.i;
  double s = 0;
  for (int64_t j = threadIdx.x; j < n; j += kBlock) s += double(expf(zf(j) - m));
  log_sum = ::log(block_sum(s, sh_sum));
}

// ---------------------------------------------------------------- norms and the normalisation fix-up

// A set of vectors: element d of vector c at v[c·vs + d·es]. es == 1: a warp per vector (8 per block);
// otherwise vs == 1 (classes in columns): a thread per vector, so a warp's reads of one d are contiguous.
struct VecSet {
  const float* v;
  int64_t count, len, vs, es;
  float* out;        // norms_kernel: (2, count) [rn, pc], or (count) squared norms when sq_only
  const float* pc;   // fixup_kernel: projection coefficient 1/‖v‖² (coef = pc·(v·out)), or null: coef given
  const float* coef;
};

__host__ __device__ inline int64_t set_blocks(const VecSet& s) {
  if (s.count == 0) return 0;
  return s.es == 1 ? (s.count + kWarps - 1) / kWarps : (s.count + kBlock - 1) / kBlock;
}

// Which set (a register copy) and which vector this thread (or its warp) owns; false when none.
__device__ bool locate(const VecSet& s0, const VecSet& s1, int64_t blocks0, VecSet& s, int64_t& c, bool& per_warp) {
  const bool first = int64_t(blockIdx.x) < blocks0;
  const int64_t b = first ? int64_t(blockIdx.x) : int64_t(blockIdx.x) - blocks0;
  s = first ? s0 : s1;
  per_warp = s.es == 1;
  c = per_warp ? b * kWarps + threadIdx.x / 32 : b * kBlock + threadIdx.x;
  return c < s.count;
}

__global__ void __launch_bounds__(kBlock) norms_kernel(VecSet s0, VecSet s1, int64_t blocks0, float eps2,
                                                       bool sq_only) {
  VecSet s;
  int64_t c;
  bool per_warp;
  if (!locate(s0, s1, blocks0, s, c, per_warp)) return;   // warp-uniform when per_warp
  const float* p = s.v + c * s.vs;
  double acc = 0;
  if (per_warp) {
    for (int64_t d = threadIdx.x & 31; d < s.len; d += 32) {
      const double e = p[d];
      acc += e * e;
    }
    acc = warp_sum(acc);
    if ((threadIdx.x & 31) != 0) return;
  } else {
    for (int64_t d = 0; d < s.len; ++d) {
      const double e = p[d * s.es];
      acc += e * e;
    }
  }
  const float sq = float(acc);
  if (sq_only) {
    s.out[c] = sq;
    return;
  }
  float rn, pc;
  inv_norm(sq, eps2, rn, pc);
  s.out[c] = rn;
  s.out[s.count + c] = pc;
}

// out_c = g·(out_c − coef_c·v_c), out in v's layout holding the raw GEMM gradient on entry.
__global__ void __launch_bounds__(kBlock) fixup_kernel(VecSet s0, VecSet s1, int64_t blocks0,
                                                       const float* __restrict__ g) {
  VecSet s;
  int64_t c;
  bool per_warp;
  if (!locate(s0, s1, blocks0, s, c, per_warp)) return;
  const float* p = s.v + c * s.vs;
  float* o = s.out + c * s.vs;
  const float gv = *g;
  if (per_warp) {
    const int lane = threadIdx.x & 31;
    double k;
    if (s.pc) {
      double dot = 0;
      for (int64_t d = lane; d < s.len; d += 32) dot += double(p[d]) * double(o[d]);
      k = double(s.pc[c]) * warp_sum(dot);
    } else {
      k = double(s.coef[c]);
    }
    const float kf = float(k);
    for (int64_t d = lane; d < s.len; d += 32) o[d] = gv * (o[d] - kf * p[d]);
  } else {
    double k;
    if (s.pc) {
      double dot = 0;
      for (int64_t d = 0; d < s.len; ++d) dot += double(p[d * s.es]) * double(o[d * s.es]);
      k = double(s.pc[c]) * dot;
    } else {
      k = double(s.coef[c]);
    }
    const float kf = float(k);
    for (int64_t d = 0; d < s.len; ++d) o[d * s.es] = gv * (o[d * s.es] - kf * p[d * s.es]);
  }
}

void launch_sets(bool fix, const VecSet& s0, const VecSet& s1, float eps2, bool sq_only, const float* g,
                 cudaStream_t st) {
  const int64_t b0 = set_blocks(s0), b1 = set_blocks(s1);
  if (b0 + b1 == 0) return;
  SPK_CHECK(b0 + b1 <= INT_MAX, "fused loss: ", s0.count, " + ", s1.count, " vectors are too many for one grid");
  if (fix)
    fixup_kernel<<<unsigned(b0 + b1), kBlock, 0, st>>>(s0, s1, b0, g);
  else
    norms_kernel<<<unsigned(b0 + b1), kBlock, 0, st>>>(s0, s1, b0, eps2, sq_only);
  SPK_KERNEL_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- margin_softmax_ce

// One block per row i of dots (B, C). On exit (want_grad) the row holds F[i, c] = ∂loss/∂dot[i, c]. Each
// thread reads the label column before the first barrier and afterwards only the columns it writes itself,
// so the in-place overwrite is safe.
__global__ void __launch_bounds__(kBlock) margin_rows_kernel(MarginConsts<float> k, int64_t N, int64_t C,
                                                             float* dots, const float* __restrict__ xnorm,
                                                             const float* __restrict__ wnorm,
                                                             const int64_t* __restrict__ labels,
                                                             float* __restrict__ loss, int64_t* __restrict__ pred,
                                                             bool want_grad) {
  __shared__ double sh_sum[kWarps];
  __shared__ MaxArg sh_arg[kWarps];
  const int64_t i = blockIdx.x;
  float* row = dots + i * C;
  const int64_t y = labels[i];
  const bool y_ok = y >= 0 && y < C;   // the engine checked; never read out of bounds regardless
  const float rx = xnorm[i];
  float dphi = 1.f, zy = NAN;
  if (y_ok) zy = margin_target(k, (row[y] * rx) * wnorm[y], dphi) * k.s;
  auto zf = [&](int64_t c) { return c == y ? zy : ((row[c] * rx) * wnorm[c]) * k.s; };
  float m;
  double log_sum;
  int arg;
  block_seq_stats(C, zf, sh_sum, sh_arg, m, log_sum, arg);
  if (threadIdx.x == 0) {
    loss[i] = y_ok ? float((double(m) - double(zy)) + log_sum) : NAN;
    pred[i] = arg;
  }
  if (!want_grad) return;
  const float ls = float(log_sum), f = k.s / float(N);
  for (int64_t c = threadIdx.x; c < C; c += kBlock) {
    const float p = expf((zf(c) - m) - ls);
    const float d = c == y ? (p - 1.f) * dphi : p;
    row[c] = ((d * f) * rx) * wnorm[c];
  }
}

// ---------------------------------------------------------------- similarity_ce

struct SimK {
  int64_t N;
  bool symmetric, product, has_bias;
  float eps2;
};

// cos[i, j] from the raw dot and the squared norms; den and the gradient masks on the side.
__device__ float sim_cos(const SimK& s, const float* dots, const float* sq, int64_t i, int64_t j, float& den,
                         bool& ma, bool& mb) {
  den = sim_den(s.product, s.eps2, sq[i], sq[s.N + j], ma, mb);
  return dots[i * s.N + j] / den;
}

// Block i: logsumexp, loss and argmax of row i of z = w·cos + bias, and of column i when symmetric.
__global__ void __launch_bounds__(kBlock) sim_stats_kernel(SimK s, const float* __restrict__ dots,
                                                           const float* __restrict__ sq, const float* __restrict__ w,
                                                           const float* __restrict__ bias, float* __restrict__ lse,
                                                           float* __restrict__ loss, int64_t* __restrict__ pred) {
  __shared__ double sh_sum[kWarps];
  __shared__ MaxArg sh_arg[kWarps];
  const int64_t i = blockIdx.x, N = s.N;
  const float W = *w, Bb = s.has_bias ? *bias : 0.f;
  auto z = [&](int64_t r, int64_t c) {
    float den;
    bool ma, mb;
    return sim_cos(s, dots, sq, r, c, den, ma, mb) * W + Bb;
  };
  const float zii = z(i, i);
  float m;
  double log_sum;
  int arg;
  block_seq_stats(N, [&](int64_t j) { return z(i, j); }, sh_sum, sh_arg, m, log_sum, arg);
  if (threadIdx.x == 0) {
    lse[i] = float(double(m) + log_sum);
    loss[i] = float((double(m) - double(zii)) + log_sum);
    pred[i] = arg;
  }
  if (!s.symmetric) return;
  block_seq_stats(N, [&](int64_t r) { return z(r, i); }, sh_sum, sh_arg, m, log_sum, arg);
  if (threadIdx.x == 0) {
    lse[N + i] = float(double(m) + log_sum);
    loss[N + i] = float((double(m) - double(zii)) + log_sum);
    pred[N + i] = arg;
  }
}

// G[r, c] = ∂loss/∂z[r, c] from the saved logsumexps.
__device__ float sim_G(const SimK& s, const float* lse, float z, int64_t r, int64_t c, float f) {
  const float delta = r == c ? 1.f : 0.f;
  float G = expf(z - lse[r]) - delta;
  if (s.symmetric) G += expf(z - lse[s.N + c]) - delta;
  return G * f;
}

// Block i: row i of F = w·G/den, coef_a[i] = Σ_j w·G·cos (masked) / ‖a_i‖², coef_b[i] over column i, and the
// partial sums Σ_j G·cos (→ ∂loss/∂w) and Σ_j G (→ ∂loss/∂bias) of row i.
__global__ void __launch_bounds__(kBlock) sim_grad_kernel(SimK s, const float* __restrict__ dots,
                                                          const float* __restrict__ sq, const float* __restrict__ w,
                                                          const float* __restrict__ bias,
                                                          const float* __restrict__ lse, float* __restrict__ F,
                                                          float* __restrict__ coef, float* __restrict__ part) {
  __shared__ double sh_sum[kWarps];
  const int64_t i = blockIdx.x, N = s.N;
  const float W = *w, Bb = s.has_bias ? *bias : 0.f;
  const float f = 1.f / float(s.symmetric ? 2 * N : N);
  double ra = 0, rb = 0, pw = 0, pb = 0;
  for (int64_t j = threadIdx.x; j < N; j += kBlock) {
    float den;
    bool ma, mb;
    const float cs = sim_cos(s, dots, sq, i, j, den, ma, mb);
    const float G = sim_G(s, lse, cs * W + Bb, i, j, f), dS = W * G;
    F[i * N + j] = dS / den;
    if (ma) ra += double(dS) * double(cs);
    pw += double(G) * double(cs);
    pb += double(G);
  }
  for (int64_t r = threadIdx.x; r < N; r += kBlock) {
    float den;
    bool ma, mb;
    const float cs = sim_cos(s, dots, sq, r, i, den, ma, mb);
    const float dS = W * sim_G(s, lse, cs * W + Bb, r, i, f);
    if (mb) rb += double(dS) * double(cs);
  }
  ra = block_sum(ra, sh_sum);
  rb = block_sum(rb, sh_sum);
  pw = block_sum(pw, sh_sum);
  pb = block_sum(pb, sh_sum);
  if (threadIdx.x == 0) {
    const float na2 = sq[i], nb2 = sq[N + i];
    coef[i] = na2 > 0.f ? float(ra / double(na2)) : 0.f;
    coef[N + i] = nb2 > 0.f ? float(rb / double(nb2)) : 0.f;
    part[i] = float(pw);
    part[N + i] = float(pb);
  }
}

// dw = g·Σ part[0..N), dbias = g·Σ part[N..2N); one block.
__global__ void __launch_bounds__(kBlock) sum_partials_kernel(int64_t N, const float* __restrict__ part,
                                                              const float* __restrict__ g, float* __restrict__ dw,
                                                              float* __restrict__ dbias) {
  __shared__ double sh_sum[kWarps];
  double sw = 0, sb = 0;
  for (int64_t j = threadIdx.x; j < N; j += kBlock) {
    sw += double(part[j]);
    sb += double(part[N + j]);
  }
  sw = block_sum(sw, sh_sum);
  sb = block_sum(sb, sh_sum);
  if (threadIdx.x == 0) {
    if (dw) *dw = float(double(*g) * sw);
    if (dbias) *dbias = float(double(*g) * sb);
  }
}

void check_grid(const char* op, int64_t rows) {
  SPK_CHECK(rows <= INT_MAX, op, ": ", rows, " rows exceed one grid dimension");
}

}  // namespace

// ---------------------------------------------------------------- launchers

void margin_softmax_ce_forward_cuda(const MarginCeArgs& a, const float* x, const float* w, const int64_t* labels,
                                    float* dots, float* xnorm, float* wnorm, float* loss, int64_t* pred,
                                    bool want_grad, void* cublas_handle, void* stream) {
  if (a.N == 0) return;
  check_grid("margin_softmax_ce", a.N);
  SPK_CHECK(a.C >= 1 && a.C <= INT_MAX, "margin_softmax_ce: ", a.C, " classes (1 to 2^31 − 1 supported)");
  auto st = cudaStream_t(stream);
  const float eps2 = float(a.eps * a.eps);
  launch_sets(false, VecSet{x, a.N, a.D, a.D, 1, xnorm, nullptr, nullptr},
              VecSet{w, a.C, a.D, a.w_vs, a.w_es, wnorm, nullptr, nullptr}, eps2, false, nullptr, st);
  GemmArgs g;   // dots (N, C) = x (N, D) · Wᵀ
  g.M = a.N; g.N = a.C; g.K = a.D; g.lda = a.D; g.ldc = a.C;
  g.trans_b = a.w_es == 1;
  g.ldb = a.w_es == 1 ? a.D : a.C;
  gemm_cuda(g, x, w, dots, cublas_handle);
  margin_rows_kernel<<<unsigned(a.N), kBlock, 0, st>>>(margin_consts<float>(a), a.N, a.C, dots, xnorm, wnorm, labels,
                                                       loss, pred, want_grad);
  SPK_KERNEL_LAUNCH_CHECK();
}

void margin_softmax_ce_backward_cuda(const MarginCeArgs& a, const float* x, const float* w, const float* F,
                                     const float* xnorm, const float* wnorm, const float* g, float* dx, float* dw,
                                     void* cublas_handle, void* stream) {
  if (a.N == 0) return;
  const bool rows = a.w_es == 1;
  if (dx) {   // dx (N, D) = F (N, C) · W (C, D)
    GemmArgs ga;
    ga.M = a.N; ga.N = a.D; ga.K = a.C; ga.lda = a.C; ga.ldc = a.D;
    ga.trans_b = !rows;
    ga.ldb = rows ? a.D : a.C;
    gemm_cuda(ga, F, w, dx, cublas_handle);
  }
  if (dw) {
    GemmArgs gw;
    gw.trans_a = true;
    if (rows) {   // dW (C, D) = Fᵀ · x
      gw.M = a.C; gw.N = a.D; gw.K = a.N; gw.lda = a.C; gw.ldb = a.D; gw.ldc = a.D;
      gemm_cuda(gw, F, x, dw, cublas_handle);
    } else {      // dW (D, C) = xᵀ · F
      gw.M = a.D; gw.N = a.C; gw.K = a.N; gw.lda = a.D; gw.ldb = a.C; gw.ldc = a.C;
      gemm_cuda(gw, x, F, dw, cublas_handle);
    }
  }
  const VecSet none{nullptr, 0, 0, 1, 1, nullptr, nullptr, nullptr};
  launch_sets(true, dx ? VecSet{x, a.N, a.D, a.D, 1, dx, xnorm + a.N, nullptr} : none,
              dw ? VecSet{w, a.C, a.D, a.w_vs, a.w_es, dw, wnorm + a.C, nullptr} : none, 0.f, false, g,
              cudaStream_t(stream));
}

void similarity_ce_forward_cuda(const SimilarityCeArgs& s, const float* a, const float* b, const float* w,
                                const float* bias, float* dots, float* F, float* sq, float* lse, float* coef,
                                float* part, float* loss, int64_t* pred, bool want_grad, void* cublas_handle,
                                void* stream) {
  if (s.N == 0) return;
  check_grid("similarity_ce", s.N);
  auto st = cudaStream_t(stream);
  launch_sets(false, VecSet{a, s.N, s.D, s.D, 1, sq, nullptr, nullptr},
              VecSet{b, s.N, s.D, s.D, 1, sq + s.N, nullptr, nullptr}, 0.f, true, nullptr, st);
  GemmArgs g;   // dots (N, N) = a · bᵀ
  g.M = s.N; g.N = s.N; g.K = s.D; g.lda = s.D; g.ldb = s.D; g.ldc = s.N; g.trans_b = true;
  gemm_cuda(g, a, b, dots, cublas_handle);
  const SimK k{s.N, s.symmetric, s.eps_product, s.has_bias, float(s.eps * s.eps)};
  sim_stats_kernel<<<unsigned(s.N), kBlock, 0, st>>>(k, dots, sq, w, bias, lse, loss, pred);
  SPK_KERNEL_LAUNCH_CHECK();
  if (!want_grad) return;
  sim_grad_kernel<<<unsigned(s.N), kBlock, 0, st>>>(k, dots, sq, w, bias, lse, F, coef, part);
  SPK_KERNEL_LAUNCH_CHECK();
}

void similarity_ce_backward_cuda(const SimilarityCeArgs& s, const float* a, const float* b, const float* F,
                                 const float* coef, const float* part, const float* g, float* da, float* db,
                                 float* dw, float* dbias, void* cublas_handle, void* stream) {
  if (s.N == 0) return;
  auto st = cudaStream_t(stream);
  if (da) {   // da (N, D) = F · b
    GemmArgs ga;
    ga.M = s.N; ga.N = s.D; ga.K = s.N; ga.lda = s.N; ga.ldb = s.D; ga.ldc = s.D;
    gemm_cuda(ga, F, b, da, cublas_handle);
  }
  if (db) {   // db (N, D) = Fᵀ · a
    GemmArgs gb;
    gb.trans_a = true;
    gb.M = s.N; gb.N = s.D; gb.K = s.N; gb.lda = s.N; gb.ldb = s.D; gb.ldc = s.D;
    gemm_cuda(gb, F, a, db, cublas_handle);
  }
  const VecSet none{nullptr, 0, 0, 1, 1, nullptr, nullptr, nullptr};
  launch_sets(true, da ? VecSet{a, s.N, s.D, s.D, 1, da, nullptr, coef} : none,
              db ? VecSet{b, s.N, s.D, s.D, 1, db, nullptr, coef + s.N} : none, 0.f, false, g, st);
  if (dw || dbias) {
    sum_partials_kernel<<<1, kBlock, 0, st>>>(s.N, part, g, dw, dbias);
    SPK_KERNEL_LAUNCH_CHECK();
  }
}

}  // namespace spk
