// CUDA-vs-CPU parity for the GRU recurrence gru_sequence (kernels/gru): forward and backward through time on the
// GPU against the CPU reference in f32. Without a GPU the case says it was skipped. Not run on a GPU yet (written
// on a machine without one; the .cu compiles with nvcc for sm_90).
//
// Tolerance, per tensor, |gpu − cpu| <= atol + rtol·|cpu|: every dot product and sum runs in double in the CPU's
// order on both devices, so the doubles differ only where CUDA's exp/tanh differ from glibc's (an ulp or two) or a
// product is contracted into an FMA outside the dots; each step rounds h to f32 and the next reads the rounded
// value, so a one-ulp difference can travel through the L steps (damped by σ, tanh < 1): 1e-6 absolute, 1e-5
// relative, as the attention core's two-stage bound.
#include <cmath>

#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {
constexpr Tol kGru{1e-6, 1e-5};
}  // namespace

SPK_CUDA_PARITY_CASE(gru_sequence,
                     "CPC context (8,40,3·256) with b_hh, (3,9,3·300) H above one block's threads, (2,1,3) no bias") {
  if (!test::gpu_or_skip()) return;
  Rng rng(47);
  struct Case { const char* name; int64_t B, L, H; bool bias; };
  for (const Case& c : {Case{"(8,40) H 256, b_hh", 8, 40, 256, true}, Case{"(3,9) H 300, b_hh", 3, 9, 300, true},
                        Case{"(2,1) H 1, no b_hh", 2, 1, 1, false}}) {
    const bool bias = c.bias;
    test::Fn f = [bias](const std::vector<Tensor>& in) {
      return gru_sequence(in[0], in[1], in[2], bias ? in[3] : Tensor());
    };
    const double bound = 1.0 / std::sqrt(double(c.H));   // torch's init: keeps the gates off saturation
    std::vector<Tensor> in{rand_f32({c.B, c.L, 3 * c.H}, rng, -1, 1), rand_f32({c.B, c.H}, rng, -1, 1),
                           rand_f32({3 * c.H, c.H}, rng, -bound, bound)};
    if (bias) in.push_back(rand_f32({3 * c.H}, rng, -bound, bound));
    cuda_parity(std::string("gru_sequence ") + c.name, f, in, kGru, kGru);
  }
}
