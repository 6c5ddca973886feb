// CUDA-vs-CPU parity for softmax, log_softmax and cross_entropy (kernels/softmax/softmax_cuda.cu).
//
// Tolerances, per tensor, |gpu − cpu| <= atol + rtol·|cpu|:
//   softmax      outputs in (0, 1]; exp is libdevice vs glibc (a few ulp), the normaliser is a sum in a
//                different order (double on the GPU): 1e-5 relative, 1e-6 absolute for tiny outputs.
//   log_softmax  outputs down to ~ -100 for the wide inputs; the backward multiplies exp(y) by Σ dy, a
//                sum of up to 3000 N(0, 1) terms (~55), so its absolute term is 1e-5.
//   cross_entropy the mean loss is a sum of N logsumexps: 1e-5 relative; gradients are (p − onehot)·w/N.
#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {

constexpr Tol kSoftmaxTol{1e-6, 1e-5};
constexpr Tol kLogSoftmaxTol{1e-5, 1e-5};
constexpr Tol kCrossEntropyTol{1e-6, 1e-5};

struct SoftmaxCase {
  const char* name;
  Shape shape;
  int64_t dim;
  double range;   // inputs uniform in [-range, range)
  bool transpose_first = false;
};

// Each schedule of softmax_cuda.cu: warp per row (C <= 1024), block per row (C > 1024), one thread per
// column (softmax over a dim that is not the last), with wide inputs for stability and a strided input.
const std::vector<SoftmaxCase> kSoftmaxCases{
    {"(7,5) dim -1: warp rows", {7, 5}, -1, 3},
    {"(13,1000) dim -1: warp rows", {13, 1000}, -1, 3},
    {"(3,1025) dim -1: block rows", {3, 1025}, -1, 3},
    {"(5,3000) dim -1: block rows, inputs in [-50, 50]", {5, 3000}, -1, 50},
    {"(2,7,9) dim 1: columns", {2, 7, 9}, 1, 3},
    {"(6,40) dim 0: columns, inputs in [-50, 50]", {6, 40}, 0, 50},
    {"(1,1) dim -1: one class", {1, 1}, -1, 3},
    {"(40,33)^T dim -1: strided input", {40, 33}, -1, 3, true},
};

void softmax_parity(bool log) {
  Rng rng(1337);
  for (const SoftmaxCase& c : kSoftmaxCases) {
    const int64_t d = c.dim;
    const bool tr = c.transpose_first;
    test::Fn f = [d, tr, log](const std::vector<Tensor>& in) {
      Tensor x = tr ? transpose(in[0], 0, 1) : in[0];
      return log ? log_softmax(x, d) : softmax(x, d);
    };
    const Tol tol = log ? kLogSoftmaxTol : kSoftmaxTol;
    cuda_parity(std::string(log ? "log_softmax " : "softmax ") + c.name, f, {rand_f32(c.shape, rng, -c.range, c.range)},
                tol, tol);
  }
}

Tensor rand_labels(int64_t n, int64_t classes, Rng& rng) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.randint(0, classes);
  return Tensor::from_vector(v, {n});
}

}  // namespace

SPK_CUDA_PARITY_CASE(softmax, "warp rows, block rows, columns, wide inputs, strided input") {
  if (!test::gpu_or_skip()) return;
  softmax_parity(false);
}

SPK_CUDA_PARITY_CASE(log_softmax, "warp rows, block rows, columns, wide inputs, strided input") {
  if (!test::gpu_or_skip()) return;
  softmax_parity(true);
}

SPK_CUDA_PARITY_CASE(cross_entropy, "(8,10), (300,37), (5,1500) block rows, wide logits") {
  if (!test::gpu_or_skip()) return;
  Rng rng(1337);
  test::Fn f = [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); };
  struct Case { const char* name; int64_t N, C; double range; };
  for (const Case& c : {Case{"(8,10)", 8, 10, 3}, Case{"(300,37)", 300, 37, 3}, Case{"(5,1500) block rows", 5, 1500, 3},
                        Case{"(16,20) logits in [-30, 30]", 16, 20, 30}}) {
    cuda_parity(std::string("cross_entropy ") + c.name, f,
                {rand_f32({c.N, c.C}, rng, -c.range, c.range), rand_labels(c.N, c.C, rng)}, kCrossEntropyTol,
                kCrossEntropyTol);
  }
  // The engine's label check runs before any kernel, on either device.
  Tensor logits = rand_f32({4, 6}, rng).to(Device::cuda());
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 5, 6, 1}, {4}).to(Device::cuda());
  CHECK_THROWS_WITH_AS(cross_entropy(logits, bad), doctest::Contains("cross_entropy"), Error);
}
