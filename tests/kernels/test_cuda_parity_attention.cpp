// CUDA-vs-CPU parity for layer_norm (kernels/norm) and the attention core scaled_dot_attention
// (kernels/attention): forward and backward on the GPU against the CPU reference in f32. Without a GPU every
// case says it was skipped. Neither has run on a GPU yet (written on a machine without one).
//
// Tolerances, per tensor, |gpu − cpu| <= atol + rtol·|cpu|:
//   layer_norm  every sum in double on both devices, in different orders: the batch/instance-norm bound
//               (one f32 ulp, and ~1e-7 of the terms where the backward's D·ĝ − Σĝ − x̂·Σĝx̂ cancels).
//   attention   dot products, softmax sums and weighted sums in double on both devices, in different orders,
//               rounded to f32 once each: the probabilities and outputs differ by an f32 ulp or two; the
//               backward goes through two such stages: 1e-6 absolute, 1e-5 relative.
#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {
constexpr Tol kNorm{1e-6, 1e-5};
constexpr Tol kAttn{1e-6, 1e-5};
}  // namespace

SPK_CUDA_PARITY_CASE(layer_norm, "(300,192) affine, (2,5,8) plain, (3,1000) around 100, (1,1)") {
  if (!test::gpu_or_skip()) return;
  Rng rng(41);
  struct Case { const char* name; Shape shape; bool affine; double offset; };
  for (const Case& c : {Case{"(300,192) affine", {300, 192}, true, 0}, Case{"(2,5,8) plain", {2, 5, 8}, false, 0},
                        Case{"(3,1000) around 100", {3, 1000}, true, 100}, Case{"(1,1) affine", {1, 1}, true, 0}}) {
    const bool affine = c.affine;
    test::Fn f = [affine](const std::vector<Tensor>& in) {
      return affine ? layer_norm(in[0], in[1], in[2]) : layer_norm(in[0]);
    };
    const int64_t D = c.shape.back();
    cuda_parity(std::string("layer_norm ") + c.name, f,
                {add_scalar(rand_f32(c.shape, rng, -2, 2), c.offset), rand_f32({D}, rng, 0.5, 1.5),
                 rand_f32({D}, rng, -0.5, 0.5)},
                kNorm, kNorm);
  }
}

SPK_CUDA_PARITY_CASE(scaled_dot_product_attention,
                     "(300,192) 4 heads key = value (the blip ITM head), (2,7,12) 3 heads 5 keys, (1,1,4)") {
  if (!test::gpu_or_skip()) return;
  Rng rng(43);
  struct Case { const char* name; Shape q, kv; int64_t H; bool same_kv; };
  for (const Case& c : {Case{"(300,192) 4 heads, key = value", {300, 192}, {300, 192}, 4, true},
                        Case{"(2,7,12) 3 heads, 5 keys", {2, 7, 12}, {2, 5, 12}, 3, false},
                        Case{"(1,1,4) 1 head", {1, 1, 4}, {1, 1, 4}, 1, false}}) {
    const int64_t H = c.H;
    const bool same = c.same_kv;
    test::Fn f = [H, same](const std::vector<Tensor>& in) {
      return scaled_dot_product_attention(in[0], in[1], same ? in[1] : in[2], H);
    };
    cuda_parity(std::string("scaled_dot_product_attention ") + c.name, f,
                {rand_f32(c.q, rng, -1, 1), rand_f32(c.kv, rng, -1, 1), rand_f32(c.kv, rng, -1, 1)}, kAttn, kAttn);
  }
}
