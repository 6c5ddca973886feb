// Fused cosine-softmax losses on raw buffers: L2 normalisation, the cosine GEMM, the margin or affine map,
// softmax cross-entropy and its gradient with respect to the logits, in as few passes as the maths allows.
// Engine ops: engine/ops/fused_loss.cpp (margin_softmax_ce, similarity_ce); maths: docs/cuda/losses.md.
//
// Both ops share one structure, on the CPU (OpenBLAS) and on the GPU (cuBLAS):
//   forward   norms of every row  ->  dots = A·Bᵀ (one GEMM, raw rows: the normalisation is folded into a
//             per-element scale k = 1/(‖a‖‖b‖))  ->  one pass per logit row: logits, max/argmax, logsumexp,
//             loss, and — when a gradient will be wanted — the "logit-gradient factor"
//                 F[i, j] = ∂loss/∂dot[i, j]           (the mean over rows and the scale s / w included)
//   backward  dA = F·B and dB = Fᵀ·A (two GEMMs), then one fix-up pass per row for the normalisation:
//                 dA_i = g·(dA_i − coef_i·a_i),  coef_i = Σ_j ∂loss/∂cos[i, j]·cos[i, j] / ‖a_i‖²
//             (0 where the norm was clamped to eps), g the upstream gradient of the scalar loss.
// F is formed at forward time so the backward needs no second softmax; it costs one (N, C) buffer, which is
// the dots buffer itself for margin_softmax_ce (each row is read before it is overwritten).
//
// Conventions: outputs are written (=), never accumulated; the engine validates labels and shapes before
// these run; `g` and the scalars w, bias are pointers into device memory on the GPU (no host round trip).
// CPU kernels are templates over float and double; CUDA kernels are f32 with double row sums.
#pragma once
#include <cstdint>

namespace spk {

// ---- margin_softmax_ce: AM-/AAM-softmax + CE (engine op margin_softmax_ce) ----
struct MarginCeArgs {
  int64_t N = 0, C = 0, D = 0;   // rows of x (N, D), classes C
  // Class c, feature d of the weight is w[c·w_vs + d·w_es]: (C, D) row-major: w_vs = D, w_es = 1;
  // (D, C) with the classes in columns (amsoftmax's W): w_vs = 1, w_es = C.
  int64_t w_vs = 0, w_es = 1;
  bool angular = true;           // AAM (cos(θ + m), voxceleb_trainer fallback); false: AM (cos − m)
  bool easy_margin = false;
  double margin = 0.1, scale = 30;
  double eps = 1e-12;            // l2_normalize's eps
  int threads = 1;               // CPU: the GEMMs' split between the work pool's threads (kernels/gemm/gemm.h)
};

// Workspace and outputs (all dense):
//   dots   (N, C)  on entry nothing; on exit the logit-gradient factor F (when want_grad), else scratch
//   xnorm  (2, N)  [1/max(‖x_i‖, eps) ..., 1/‖x_i‖² or 0 where clamped ...]
//   wnorm  (2, C)  the same for the classes
//   loss   (N)     per-row cross-entropy (the op's loss is their mean)
//   pred   (N)     argmax of each row of the margin logits (first maximum)
template <class T>
void margin_softmax_ce_forward_cpu(const MarginCeArgs& a, const T* x, const T* w, const int64_t* labels, T* dots,
                                   T* xnorm, T* wnorm, T* loss, int64_t* pred, bool want_grad);
// dx (N, D) and dw (the weight's layout) from F; either may be null (not wanted). g: the loss gradient (one T).
template <class T>
void margin_softmax_ce_backward_cpu(const MarginCeArgs& a, const T* x, const T* w, const T* F, const T* xnorm,
                                    const T* wnorm, const T* g, T* dx, T* dw);

void margin_softmax_ce_forward_cuda(const MarginCeArgs& a, const float* x, const float* w, const int64_t* labels,
                                    float* dots, float* xnorm, float* wnorm, float* loss, int64_t* pred,
                                    bool want_grad, void* cublas_handle, void* stream);
void margin_softmax_ce_backward_cuda(const MarginCeArgs& a, const float* x, const float* w, const float* F,
                                     const float* xnorm, const float* wnorm, const float* g, float* dx, float* dw,
                                     void* cublas_handle, void* stream);

// ---- similarity_ce: CE of w·cos(a_i, b_j) + bias with positional targets (engine op similarity_ce) ----
struct SimilarityCeArgs {
  int64_t N = 0, D = 0;       // a, b (N, D)
  bool symmetric = false;     // also the CE of the columns, averaged with the rows'
  bool eps_product = true;    // cos = a·b / max(‖a‖‖b‖, eps); false: â·b̂ with v̂ = v / max(‖v‖, eps)
  double eps = 1e-8;
  bool has_bias = true;
  int threads = 1;            // CPU: the GEMMs' split between the work pool's threads (kernels/gemm/gemm.h)
};

// Workspace and outputs (all dense):
//   dots  (N, N)  scratch: a·bᵀ (the CPU kernel turns it into cos in place); separate from F, because the
//                 column pass of row i reads other rows' dots
//   F     (N, N)  logit-gradient factor (when want_grad)
//   sq    (2, N)  ‖a_i‖², ‖b_j‖²
//   lse   (2, N)  logsumexp of each row, then of each column (symmetric)
//   coef  (2, N)  the fix-up coefficients for a, then b (when want_grad)
//   part  (2, N)  per-row partial sums of ∂loss/∂w and ∂loss/∂bias (when want_grad)
//   loss  (N) or (2N) per-row (then per-column) cross-entropies; the op's loss is their mean
//   pred  (N) or (2N) argmax of each row (then each column) of z
template <class T>
void similarity_ce_forward_cpu(const SimilarityCeArgs& s, const T* a, const T* b, const T* w, const T* bias, T* dots,
                               T* F, T* sq, T* lse, T* coef, T* part, T* loss, int64_t* pred, bool want_grad);
// da, db (N, D), dw, dbias (one T each); any may be null (not wanted).
template <class T>
void similarity_ce_backward_cpu(const SimilarityCeArgs& s, const T* a, const T* b, const T* F, const T* coef,
                                const T* part, const T* g, T* da, T* db, T* dw, T* dbias);

void similarity_ce_forward_cuda(const SimilarityCeArgs& s, const float* a, const float* b, const float* w,
                                const float* bias, float* dots, float* F, float* sq, float* lse, float* coef,
                                float* part, float* loss, int64_t* pred, bool want_grad, void* cublas_handle,
                                void* stream);
void similarity_ce_backward_cuda(const SimilarityCeArgs& s, const float* a, const float* b, const float* F,
                                 const float* coef, const float* part, const float* g, float* da, float* db,
                                 float* dw, float* dbias, void* cublas_handle, void* stream);

}  // namespace spk
