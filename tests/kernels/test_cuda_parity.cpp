// CUDA-vs-CPU parity for every op of engine/ops.def with a CUDA kernel (elementwise, reductions, matmul,
// contiguous; softmax and cross-entropy are in test_cuda_parity_softmax.cpp). Forward and backward on
// the GPU against the CPU reference, in f32, on odd sizes, broadcasts and strided views, with the shapes
// chosen so that every launch schedule of the kernels runs (vectorised and scalar tails, misaligned
// views, each reduction schedule, each GEMM operand layout). Without a GPU every case says it was skipped.
//
// Tolerances, per tensor, |gpu − cpu| <= atol + rtol·|cpu|:
//   kExact    bit-identical: ops that are one correctly rounded IEEE operation (or a pure selection) per
//             element on both devices — neg, abs, relu, leaky_relu, clamp, add/mul_scalar, add/sub/mul/div
//             forward, sqrt — and max/contiguous, which only move values.
//   kLibm     exp, log, sigmoid, tanh, pow: glibc and CUDA's libdevice are each within a few ulp of the
//             true value, not equal; and nvcc contracts a·b + c into an FMA in the backward formulas, gcc
//             (x86-64 without -mfma) does not. A few ulp of f32 is ~5e-7 relative; 1e-5 leaves margin.
//   kLibmGrad their gradients: near saturation tanh' = 1 − y² and sigmoid' = y(1 − y) cancel, so a
//             3-ulp difference in y (~2e-7 near |y| = 1) becomes ~4e-7 absolute in the derivative, times
//             a cotangent of up to ~5 (2^21 normal draws): an absolute term of 1e-5.
//   kSum      reductions accumulate in double on both devices but in a different order, so the f32
//             result can differ by one rounding (6e-8 relative); the gradients of broadcasting binary
//             ops go through the same sums.
//   gemm_tol  cuBLAS and OpenBLAS both sum in f32, in different orders (blocking, split-K): the error
//             of each grows with the reduction length, so the absolute term scales with it.
#include <cmath>

#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {

constexpr Tol kExact{0, 0};
constexpr Tol kLibm{1e-6, 1e-5};
constexpr Tol kLibmGrad{1e-5, 1e-5};
constexpr Tol kSum{1e-6, 1e-6};

// Inputs of magnitude <= 1 (cotangents ~N(0,1)): the f32 dot-product error bound is ~L·eps·Σ|terms|, with
// the typical error far below; 4e-6·L is a few times the typical difference of two f32 summations.
Tol gemm_tol(int64_t reduction_length) { return {4e-6 * double(reduction_length), 1e-5}; }

// Sizes that hit the unary kernels' paths: a single element, a scalar tail only (7), float4 body plus a
// 3-element tail (4099), a 2-d tensor.
const std::vector<Shape> kUnaryShapes{{1}, {7}, {4099}, {33, 65}};

}  // namespace

// ---------------------------------------------------------------------------------------------- unary

// Each case also runs views that start one element into their buffer (16-byte misaligned, so the scalar
// path runs), one of them longer than a full grid (8192 blocks · 256 threads), so the grid-stride loop wraps.
#define SPK_UNARY_PARITY(op, lo, hi, tol, gtol, expr)                                                                   \
  SPK_CUDA_PARITY_CASE(op, "1, 7, 4099, (33,65), misaligned 4100 and 2^21+5; x in [" #lo ", " #hi "]") {                \
    if (!test::gpu_or_skip()) return;                                                                                   \
    Rng rng(1337);                                                                                                      \
    test::Fn f = [](const std::vector<Tensor>& in) { const Tensor& x = in[0]; return expr; };                           \
    for (const Shape& s : kUnaryShapes) cuda_parity(#op " " + shape_str(s), f, {rand_f32(s, rng, lo, hi)}, tol, gtol);  \
    test::Fn g = [](const std::vector<Tensor>& in) {                                                                    \
      const Tensor x = slice(in[0], 0, 1, in[0].size(0));                                                               \
      return expr;                                                                                                      \
    };                                                                                                                  \
    cuda_parity(#op " misaligned view of 4100", g, {rand_f32({4101}, rng, lo, hi)}, tol, gtol);                         \
    cuda_parity(#op " misaligned view of 2^21+5", g, {rand_f32({(1 << 21) + 6}, rng, lo, hi)}, tol, gtol);              \
  }

SPK_UNARY_PARITY(neg, -2, 2, kExact, kExact, neg(x))
SPK_UNARY_PARITY(exp, -4, 4, kLibm, kLibmGrad, exp(x))
SPK_UNARY_PARITY(log, 0.05, 5, kLibm, kLibmGrad, log(x))
SPK_UNARY_PARITY(sqrt, 0.05, 5, kExact, kExact, sqrt(x))
SPK_UNARY_PARITY(abs, -2, 2, kExact, kExact, abs(x))
SPK_UNARY_PARITY(relu, -2, 2, kExact, kExact, relu(x))
SPK_UNARY_PARITY(leaky_relu, -2, 2, kExact, kExact, leaky_relu(x, 0.2))
SPK_UNARY_PARITY(sigmoid, -12, 12, kLibm, kLibmGrad, sigmoid(x))
SPK_UNARY_PARITY(tanh, -5, 5, kLibm, kLibmGrad, tanh(x))
SPK_UNARY_PARITY(add_scalar, -2, 2, kExact, kExact, add_scalar(x, 0.7))
SPK_UNARY_PARITY(mul_scalar, -2, 2, kExact, kExact, mul_scalar(x, -1.3))
SPK_UNARY_PARITY(clamp, -2, 2, kExact, kExact, clamp(x, -0.5, 0.8))
SPK_UNARY_PARITY(pow_scalar, 0.2, 2, kLibm, kLibmGrad, pow_scalar(x, 2.5))

SPK_CUDA_PARITY_CASE(pow_scalar, "integer, zero and negative exponents, negative bases") {
  if (!test::gpu_or_skip()) return;
  Rng rng(7);
  Tensor any = rand_f32({257}, rng, -2, 2), pos = rand_f32({257}, rng, 0.2, 2);
  test::Fn cube = [](const std::vector<Tensor>& in) { return pow_scalar(in[0], 3); };
  test::Fn square = [](const std::vector<Tensor>& in) { return pow_scalar(in[0], 2); };
  test::Fn zeroth = [](const std::vector<Tensor>& in) { return pow_scalar(in[0], 0); };
  test::Fn rsqrt = [](const std::vector<Tensor>& in) { return pow_scalar(in[0], -0.5); };
  cuda_parity("x^3, x in [-2, 2]", cube, {any}, kLibm, kLibmGrad);
  cuda_parity("x^2, x in [-2, 2]", square, {any}, kLibm, kLibmGrad);
  cuda_parity("x^0 is 1 with gradient 0", zeroth, {any}, kExact, kExact);
  cuda_parity("x^-0.5, x in [0.2, 2]", rsqrt, {pos}, kLibm, kLibmGrad);
}

// ---------------------------------------------------------------------------------------------- binary

namespace {

struct BinaryCase {
  const char* name;
  Shape a, b;
  bool transpose_a = false;   // a is given transposed (shape a reversed) and viewed back: a strided operand
};

// Flat kernel (same shape, scalar operand, vectorised), strided kernel (row/column broadcasts, both
// operands broadcasting, a transposed operand), 0-d operands.
const std::vector<BinaryCase> kBinaryCases{
    {"(4099) op (4099)", {4099}, {4099}},
    {"(33,65) op (33,65)", {33, 65}, {33, 65}},
    {"(3,5) op (5)", {3, 5}, {5}},
    {"(257,129) op (129) row broadcast", {257, 129}, {129}},
    {"(257,129) op (257,1) column broadcast", {257, 129}, {257, 1}},
    {"(3,1,5) op (1,4,1) both broadcast", {3, 1, 5}, {1, 4, 1}},
    {"(2,3,17) op (3,1)", {2, 3, 17}, {3, 1}},
    {"() op (4,5) 0-d operand", {}, {4, 5}},
    {"(4,5) op () 0-d operand", {4, 5}, {}},
    {"(1) op (1)", {1}, {1}},
    {"(7,3)^T op (3,7) transposed operand", {3, 7}, {3, 7}, true},
    {"(5,2,3) permuted to (3,2,5) op (5)", {3, 2, 5}, {5}, true},
};

void binary_parity(const char* op, Tensor (*fn)(const Tensor&, const Tensor&), double b_lo, double b_hi, Tol fwd) {
  Rng rng(1337);
  for (const BinaryCase& c : kBinaryCases) {
    Shape a_shape = c.a;
    if (c.transpose_a) a_shape = Shape(c.a.rbegin(), c.a.rend());
    Tensor a = rand_f32(a_shape, rng), b = rand_f32(c.b, rng, b_lo, b_hi);
    const bool tr = c.transpose_a;
    test::Fn f = [fn, tr](const std::vector<Tensor>& in) {
      Tensor x = in[0];
      if (tr) x = x.dim() == 2 ? transpose(x, 0, 1) : permute(x, {2, 1, 0});
      return fn(x, in[1]);
    };
    cuda_parity(std::string(op) + " " + c.name, f, {a, b}, fwd, kSum);
  }
}

}  // namespace

SPK_CUDA_PARITY_CASE(add, "flat, broadcast, 0-d and transposed operands") {
  if (!test::gpu_or_skip()) return;
  binary_parity("add", add, -1, 1, kExact);
}
SPK_CUDA_PARITY_CASE(sub, "flat, broadcast, 0-d and transposed operands") {
  if (!test::gpu_or_skip()) return;
  binary_parity("sub", sub, -1, 1, kExact);
}
SPK_CUDA_PARITY_CASE(mul, "flat, broadcast, 0-d and transposed operands") {
  if (!test::gpu_or_skip()) return;
  binary_parity("mul", mul, -1, 1, kExact);
}
// Divisors kept in [0.5, 2]: the backward divides by b again, and b near 0 would only test overflow.
SPK_CUDA_PARITY_CASE(div, "flat, broadcast, 0-d and transposed operands; b in [0.5, 2]") {
  if (!test::gpu_or_skip()) return;
  binary_parity("div", div, 0.5, 2, kExact);
}

// ---------------------------------------------------------------------------------------------- reductions

namespace {

struct ReduceCase {
  const char* name;
  Shape shape;
  int64_t dim;
};

// Each schedule of kernels/reduce/reduce_cuda.cu at least once.
const std::vector<ReduceCase> kReduceCases{
    {"(37,5) dim 1: serial, K <= 32", {37, 5}, 1},
    {"(9,1000) dim 1: warp per row", {9, 1000}, 1},
    {"(3,5000) dim 1: block per row", {3, 5000}, 1},
    {"(1000,7) dim 0: column split, inner <= 32", {1000, 7}, 0},
    {"(40,50,33) dim 1: column split, inner > 32", {40, 50, 33}, 1},
    {"(3,40,6000) dim 1: serial, many columns", {3, 40, 6000}, 1},
    {"(2,3,17) dim 2", {2, 3, 17}, 2},
    {"(7) dim 0", {7}, 0},
};

// Small integers in [0, 5) as f32: many ties, so the first-argmax rule is exercised in every schedule.
Tensor ties_f32(const Shape& shape, Rng& rng) {
  std::vector<double> v = Tensor::uniform(shape, rng, 0, 5, DType::f64).to_double();
  for (double& e : v) e = std::floor(e);
  return Tensor::from_vector(v, shape, DType::f32);
}

}  // namespace

SPK_CUDA_PARITY_CASE(sum, "every reduction schedule, several dims, keepdim, all dims, empty") {
  if (!test::gpu_or_skip()) return;
  Rng rng(1337);
  for (const ReduceCase& c : kReduceCases) {
    const int64_t d = c.dim;
    cuda_parity(std::string("sum ") + c.name, [d](const std::vector<Tensor>& in) { return sum(in[0], {d}); },
                {rand_f32(c.shape, rng)}, kSum, kExact);
  }
  Tensor x = rand_f32({2, 3, 17}, rng);
  cuda_parity("sum (2,3,17) dims {0,2}", [](const std::vector<Tensor>& in) { return sum(in[0], {0, 2}); }, {x}, kSum, kExact);
  cuda_parity("sum (2,3,17) dim 1 keepdim", [](const std::vector<Tensor>& in) { return sum(in[0], {1}, true); }, {x}, kSum, kExact);
  cuda_parity("sum (70,80) all dims: one long row", [](const std::vector<Tensor>& in) { return sum(in[0]); },
              {rand_f32({70, 80}, rng)}, kSum, kExact);
  cuda_parity("sum of a transposed view", [](const std::vector<Tensor>& in) { return sum(transpose(in[0], 0, 1), {1}); },
              {rand_f32({33, 20}, rng)}, kSum, kExact);
  cuda_parity("sum over an empty dim (0,3) dim 0 gives zeros", [](const std::vector<Tensor>& in) { return sum(in[0], {0}); },
              {rand_f32({0, 3}, rng)}, kExact, kExact);
}

SPK_CUDA_PARITY_CASE(max, "every reduction schedule, ties take the first index, NaN wins") {
  if (!test::gpu_or_skip()) return;
  Rng rng(1337);
  for (const ReduceCase& c : kReduceCases) {
    const int64_t d = c.dim;
    for (bool ties : {false, true}) {
      Tensor x = ties ? ties_f32(c.shape, rng) : rand_f32(c.shape, rng);
      const std::string what = std::string("max ") + c.name + (ties ? " with ties" : "");
      // Values and their gradient (routed to the chosen index) are copies: exact.
      cuda_parity(what, [d](const std::vector<Tensor>& in) { return max(in[0], d).first; }, {x}, kExact, kExact);
      test::expect_close(argmax(x.to(Device::cuda()), d), argmax(x, d), 0, 0, what + " indices");
    }
  }
  cuda_parity("max keepdim of a transposed view",
              [](const std::vector<Tensor>& in) { return max(transpose(in[0], 0, 1), 1, true).first; },
              {ties_f32({33, 20}, rng)}, kExact, kExact);

  // NaN counts as maximal and the first NaN wins, in the row and the column schedules.
  for (const ReduceCase& c : {kReduceCases[1], kReduceCases[2], kReduceCases[3]}) {
    std::vector<double> v = Tensor::uniform(c.shape, rng, -1, 1, DType::f64).to_double();
    for (size_t i = 0; i < v.size(); i += 5) v[i] = NAN;   // every row and every column gets some
    Tensor x = Tensor::from_vector(v, c.shape, DType::f32);
    auto [vc, ic] = max(x, c.dim);
    auto [vg, ig] = max(x.to(Device::cuda()), c.dim);
    test::expect_close(ig, ic, 0, 0, std::string("max with NaNs, indices, ") + c.name);
    std::vector<double> a = vg.to_double(), b = vc.to_double();
    REQUIRE(a.size() == b.size());
    int64_t mismatched = 0;
    for (size_t i = 0; i < a.size(); ++i)
      if (std::isnan(a[i]) != std::isnan(b[i]) || (!std::isnan(a[i]) && a[i] != b[i])) ++mismatched;
    CHECK_MESSAGE(mismatched == 0, "max with NaNs, values, " << c.name << ": " << mismatched << " differ");
  }
}

// ---------------------------------------------------------------------------------------------- matmul

namespace {

struct MatmulCase {
  const char* name;
  Shape a, b;
  bool transpose_a = false, transpose_b = false;   // operand given with its last two dims swapped, viewed back
};

// Every operand layout of engine/ops/matmul.cpp: plain, batch folded into M (2-d b), strided batch,
// broadcast batch (stride 0), copied batch, transposed views (cuBLAS op T), and degenerate sizes.
const std::vector<MatmulCase> kMatmulCases{
    {"(5,7)@(7,3)", {5, 7}, {7, 3}},
    {"(33,65)@(65,17)", {33, 65}, {65, 17}},
    {"(2,5,7)@(7,3): batch folded into M", {2, 5, 7}, {7, 3}},
    {"(2,5,7)@(2,7,3): strided batch", {2, 5, 7}, {2, 7, 3}},
    {"(1,5,7)@(4,7,3): broadcast batch of a", {1, 5, 7}, {4, 7, 3}},
    {"(4,5,7)@(1,7,3): broadcast batch of b", {4, 5, 7}, {1, 7, 3}},
    {"(3,1,5,7)@(4,7,2): both batches broadcast", {3, 1, 5, 7}, {4, 7, 2}},
    {"(5,7)^T@(7,3): a transposed", {7, 5}, {7, 3}, true, false},
    {"(5,7)@(7,3)^T: b transposed", {5, 7}, {3, 7}, false, true},
    {"(2,5,7)^T@(2,7,3)^T: both transposed, batched", {2, 7, 5}, {2, 3, 7}, true, true},
    {"(1,7)@(7,1): M = N = 1", {1, 7}, {7, 1}},
    {"(6,1)@(1,4): K = 1", {6, 1}, {1, 4}},
    {"(64,300)@(300,40): longer reduction", {64, 300}, {300, 40}},
};

}  // namespace

SPK_CUDA_PARITY_CASE(matmul, "every operand layout: folded, strided, broadcast and transposed; K = 1, M = N = 1") {
  if (!test::gpu_or_skip()) return;
  Rng rng(1337);
  for (const MatmulCase& c : kMatmulCases) {
    const bool ta = c.transpose_a, tb = c.transpose_b;
    test::Fn f = [ta, tb](const std::vector<Tensor>& in) {
      Tensor a = ta ? transpose(in[0], -1, -2) : in[0], b = tb ? transpose(in[1], -1, -2) : in[1];
      return matmul(a, b);
    };
    // Reduction lengths: K forward, N for da, M·batch for db; the tolerance follows the longest.
    Shape as = c.a, bs = c.b;
    if (ta) std::swap(as[as.size() - 1], as[as.size() - 2]);
    if (tb) std::swap(bs[bs.size() - 1], bs[bs.size() - 2]);
    const int64_t K = as.back(), N = bs.back();
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < as.size(); ++i) rows *= as[i];
    for (size_t i = 0; i + 2 < bs.size(); ++i) rows *= bs[i];
    const int64_t longest = std::max({K, N, rows});
    cuda_parity(std::string("matmul ") + c.name, f, {rand_f32(c.a, rng), rand_f32(c.b, rng)}, gemm_tol(K),
                gemm_tol(longest));
  }
}

SPK_CUDA_PARITY_CASE(matmul, "linear layer shapes: (N, in) @ weight^T + bias") {
  if (!test::gpu_or_skip()) return;
  Rng rng(11);
  test::Fn f = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  cuda_parity("linear (20,3,96) x (40,96)", f, {rand_f32({20, 3, 96}, rng), rand_f32({40, 96}, rng), rand_f32({40}, rng)},
              gemm_tol(96), gemm_tol(60));
}

// ---------------------------------------------------------------------------------------------- contiguous

SPK_CUDA_PARITY_CASE(contiguous, "transposed, permuted, sliced with a step, expanded; exact") {
  if (!test::gpu_or_skip()) return;
  Rng rng(1337);
  cuda_parity("contiguous of a transpose (33,65)^T",
              [](const std::vector<Tensor>& in) { return contiguous(transpose(in[0], 0, 1)); },
              {rand_f32({33, 65}, rng)}, kExact, kExact);
  cuda_parity("contiguous of a permute (2,3,4,5) -> (3,5,2,4)",
              [](const std::vector<Tensor>& in) { return contiguous(permute(in[0], {1, 3, 0, 2})); },
              {rand_f32({2, 3, 4, 5}, rng)}, kExact, kExact);
  cuda_parity("contiguous of slice(1, 2, 17, step 3) of (4,19,6)",
              [](const std::vector<Tensor>& in) { return contiguous(slice(in[0], 1, 2, 17, 3)); },
              {rand_f32({4, 19, 6}, rng)}, kExact, kExact);
  // The gradient of an expand sums over the broadcast dim: kSum, not exact.
  cuda_parity("contiguous of an expand (1,5) -> (4,5)",
              [](const std::vector<Tensor>& in) { return contiguous(expand(in[0], {4, 5})); },
              {rand_f32({1, 5}, rng)}, kExact, kSum);
  cuda_parity("contiguous of a dense tensor is the tensor",
              [](const std::vector<Tensor>& in) { return contiguous(in[0]); }, {rand_f32({3, 5}, rng)}, kExact, kExact);
}
