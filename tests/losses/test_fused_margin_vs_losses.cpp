// margin_softmax_ce, the fused AAM / AM loss op, against the losses it replaces composed from their parts
// (losses/common.h: one_hot, additive_angular_margin), values and gradients in f32. The fused op's own checks
// (loops, finite differences, errors) are in tests/engine/test_fused_loss.cpp, the floor below.
#include <cstdint>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/common.h"
#include "support/check.h"
#include "support/same_loss.h"

using namespace spk;
using test::expect_same_loss;

namespace {

Tensor labels_of(const std::vector<int64_t>& y) { return Tensor::from_vector(y, {int64_t(y.size())}); }

std::vector<int64_t> rand_labels(int64_t n, int64_t classes, Rng& rng) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.randint(0, classes);
  return v;
}

}  // namespace

TEST_CASE("margin_softmax_ce: f32 fused equals the composed AAM / AM losses (values and gradients)") {
  Rng rng(17);
  const int64_t N = 32, C = 600, D = 64;
  Tensor x = Tensor::normal({N, D}, rng, 0, 1, DType::f32), w = Tensor::normal({C, D}, rng, 0, 0.05, DType::f32);
  Tensor lab = labels_of(rand_labels(N, C, rng));
  for (bool easy : {false, true}) {
    auto fused = [&](const std::vector<Tensor>& in) {
      return margin_softmax_ce(in[0], in[1], lab, {MarginKind::angular, 0.2, 30, easy, false}).loss;
    };
    auto composed = [&](const std::vector<Tensor>& in) {
      Tensor cs = linear(l2_normalize(in[0], 1, 1e-12), l2_normalize(in[1], 1, 1e-12));
      Tensor onehot = loss_util::one_hot(lab, C, cs.dtype());
      return cross_entropy(loss_util::additive_angular_margin(cs, onehot, 0.2, 30, easy,
                                                              loss_util::ArcFallback::voxceleb_trainer), lab);
    };
    expect_same_loss(easy ? "AAM easy margin" : "AAM", fused, composed, {x, w});
  }
  Tensor wt = transpose(w, 0, 1).contiguous();   // amsoftmax's W (D, C)
  auto fused_am = [&](const std::vector<Tensor>& in) {
    return margin_softmax_ce(in[0], in[1], lab, {MarginKind::additive, 0.3, 30, false, true}).loss;
  };
  auto composed_am = [&](const std::vector<Tensor>& in) {
    Tensor cs = matmul(l2_normalize(in[0], 1, 1e-12), l2_normalize(in[1], 0, 1e-12));
    Tensor onehot = loss_util::one_hot(lab, C, cs.dtype());
    return cross_entropy(mul_scalar(sub(cs, mul_scalar(onehot, 0.3)), 30), lab);
  };
  expect_same_loss("AM", fused_am, composed_am, {x, wt});
}
