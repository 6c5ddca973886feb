// Similarity matrices between the rows of a (N, D) and b (M, D) -> (N, M), composed from table ops
// (matmul, sum, clamp, sqrt, ...) so that they run on whatever device the inputs are on.
//
// cosine_matrix:    a_i·b_j / max(||a_i||·||b_j||, eps), formed as a_i·b_j / sqrt(max(||a_i||²·||b_j||², eps²)):
//                   the same value, but the clamp sits before the sqrt, so an all-zero row gets a finite
//                   gradient instead of sqrt's 0·∞ = NaN.
// euclidean_matrix: sqrt(max(||a_i||² + ||b_j||² − 2·a_i·b_j, 0)), torch.cdist(p=2)'s matmul formulation
//                   (one GEMM instead of an (N, M, D) difference tensor; like cdist it loses relative precision
//                   for distances far below the norms). Its backward is a recorded node rather than the chain
//                   rule through sqrt, whose slope is infinite at 0: with W = dL/dd ⊙ d / max(d², tiny)
//                   (= dL/dd / d, and exactly 0 where d = 0; tiny = the dtype's smallest normal number),
//                     dL/da = a ⊙ rowsum(W) − W·b,    dL/db = b ⊙ colsum(W)ᵀ − Wᵀ·a.
//                   So a zero distance (a_i = b_j, e.g. an embedding against itself) contributes gradient 0,
//                   which is also what torch.cdist's backward does.
#include <cfloat>
#include <limits>

#include "engine/autograd.h"
#include "engine/op_table.h"
#include "engine/ops.h"

namespace spk {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_rows(const char* op, const Tensor& a, const Tensor& b) {
  SPK_CHECK(a.defined() && b.defined(), op, ": undefined input");
  SPK_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1), op, ": expected a (N, D) and b (M, D), got ",
            a.str(), " and ", b.str());
  SPK_CHECK(a.device() == b.device() && a.dtype() == b.dtype(), op, ": ", a.str(), " and ", b.str(),
            " differ in device or dtype");
}

Tensor row_sq_norms(const Tensor& x) { return sum(mul(x, x), {1}, /*keepdim=*/true); }   // (R, 1)

}  // namespace

Tensor cosine_matrix(const Tensor& a, const Tensor& b, double eps) {
  check_rows("cosine_matrix", a, b);
  check_op_device(OpId::cosine_matrix, a.device());
  Tensor dots = matmul(a, transpose(b, 0, 1));                                   // (N, M)
  Tensor norms2 = mul(row_sq_norms(a), transpose(row_sq_norms(b), 0, 1));        // (N, 1) ⊙ (1, M)
  return div(dots, sqrt(clamp(norms2, eps * eps, kInf)));
}

Tensor euclidean_matrix(const Tensor& a, const Tensor& b) {
  check_rows("euclidean_matrix", a, b);
  check_op_device(OpId::euclidean_matrix, a.device());
  const bool ga = needs_grad({a}), gb = needs_grad({b});
  Tensor ad = a.detach(), bd = b.detach(), d2, dist;
  {
    NoGradGuard ng;
    Tensor ab = matmul(ad, transpose(bd, 0, 1));
    d2 = clamp(sub(add(row_sq_norms(ad), transpose(row_sq_norms(bd), 0, 1)), mul_scalar(ab, 2.0)), 0, kInf);
    dist = sqrt(d2);
  }
  const double tiny = a.dtype() == DType::f32 ? double(FLT_MIN) : DBL_MIN;
  // The closure keeps a detached alias of the output: holding the output itself would be a cycle.
  Tensor dd = dist.detach();
  return record("euclidean_matrix", dist, {a, b},
                [ad, bd, d2, dd, tiny, ga, gb](const Tensor& g) -> std::vector<Tensor> {
    Tensor w = mul(g, div(dd, clamp(d2, tiny, kInf)));   // dL/dd / d, 0 at d = 0
    Tensor da, db;
    if (ga) da = sub(mul(ad, sum(w, {1}, true)), matmul(w, bd));
    if (gb) db = sub(mul(bd, transpose(sum(w, {0}, true), 0, 1)), matmul(transpose(w, 0, 1), ad));
    return {da, db};
  });
}

}  // namespace spk
