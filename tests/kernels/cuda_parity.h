// CUDA-vs-CPU parity harness for the SPK_CUDA_PARITY_CASEs in tests/kernels/test_cuda_parity*.cpp.
//
// The CPU kernels are the spec (each has its own finite-difference gradcheck in double); the GPU is
// checked against them in f32, forward and backward, with tolerances stated per case:
//   cuda_parity("add (3,5)+(5)", f, {a, b}, fwd_tol, bwd_tol)
// runs f on CPU copies and on GPU copies of the inputs (floating inputs become leaves that require
// grad; integer inputs such as labels are copied as they are), compares the outputs, backpropagates
// the same random cotangent on both devices and compares every floating input's gradient.
#pragma once
#include <string>
#include <vector>

#include "support/check.h"

namespace spk::test {

// |gpu − cpu| <= atol + rtol·|cpu| per element.
struct Tol {
  double atol = 0, rtol = 0;
};

void cuda_parity(const std::string& what, const Fn& f, const std::vector<Tensor>& inputs, Tol fwd, Tol bwd);

// A CPU f32 tensor with uniform values in [lo, hi) (not requiring grad: cuda_parity makes the leaves).
Tensor rand_f32(const Shape& shape, Rng& rng, double lo = -1, double hi = 1);

}  // namespace spk::test
