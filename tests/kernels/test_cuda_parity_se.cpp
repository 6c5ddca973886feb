// CUDA-vs-CPU parity for the SE-block ops (kernels/se): squeeze_excite forward and backward (dx, dw1, db1, dw2, db2)
// and add_relu, in f32. Without a GPU each case says it was skipped. Not run on a GPU yet (written on a machine
// without one; se_cuda.cu compiles with nvcc for sm_90).
//
// Tolerances, per tensor, |gpu − cpu| <= atol + rtol·|cpu|:
//   kSe      the GPU sums everything in double; the CPU's two small products are OpenBLAS sgemm (f32 sums over C
//            or R terms, ~√C ulp: 1.4e-6 relative at C = 512) and its row sums add 16 values per f32 lane
//            before carrying in double. The weight gradients sum N products of such values, and dx adds the
//            pooled gradient (an f32 product over R) to dy·s: 2e-5 absolute, 1e-4 relative covers them with
//            room, while a wrong index or a missing term is off by the size of a term (≥ 1e-2 here).
//   kExact   add_relu: one f32 add and a compare on both devices (__fadd_rn: no contraction).
#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {
constexpr Tol kSe{2e-5, 1e-4};
constexpr Tol kExact{0, 0};
}  // namespace

SPK_CUDA_PARITY_CASE(squeeze_excite,
                     "ResNetSE34L layer1 (8,32,20,101) r 8, ECAPA (4,512,202) R 128, odd (3,5,7) R 3 no biases") {
  if (!test::gpu_or_skip()) return;
  Rng rng(61);
  struct Case { const char* name; Shape shape; int64_t R; bool bias; };
  for (const Case& c : {Case{"(8,32,20,101) R 4", {8, 32, 20, 101}, 4, true},
                        Case{"(4,512,202) R 128", {4, 512, 202}, 128, true},
                        Case{"(3,5,7) R 3 no biases", {3, 5, 7}, 3, false}}) {
    const int64_t C = c.shape[1];
    const bool bias = c.bias;
    test::Fn f = [bias](const std::vector<Tensor>& in) {
      return squeeze_excite(in[0], in[1], bias ? in[3] : Tensor(), in[2], bias ? in[4] : Tensor());
    };
    std::vector<Tensor> in{rand_f32(c.shape, rng, -2, 2), rand_f32({c.R, C}, rng, -0.3, 0.3),
                           rand_f32({C, c.R}, rng, -0.3, 0.3)};
    if (bias) {
      in.push_back(rand_f32({c.R}, rng, -0.2, 0.2));
      in.push_back(rand_f32({C}, rng, -0.2, 0.2));
    }
    cuda_parity(std::string("squeeze_excite ") + c.name, f, in, kSe, kSe);
  }
}

SPK_CUDA_PARITY_CASE(add_relu, "(8,32,20,101) and 3·8192·256 + 5 elements (grid-stride wrap)") {
  if (!test::gpu_or_skip()) return;
  Rng rng(62);
  for (const Shape& s : {Shape{8, 32, 20, 101}, Shape{3 * 8192 * 256 + 5}}) {
    test::Fn f = [](const std::vector<Tensor>& in) { return add_relu(in[0], in[1]); };
    cuda_parity("add_relu " + shape_str(s), f, {rand_f32(s, rng), rand_f32(s, rng)}, kExact, kExact);
  }
}
