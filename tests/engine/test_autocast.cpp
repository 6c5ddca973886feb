// Autocast (engine/autocast.h): the rounding to bf16/fp16 against hand-worked values (ties to even, subnormals,
// inf/NaN, fp16 overflow), and matmul/conv under autocast against double loops over the rounded operands, forward
// and backward (the backward under the forward's mode, with the incoming gradient rounded too).
#include <cfloat>
#include <cmath>
#include <limits>

#include "engine/autocast.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "kernels/conv/conv.h"
#include "support/check.h"

using namespace spk;

namespace {

float bf(float x) { return round_to_half(x, DType::bf16); }
float hf(float x) { return round_to_half(x, DType::f16); }

// (M, K) @ (K, N) in double over the operands rounded to `half`.
std::vector<double> ref_rounded_mm(const Tensor& a, const Tensor& b, DType half) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  const auto va = a.contiguous().to_double(), vb = b.contiguous().to_double();
  std::vector<double> c(size_t(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k)
        c[size_t(i * N + j)] += double(round_to_half(float(va[size_t(i * K + k)]), half)) *
                                double(round_to_half(float(vb[size_t(k * N + j)]), half));
  return c;
}

bool same_bits(const Tensor& x, const Tensor& y) {
  const auto a = x.contiguous().to_double(), b = y.contiguous().to_double();
  return a == b;
}

}  // namespace

TEST_CASE("bf16 rounding: ties to even, subnormals, inf, NaN, signed zero") {
  CHECK(bf(1.0f) == 1.0f);
  CHECK(bf(1.0f + std::ldexp(1.0f, -8)) == 1.0f);                                   // tie, 1 is even
  CHECK(bf(1.0f + 3 * std::ldexp(1.0f, -8)) == 1.0f + std::ldexp(1.0f, -6));       // tie, rounds up to even
  CHECK(bf(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 1.0f + std::ldexp(1.0f, -7));   // above a tie
  CHECK(bf(0.1f) == 0.10009765625f);                                                // 0x3dcd
  CHECK(bf(std::ldexp(1.0f, -130)) == std::ldexp(1.0f, -130));                      // f32 subnormal, exact in bf16
  CHECK(bf(std::ldexp(1.0f, -140)) == 0.0f);                                        // below half the least bf16
  CHECK(bf(FLT_MAX) == std::numeric_limits<float>::infinity());                     // rounds past bf16's max
  CHECK(bf(3.0e38f) == std::ldexp(226.0f, 120));                                    // 225.7 ulps of 2^120 -> 226
  CHECK(bf(-std::numeric_limits<float>::infinity()) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(bf(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::signbit(bf(-0.0f)));
}

TEST_CASE("fp16 rounding: ties to even, subnormals, overflow to inf, NaN") {
  CHECK(hf(1.0f + std::ldexp(1.0f, -11)) == 1.0f);                                  // tie, 1 is even
  CHECK(hf(1.0f + 3 * std::ldexp(1.0f, -11)) == 1.0f + std::ldexp(1.0f, -9));      // tie, up to even
  CHECK(hf(0.1f) == 0.0999755859375f);                                              // 0x2e66
  CHECK(hf(65504.0f) == 65504.0f);                                                  // the largest fp16
  CHECK(hf(65519.0f) == 65504.0f);                                                  // below the tie at 65520
  CHECK(hf(65520.0f) == std::numeric_limits<float>::infinity());                    // the tie goes to inf
  CHECK(hf(-1.0e5f) == -std::numeric_limits<float>::infinity());
  CHECK(hf(std::ldexp(1.0f, -14)) == std::ldexp(1.0f, -14));                        // least normal
  CHECK(hf(std::ldexp(1.0f, -24)) == std::ldexp(1.0f, -24));                        // least subnormal
  CHECK(hf(std::ldexp(1.0f, -25)) == 0.0f);                                         // tie between 0 and 2^-24
  CHECK(hf(3 * std::ldexp(1.0f, -25)) == std::ldexp(1.0f, -23));                    // tie, up to even
  CHECK(hf(std::ldexp(1.0f, -20) * 1.3f) == std::ldexp(21.0f, -24));                 // subnormal: 20.8 -> 21 ulps
  CHECK(std::isnan(hf(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::signbit(hf(-0.0f)));
}

TEST_CASE("rounded_to_half keeps shape and rounds a strided view element by element") {
  Rng rng(3);
  Tensor x = Tensor::uniform({3, 4}, rng, -2, 2);
  Tensor r = rounded_to_half(transpose(x, 0, 1), DType::bf16);
  REQUIRE(r.shape() == Shape{4, 3});
  const auto v = transpose(x, 0, 1).contiguous().to_vector<float>(), got = r.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) CHECK(got[i] == bf(v[i]));
}

TEST_CASE("AutocastGuard sets the mode per scope and restores it; f64 operands are never cast") {
  CHECK(!autocast_type());
  {
    const AutocastGuard on(DType::bf16);
    CHECK(autocast_type() == DType::bf16);
    {
      const AutocastGuard off(std::nullopt);
      CHECK(!autocast_type());
    }
    CHECK(autocast_type() == DType::bf16);
    CHECK(autocast_type_for(Tensor::zeros({1}, DType::f64)) == std::nullopt);
    CHECK(autocast_type_for(Tensor::zeros({1})) == DType::bf16);
  }
  CHECK(!autocast_type());
  CHECK_THROWS_WITH(AutocastGuard(DType::f32), doctest::Contains("bf16 or f16"));
}

TEST_CASE("matmul under autocast: the rounded operands' product, forward and backward") {
  Rng rng(11);
  for (DType half : {DType::bf16, DType::f16}) {
    CAPTURE(dtype_name(half));
    Tensor a = Tensor::uniform({5, 7}, rng, -1, 1).set_requires_grad();
    Tensor w = Tensor::uniform({6, 7}, rng, -1, 1).set_requires_grad();   // linear's (out, in): a transposed view
    Tensor y;
    {
      const AutocastGuard on(half);
      y = linear(a, w, Tensor());
    }
    const Tensor wt = transpose(w.detach(), 0, 1).contiguous();
    test::expect_close(y, ref_rounded_mm(a.detach(), wt, half), 1e-6, 1e-6, "forward");
    // The plain fp32 product differs: the rounding is real.
    CHECK(!same_bits(y, linear(a.detach(), w.detach(), Tensor())));
    // Backward outside the guard still runs the forward's mode: da = round(g) @ round(w), dw = round(g)ᵀ @ round(a).
    Tensor g = Tensor::uniform({5, 6}, rng, -1, 1);
    y.backward(g);
    test::expect_close(a.grad(), ref_rounded_mm(g, w.detach(), half), 1e-6, 1e-6, "da");
    test::expect_close(w.grad(), ref_rounded_mm(transpose(g, 0, 1).contiguous(), a.detach(), half), 1e-6, 1e-6, "dw");
  }
}

TEST_CASE("batched matmul under autocast with a broadcast operand") {
  Rng rng(12);
  Tensor a = Tensor::uniform({3, 4, 5}, rng, -1, 1), b = Tensor::uniform({5, 2}, rng, -1, 1);
  Tensor bb = Tensor::uniform({1, 5, 2}, rng, -1, 1);
  const AutocastGuard on(DType::f16);
  Tensor y = matmul(a, b), y2 = matmul(a, expand(bb, {3, 5, 2}));
  for (int64_t z = 0; z < 3; ++z) {
    Tensor az = reshape(slice(a, 0, z, z + 1), {4, 5});
    test::expect_close(reshape(slice(y, 0, z, z + 1), {4, 2}), ref_rounded_mm(az, b, DType::f16), 1e-6, 1e-6, "shared");
    test::expect_close(reshape(slice(y2, 0, z, z + 1), {4, 2}), ref_rounded_mm(az, reshape(bb, {5, 2}), DType::f16),
                       1e-6, 1e-6, "broadcast batch");
  }
}

TEST_CASE("conv1d under autocast: the rounded operands' conv, forward and backward, bias in fp32") {
  Rng rng(13);
  for (DType half : {DType::bf16, DType::f16}) {
    CAPTURE(dtype_name(half));
    Tensor x = Tensor::uniform({2, 3, 9}, rng, -1, 1).set_requires_grad();
    Tensor w = Tensor::uniform({4, 3, 3}, rng, -1, 1).set_requires_grad();
    Tensor b = Tensor::uniform({4}, rng, -1, 1).set_requires_grad();
    Tensor g = Tensor::uniform({2, 4, 9}, rng, -1, 1);
    Tensor y;
    {
      const AutocastGuard on(half);
      y = conv1d(x, w, b, 1, 1);
    }
    y.backward(g);
    // The same conv, not autocast, on operands rounded by hand, with the gradient rounded by hand.
    Tensor xr = rounded_to_half(x.detach(), half).set_requires_grad();
    Tensor wr = rounded_to_half(w.detach(), half).set_requires_grad();
    Tensor br = b.detach().clone().set_requires_grad();
    Tensor yr = conv1d(xr, wr, br, 1, 1);
    yr.backward(rounded_to_half(g, half));
    if (half == DType::bf16 && bf16_dnnl_usable()) {
      // oneDNN's bf16 kernels take the rounded operands exactly but sum in their own order (kernels/conv/conv.h
      // ConvCpuOptions::bf16): equal to f32 rounding, not bit for bit.
      test::expect_close(y, yr, 1e-5, 1e-6, "y");
      test::expect_close(x.grad(), xr.grad(), 1e-5, 1e-6, "dx");
      test::expect_close(w.grad(), wr.grad(), 1e-5, 1e-6, "dw");
    } else {
      CHECK(same_bits(y, yr));
      CHECK(same_bits(x.grad(), xr.grad()));
      CHECK(same_bits(w.grad(), wr.grad()));
    }
    CHECK(same_bits(b.grad(), br.grad()));
    CHECK(!same_bits(y, conv1d(x.detach(), w.detach(), b.detach(), 1, 1)));
  }
}
