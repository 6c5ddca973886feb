// Shared loss building blocks; see common.h for the formulas.
#include "losses/common.h"

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace spk::loss_util {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = 3.14159265358979323846;
}  // namespace

void check_dtype(const std::string& loss, const LossConfig& c) {
  SPK_CHECK(c.dtype == DType::f32 || c.dtype == DType::f64, loss, ": dtype ", dtype_name(c.dtype),
            " (f32 or f64 expected)");
}

void check_classifier(const std::string& loss, const LossConfig& c) {
  check_dtype(loss, c);
  SPK_CHECK(c.nOut >= 1, loss, ": nOut ", c.nOut, " must be positive");
  SPK_CHECK(c.nClasses >= 2, loss, ": nClasses ", c.nClasses, " must be at least 2");
}

void check_angular(const std::string& loss, double margin, double scale, const char* margin_name,
                   const char* scale_name) {
  SPK_CHECK(std::isfinite(scale) && scale > 0, loss, ": ", scale_name, " ", scale, " must be positive");
  SPK_CHECK(margin >= 0 && margin < kPi, loss, ": ", margin_name, " ", margin, " must be in [0, pi)");
}

void check_class_labels(const std::string& loss, const Tensor& labels, int64_t num_classes) {
  // Labels on a GPU are not read back (a device-to-host sync per step): they are the trainer's, checked on its
  // host batch before the upload (Trainer::forward_loss), and the kernels never read out of bounds with them.
  if (!labels.device().is_cpu()) return;
  const Tensor y = labels.contiguous();
  const int64_t* p = y.data<int64_t>();
  for (int64_t i = 0; i < y.numel(); ++i)
    SPK_CHECK(p[i] >= 0 && p[i] < num_classes, loss, ": label ", p[i], " in row ", i, " is outside [0, nClasses = ",
              num_classes, ")");
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  SPK_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1, "one_hot: labels must be (N) i64, got ",
            labels.defined() ? labels.str() : std::string("undefined"));
  NoGradGuard ng;
  Tensor y = reshape(labels.to(dtype), {labels.size(0), 1});                       // (N, 1)
  Tensor cls = reshape(Tensor::arange(num_classes, dtype, labels.device()), {1, num_classes});  // (1, C)
  return relu(add_scalar(neg(abs(sub(cls, y))), 1.0));
}

Tensor positive_mask(const Tensor& x) {
  // x·K saturates every positive value of the dtype (down to the smallest subnormal) to >= 1 in two passes
  // and keeps every value <= 0 at 0; K stays finite in the dtype so 0·K is 0, not NaN.
  NoGradGuard ng;
  const double k = x.dtype() == DType::f64 ? 1e300 : 1e30;
  return clamp(mul_scalar(clamp(mul_scalar(x.detach(), k), 0, 1), k), 0, 1);
}

Tensor select(const Tensor& m, const Tensor& a, const Tensor& b) {
  return add(mul(m, a), mul(add_scalar(neg(m), 1.0), b));
}

Tensor group_member(const Tensor& x, int64_t j) { return squeeze(slice(x, 1, j, j + 1), 1); }

Tensor positional_labels(int64_t n, int64_t repeat, Device device) {
  std::vector<int64_t> v;
  v.reserve(size_t(n * repeat));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < repeat; ++r) v.push_back(i);
  return Tensor::from_vector(v, {n * repeat}, device);
}

Tensor repeat_interleave(const Tensor& labels, int64_t repeat) {
  // A broadcast view copied out: stays on the labels' device (no read back).
  const int64_t n = labels.size(0);
  return reshape(expand(reshape(labels, {n, 1}), {n, repeat}).contiguous(), {n * repeat});
}

Tensor row_cosine(const Tensor& a, const Tensor& b, double eps) {
  Tensor dot = sum(mul(a, b), {1}, /*keepdim=*/true);
  Tensor norms2 = mul(sum(mul(a, a), {1}, /*keepdim=*/true), sum(mul(b, b), {1}, /*keepdim=*/true));
  return div(dot, sqrt(clamp(norms2, eps * eps, kInf)));
}

Tensor row_sq_distance(const Tensor& a, const Tensor& b, double eps) {
  Tensor d = add_scalar(sub(a, b), eps);
  return sum(mul(d, d), {1}, /*keepdim=*/true);
}

Tensor sq_distance_matrix(const Tensor& a, const Tensor& b) {
  Tensor na = sum(mul(a, a), {1}, /*keepdim=*/true), nb = transpose(sum(mul(b, b), {1}, /*keepdim=*/true), 0, 1);
  return sub(add(na, nb), mul_scalar(matmul(a, transpose(b, 0, 1)), 2.0));
}

Tensor additive_angular_margin(const Tensor& cos, const Tensor& onehot, double m, double s, bool easy_margin,
                               ArcFallback fallback) {
  Tensor t = sum(mul(cos, onehot), {1}, /*keepdim=*/true);         // (N, 1) target cosines
  Tensor one_minus_t2 = add_scalar(neg(mul(t, t)), 1.0);
  Tensor sine = sqrt(fallback == ArcFallback::voxceleb_trainer ? clamp(one_minus_t2, 0, 1) : one_minus_t2);
  Tensor phi = sub(mul_scalar(t, std::cos(m)), mul_scalar(sine, std::sin(m)));
  const double th = std::cos(kPi - m);
  Tensor phi_m;
  if (easy_margin) {
    phi_m = select(positive_mask(t), phi, t);
  } else {
    const double shift = fallback == ArcFallback::voxceleb_trainer ? std::sin(kPi - m) * m : 1.0 + th;
    phi_m = select(positive_mask(add_scalar(t, -th)), phi, add_scalar(t, -shift));
  }
  return mul_scalar(select(onehot, phi_m, cos), s);
}

}  // namespace spk::loss_util
