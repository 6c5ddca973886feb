// CUDA-vs-CPU parity for conv1d and conv2d (kernels/conv/conv_cuda.cu, conv_cudnn_cuda.cpp): forward and the
// gradients of input, weight and bias, against the CPU op (itself gradchecked in double), for every CUDA
// implementation: the spk backend's automatic choice, its TF32 implicit GEMM forced, its direct fp32 kernels
// forced, and cuDNN when this build has it. Shapes are odd on purpose (no dimension a multiple of a tile),
// with stride, padding, dilation, groups, 1x1 and 7x7 kernels, and sizes that take several M/N tiles and
// the split-K path of the weight gradient. Without a GPU every case skips with a visible message.
//
// Tolerances, per tensor |gpu − cpu| <= atol + rtol·|cpu|; inputs uniform in [-1, 1), cotangent N(0, 1);
// K is the GEMM's inner size (forward C_in/g·KH·KW, input gradient C_out/g·KH·KW, weight gradient N·H_out·W_out):
//   TF32 (igemm, cuDNN)  fwd atol 2e-3·sqrt(K), bwd atol 4e-3·sqrt(K), rtol 1e-3. TF32 keeps 10 mantissa
//       bits, so each product carries up to ~1e-3 relative error (std ~4e-4), random in sign: the error of a
//       K-term sum has std ~4e-4·sqrt(K)·(rms term). A relative bound alone would fail outputs that cancel to ~0;
//       the sqrt(K) absolute term is 15-18 such standard deviations (the worst of ~1e5 outputs is ~4.5;
//       tests/kernels/test_conv_cuda_host.cpp checks the bound on a TF32-rounding emulation of the kernel) and
//       still far below the error of one wrong or missing tap. The backward terms (N(0, 1) · uniform) are ~1.7x
//       larger than the forward's, hence twice the atol. cuDNN gets twice these: its heuristics may pick
//       Winograd or FFT algorithms, whose transforms add their own rounding to TF32's.
//   fp32 (direct)        atol 1e-5 + 2e-6·K, rtol 1e-5: summation order only.
// NaN never passes (expect_close), and every output buffer comes fresh from the allocator, so an element a
// kernel fails to write shows up as garbage.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cuda_parity.h"
#include "engine/conv_context.h"
#include "kernels/conv/conv.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {

struct ConvCase {
  std::string name;
  Shape x, w;   // (N, C_in, H, W) / (C_out, C_in/groups, KH, KW), or the 1-d forms
  std::pair<int64_t, int64_t> stride{1, 1}, pad{0, 0}, dil{1, 1};
  int64_t groups = 1;
  bool bias = false;
};

const std::vector<ConvCase> kConv2d{
    {"(2,5,7,9) w(6,5,3,3) p1 bias", {2, 5, 7, 9}, {6, 5, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true},
    {"(3,4,9,11) w(7,4,3,3) s2 p1", {3, 4, 9, 11}, {7, 4, 3, 3}, {2, 2}, {1, 1}},
    {"(2,6,8,10) w(4,3,3,2) s(1,2) p(2,0) d(2,1) g2 bias", {2, 6, 8, 10}, {4, 3, 3, 2}, {1, 2}, {2, 0}, {2, 1}, 2, true},
    {"(2,16,9,13) w(33,16,1,1) s2: downsample", {2, 16, 9, 13}, {33, 16, 1, 1}, {2, 2}},
    {"(2,1,24,31) w(16,1,7,7) s(2,1) p3: stem", {2, 1, 24, 31}, {16, 1, 7, 7}, {2, 1}, {3, 3}},
    {"(4,32,10,51) w(64,32,3,3) p1", {4, 32, 10, 51}, {64, 32, 3, 3}, {1, 1}, {1, 1}},
    {"(8,64,5,51) w(128,64,3,3) p1: split-K", {8, 64, 5, 51}, {128, 64, 3, 3}, {1, 1}, {1, 1}},
    {"(3,17,13,29) w(130,17,3,3) s(2,1) p1 bias: two M tiles", {3, 17, 13, 29}, {130, 17, 3, 3}, {2, 1}, {1, 1}, {1, 1}, 1, true},
};

const std::vector<ConvCase> kConv1d{
    {"(2,20,37) w(70,20,5) p6 d3 bias", {2, 20, 37}, {70, 20, 5}, {1, 1}, {6, 6}, {3, 3}, 1, true},
    {"(4,128,60) w(128,128,3) p2 d2 bias: TDNN", {4, 128, 60}, {128, 128, 3}, {1, 1}, {2, 2}, {2, 2}, 1, true},
    {"(2,64,50) w(96,64,1): 1x1", {2, 64, 50}, {96, 64, 1}},
    {"(3,33,41) w(65,33,3) s2 p1 d4", {3, 33, 41}, {65, 33, 3}, {2, 2}, {1, 1}, {4, 4}},
    {"(2,8,19) w(6,4,3) p1 g2 bias", {2, 8, 19}, {6, 4, 3}, {1, 1}, {1, 1}, {1, 1}, 2, true},
};

// One CUDA implementation to check; restores the process-wide options however the case ends.
struct Variant {
  const char* name;
  ConvCudaBackend backend;
  ConvCudaAlgo algo;
  bool tf32;
};
struct OptionsGuard {
  ConvCudaOptions saved = conv_cuda_options();
  ~OptionsGuard() { conv_cuda_options() = saved; }
};

std::vector<Variant> variants() {
  std::vector<Variant> v{{"spk auto", ConvCudaBackend::spk, ConvCudaAlgo::automatic, true},
                         {"spk igemm", ConvCudaBackend::spk, ConvCudaAlgo::igemm, true},
                         {"spk direct", ConvCudaBackend::spk, ConvCudaAlgo::direct, false}};
  if (conv_cudnn_built()) v.push_back({"cudnn", ConvCudaBackend::cudnn, ConvCudaAlgo::automatic, true});
  else MESSAGE("conv parity: this build has no cuDNN, the cudnn backend is not checked");
  return v;
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

void run_cases(const std::vector<ConvCase>& cases, bool is2d) {
  OptionsGuard guard;
  for (const Variant& v : variants()) {
    conv_cuda_options().backend = v.backend;
    conv_cuda_options().algo = v.algo;
    Rng rng(1337);
    for (const ConvCase& c : cases) {
      const int64_t kh = is2d ? c.w[2] : 1, kw = c.w[is2d ? 3 : 2];
      const int64_t Kf = c.w[1] * kh * kw, Kx = c.w[0] / c.groups * kh * kw;
      const int64_t Ho = is2d ? out_size(c.x[2], kh, c.stride.first, c.pad.first, c.dil.first) : 1;
      const int64_t Wo = out_size(c.x[is2d ? 3 : 2], kw, c.stride.second, c.pad.second, c.dil.second);
      const int64_t Kw = c.x[0] * Ho * Wo, Kb = std::max(Kx, Kw);
      const double loose = v.backend == ConvCudaBackend::cudnn ? 2 : 1;
      const Tol fwd = v.tf32 ? Tol{loose * 2e-3 * std::sqrt(double(Kf)), loose * 1e-3}
                             : Tol{1e-5 + 2e-6 * double(Kf), 1e-5};
      const Tol bwd = v.tf32 ? Tol{loose * 4e-3 * std::sqrt(double(Kb)), loose * 1e-3}
                             : Tol{1e-5 + 2e-6 * double(Kb), 1e-5};
      test::Fn f = [c, is2d](const std::vector<Tensor>& in) {
        const Tensor b = c.bias ? in[2] : Tensor();
        return is2d ? conv2d(in[0], in[1], b, c.stride, c.pad, c.dil, c.groups)
                    : conv1d(in[0], in[1], b, c.stride.first, c.pad.first, c.dil.first, c.groups);
      };
      std::vector<Tensor> inputs{rand_f32(c.x, rng), rand_f32(c.w, rng)};
      if (c.bias) inputs.push_back(rand_f32({c.w[0]}, rng));
      cuda_parity(std::string(is2d ? "conv2d " : "conv1d ") + c.name + " [" + v.name + "]", f, inputs, fwd, bwd);
    }
  }
}

}  // namespace

SPK_CUDA_PARITY_CASE(conv2d, "odd shapes, stride/padding/dilation/groups, 1x1, 7x7, split-K; spk igemm, direct, cudnn") {
  if (!test::gpu_or_skip()) return;
  run_cases(kConv2d, true);
}

SPK_CUDA_PARITY_CASE(conv1d, "odd shapes, dilation 3/4, stride 2, groups, 1x1, TDNN width; spk igemm, direct, cudnn") {
  if (!test::gpu_or_skip()) return;
  run_cases(kConv1d, false);
}
