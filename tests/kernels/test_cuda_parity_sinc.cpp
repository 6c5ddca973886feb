// CUDA-vs-CPU parity for the SincNet ops (kernels/sinc/sinc_cuda.cu): sinc_filters forward/backward and
// sinc_conv1d, whose CUDA forward builds the filters inside the conv kernel, against the CPU ops (gradchecked in
// double, tests/engine/test_sinc.cpp). Both conventions, odd sizes (outputs not a multiple of the 256-position
// tile, filter counts not a multiple of the 8-row group), stride and padding. Without a GPU every case skips.
//
// Tolerances: filter taps are computed in double on both devices and rounded to f32 (kFilt: a few f32 ulps of
// ~1). The fused forward sums K products in fp32 FMA order, the CPU in its GEMM's order: atol 1e-5 + 2e-6·K
// (the conv parity's fp32 bound). The backward's conv runs with the spk backend's direct fp32 kernels (forced
// here, so TF32 rounding does not hide a wrong tap), then the cut-off gradients sum F·K terms in double from
// those f32 dfilters; each tap's dh/da is O(K/fs·fs) so an absolute 1e-3 and rtol 1e-3 on them.
#include <string>

#include "cuda_parity.h"
#include "engine/conv_context.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {

constexpr Tol kFilt{1e-6, 1e-6};

SincOptions sinc_opts(SincConvention c, int64_t K, int64_t stride, int64_t padding) {
  SincOptions o;
  o.convention = c;
  o.kernel_size = K;
  o.stride = stride;
  o.padding = padding;
  return o;
}

// Mel-initialised cut-offs, perturbed so some low_hz_ are negative and one band passes fs/2 (clamp).
std::pair<Tensor, Tensor> cutoffs(int64_t C, Rng& rng) {
  auto [low, band] = sinc_init_cutoffs(C, SincOptions{}, DType::f32);
  Tensor l = mul(low, rand_f32({C, 1}, rng, -1.2, 1.2)), b = mul(band, rand_f32({C, 1}, rng, 0.5, 1.5));
  return {l.contiguous(), b.contiguous()};
}

struct AlgoGuard {   // the spk backend's direct fp32 kernels for the backward's conv, restored on exit
  ConvCudaOptions saved = conv_cuda_options();
  AlgoGuard() {
    conv_cuda_options().backend = ConvCudaBackend::spk;
    conv_cuda_options().algo = ConvCudaAlgo::direct;
  }
  ~AlgoGuard() { conv_cuda_options() = saved; }
};

}  // namespace

SPK_CUDA_PARITY_CASE(sinc_filters, "sincnet and asteroid, C 1/5/80, K 3/17/251") {
  if (!test::gpu_or_skip()) return;
  Rng rng(21);
  for (SincConvention c : {SincConvention::sincnet, SincConvention::asteroid})
    for (int64_t C : {int64_t(1), int64_t(5), int64_t(80)})
      for (int64_t K : {int64_t(3), int64_t(17), int64_t(251)}) {
        auto [low, band] = cutoffs(C, rng);
        const SincOptions o = sinc_opts(c, K, 1, 0);
        test::Fn f = [o](const std::vector<Tensor>& in) { return sinc_filters(in[0], in[1], o); };
        cuda_parity(std::string("sinc_filters ") + (c == SincConvention::asteroid ? "asteroid" : "sincnet") + " C " +
                        std::to_string(C) + " K " + std::to_string(K),
                    f, {low, band}, kFilt, Tol{1e-3, 1e-3});
      }
}

SPK_CUDA_PARITY_CASE(sinc_conv1d, "fused forward; x, low_hz, band_hz gradients; stride 1/3/10/200, padding") {
  if (!test::gpu_or_skip()) return;
  AlgoGuard direct;
  Rng rng(22);
  struct Case { SincConvention conv; int64_t C, K, stride, padding, N, L; };
  for (const Case& c : {Case{SincConvention::sincnet, 5, 17, 1, 0, 2, 300},
                        Case{SincConvention::sincnet, 80, 251, 1, 0, 2, 3000},
                        Case{SincConvention::asteroid, 9, 31, 3, 7, 3, 777},
                        Case{SincConvention::asteroid, 128, 251, 10, 0, 2, 4000},
                        // stride 200: the tile's waveform span exceeds the shared-memory budget (unstaged path)
                        Case{SincConvention::sincnet, 3, 17, 200, 1, 1, 60000}}) {
    auto [low, band] = cutoffs(c.C, rng);
    const SincOptions o = sinc_opts(c.conv, c.K, c.stride, c.padding);
    test::Fn f = [o](const std::vector<Tensor>& in) { return sinc_conv1d(in[0], in[1], in[2], o); };
    const double k = double(c.K);
    cuda_parity(std::string("sinc_conv1d C ") + std::to_string(c.C) + " K " + std::to_string(c.K) + " stride " +
                    std::to_string(c.stride),
                f, {rand_f32({c.N, 1, c.L}, rng), low, band}, Tol{1e-5 + 2e-6 * k, 1e-5}, Tol{1e-3, 1e-3});
  }
}
