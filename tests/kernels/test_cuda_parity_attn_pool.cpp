// CUDA-vs-CPU parity for the fused attentive pooling (kernels/attnpool): sap_pool and attentive_stats_pool, forward
// and backward, on the GPU against the CPU kernels in f32. Without a GPU each case says it was skipped. Not run on
// a GPU yet (written on a machine without one; the .cu compiles with nvcc for sm_90).
//
// Tolerance, per tensor, |gpu − cpu| <= atol + rtol·|cpu|: both devices sum in f32, in different orders (CPU: four
// partial sums per row, GPU: warp trees), over up to a few hundred frames or channels of O(1) terms, and CUDA's
// expf/tanhf are within 2 ulp of glibc's: a few 1e-6 relative on the sums; the variance m2 − mu² and the
// softmax's backward g − Σ w g subtract O(1) values, so the bound is absolute as well: 2e-5, 1e-4.
#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {
constexpr Tol kPool{2e-5, 1e-4};
}  // namespace

SPK_CUDA_PARITY_CASE(sap_pool, "ResNetSE34L (4,50) H=D=128 SAP and ASP; (3,7) H 5 D 300 (channels past one block)") {
  if (!test::gpu_or_skip()) return;
  Rng rng(61);
  struct Case { const char* name; int64_t B, L, H, D; };
  for (const Case& c : {Case{"(4,50) H 128 D 128", 4, 50, 128, 128}, Case{"(3,7) H 5 D 300", 3, 7, 5, 300}})
    for (bool with_std : {false, true}) {
      test::Fn f = [with_std](const std::vector<Tensor>& in) { return sap_pool(in[0], in[1], in[2], with_std); };
      std::vector<Tensor> in{rand_f32({c.B, c.L, c.H}, rng, -2, 2), rand_f32({c.H, 1}, rng, -0.3, 0.3),
                             rand_f32({c.B, c.L, c.D}, rng, 0, 2)};
      cuda_parity(std::string("sap_pool ") + c.name + (with_std ? " ASP" : " SAP"), f, in, kPool, kPool);
    }
}

SPK_CUDA_PARITY_CASE(attentive_stats_pool,
                     "ECAPA (2,1536,200) per channel; shared weights (3,64,1,90); mean only (2,33,33,5)") {
  if (!test::gpu_or_skip()) return;
  Rng rng(62);
  struct Case { const char* name; int64_t B, C, Cw, L; bool with_std; double lo, hi; };
  for (const Case& c : {Case{"(2,1536,1536,200) ECAPA", 2, 1536, 1536, 200, true, 1e-4, 1e30},
                        Case{"(3,64,1,90) shared, RawNet3 clamp", 3, 64, 1, 90, true, 1e-4, 1e4},
                        Case{"(2,33,33,5) mean only", 2, 33, 33, 5, false, 1e-4, 1e30}}) {
    const bool s = c.with_std;
    const double lo = c.lo, hi = c.hi;
    test::Fn f = [=](const std::vector<Tensor>& in) { return attentive_stats_pool(in[0], in[1], s, lo, hi); };
    std::vector<Tensor> in{rand_f32({c.B, c.Cw, c.L}, rng, -3, 3), rand_f32({c.B, c.C, c.L}, rng, 0, 2)};
    cuda_parity(std::string("attentive_stats_pool ") + c.name, f, in, kPool, kPool);
  }
}
