// Test support: finite-difference gradient checks in double, tolerance-aware comparisons, and the
// registries that tests/engine/test_op_table.cpp walks to prove every op in engine/ops.def is covered.
//
// How to cover an op (see tests/engine/test_elementwise.cpp for examples):
//   SPK_GRADCHECK_CASE(conv2d, "k3 s2 p1 odd sizes") {
//     spk::Rng rng(1337);
//     auto x = spk::test::rand_input({2, 3, 7, 9}, rng), w = spk::test::rand_input({4, 3, 3, 3}, rng);
//     spk::test::gradcheck([](auto& in) { return spk::conv2d(in[0], in[1], {}, {2, 2}, {1, 1}); }, {x, w});
//   }
//   SPK_CUDA_PARITY_CASE(relu, "1000 elements") { ... runs only with a GPU; compare with expect_close ... }
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cuda.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace spk::test {

bool mark_gradcheck(OpId id);       // static registration; returns true
bool mark_cuda_parity(OpId id);
bool has_gradcheck(OpId id);
bool has_cuda_parity(OpId id);

// A CPU f64 leaf with uniform values in [lo, hi), requiring grad.
Tensor rand_input(const Shape& shape, Rng& rng, double lo = -1, double hi = 1);

struct GradTol {
  double eps = 1e-6;    // central-difference step (PyTorch gradcheck's default)
  double atol = 1e-5;
  double rtol = 1e-3;
};

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks the backward of f against central differences of L = Σ w ⊙ f(inputs), w a fixed random
// weighting, for every input that requires grad. f must be deterministic (reseed any Rng inside f).
// Reports the worst element (input, index, analytic, numeric) on failure.
void gradcheck(const Fn& f, const std::vector<Tensor>& inputs, GradTol tol = {});

// Per-element |got - ref| <= atol + rtol·|ref|, NaN never passes. `text` is what a failing expect_close prints:
// the count outside tolerance and the worst element (index, got, expected, error/allowed).
struct CloseReport {
  int64_t bad = 0;           // elements outside tolerance (all of them when the sizes differ)
  int64_t worst_index = -1;  // largest error/allowed, NaN counting as infinite; -1 when empty or sizes differ
  double got = 0, expected = 0, excess = 0;
  std::string text;
};
CloseReport compare_close(const std::vector<double>& got, const std::vector<double>& ref, double atol, double rtol,
                          const std::string& what);

// Per-element |got - ref| <= atol + rtol·|ref|, shapes equal, NaN never passes; prints the worst pair.
void expect_close(const Tensor& got, const Tensor& ref, double atol, double rtol, const std::string& what);
void expect_close(const Tensor& got, const std::vector<double>& ref, double atol, double rtol, const std::string& what);

// True when a GPU is present; otherwise prints a visible "skipped" message for the current case.
bool gpu_or_skip();

}  // namespace spk::test

#define SPK_TEST_CAT2(a, b) a##b
#define SPK_TEST_CAT(a, b) SPK_TEST_CAT2(a, b)

#define SPK_GRADCHECK_CASE(op, name)                                                                 \
  static const bool SPK_TEST_CAT(spk_gradcheck_reg_, __LINE__) = ::spk::test::mark_gradcheck(::spk::OpId::op); \
  TEST_CASE("gradcheck " #op ": " name)

#define SPK_CUDA_PARITY_CASE(op, name)                                                               \
  static const bool SPK_TEST_CAT(spk_parity_reg_, __LINE__) = ::spk::test::mark_cuda_parity(::spk::OpId::op); \
  TEST_CASE("cuda parity " #op ": " name)
