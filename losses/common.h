// Building blocks shared by the losses, composed from engine ops so they run on any device.
//
// PyTorch's losses use scatter_ (one-hot) and torch.where, which the op table does not have. Both are
// rebuilt from elementwise ops without loss of exactness:
//   one_hot(y)[i, j]  = relu(1 − |j − y_i|)                 (exact for integer class indices below 2^24)
//   positive_mask(x)  = 1 where x > 0, else 0               (two saturating clamps, detached)
//   select(m, a, b)   = m·a + (1 − m)·b                     (torch.where(m, a, b) for finite a, b)
#pragma once
#include <vector>

#include "engine/tensor.h"
#include "losses/loss.h"

namespace spk::loss_util {

// ---- configuration checks: throw naming the loss and the setting ----
void check_dtype(const std::string& loss, const LossConfig& c);
// nOut >= 1, nClasses >= 2, dtype f32/f64
void check_classifier(const std::string& loss, const LossConfig& c);
// scale > 0 and finite, 0 <= margin < π (the angular margins)
void check_angular(const std::string& loss, double margin, double scale, const char* margin_name,
                   const char* scale_name);

// Every label in [0, num_classes), else an error naming the loss, the row and the label (reads labels on the host),
// for losses that index a per-class parameter before cross_entropy would check the labels.
void check_class_labels(const std::string& loss, const Tensor& labels, int64_t num_classes);

// (N) i64 labels -> (N, C) 0/1 of the given dtype on labels' device. No gradient.
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype);
// Elementwise step: 1 where x > 0, 0 where x <= 0 (NaN stays NaN). No gradient.
Tensor positive_mask(const Tensor& x);
// m·a + (1 − m)·b with broadcasting; m a 0/1 tensor.
Tensor select(const Tensor& m, const Tensor& a, const Tensor& b);

// x[:, j, :] of x (N, M, D) as (N, D).
Tensor group_member(const Tensor& x, int64_t j);
// (n·repeat) i64 on device: 0, …, 0, 1, …, 1, … (each i repeated `repeat` times, torch.repeat_interleave).
Tensor positional_labels(int64_t n, int64_t repeat, Device device);
// (n·repeat) i64: labels (n) with each entry repeated `repeat` times.
Tensor repeat_interleave(const Tensor& labels, int64_t repeat);

// Row-wise cosine of a (N, D) and b (N, D) -> (N, 1): a·b / max(‖a‖·‖b‖, eps), cosine_matrix's eps rule.
Tensor row_cosine(const Tensor& a, const Tensor& b, double eps = 1e-8);
// Row-wise squared F.pairwise_distance: Σ_d (a − b + eps)² -> (N, 1).
Tensor row_sq_distance(const Tensor& a, const Tensor& b, double eps = 1e-6);
// ‖a_i − b_j‖² for a (N, D), b (M, D) -> (N, M) by the matmul expansion ‖a‖² + ‖b‖² − 2·a·bᵀ (one GEMM,
// smooth everywhere; may be a few ulps below 0 for identical rows).
Tensor sq_distance_matrix(const Tensor& a, const Tensor& b);

// Additive angular margin on the target column of a cosine matrix cos (N, C) with onehot (N, C):
//   out = s·(onehot·φ' + (1 − onehot)·cos),  φ = t·cos m − sin·sin m,  t = the target cosine
// voxceleb_trainer (also TaoRuijie / HardNeg): sin = sqrt(clamp(1 − t², 0, 1)); φ' = φ if t − cos(π − m) > 0
//   else t − m·sin(π − m).
// wespeaker ArcMarginProduct: sin = sqrt(1 − t²) (no clamp); φ' = φ if t > cos(π − m) else t − (1 + cos(π − m)).
// easy_margin (both): φ' = φ if t > 0 else t.
// φ' is formed on the (N, 1) target cosines only; the margin logits are those of the reference.
enum class ArcFallback { voxceleb_trainer, wespeaker };
Tensor additive_angular_margin(const Tensor& cos, const Tensor& onehot, double margin, double scale, bool easy_margin,
                               ArcFallback fallback);

}  // namespace spk::loss_util
