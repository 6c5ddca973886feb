// CUDA-vs-CPU parity for the fused losses (kernels/loss/loss_cuda.cu): margin_softmax_ce and similarity_ce.
// These kernels were written without a GPU; this file is their first check on one (docs/cuda/losses.md).
//
// Tolerances, per tensor, |gpu − cpu| <= atol + rtol·|cpu|:
//   loss       a mean of logsumexps of logits up to s = 30 (margin) or |w| + |b| = 15 (similarity); the GPU sums
//              exp in a different order and uses libdevice expf: 1e-5 relative.
//   gradients  F·W and Fᵀ·x by cuBLAS (fp32, no TF32) vs OpenBLAS, minus a projection term that nearly cancels
//              the GEMM for the component along x: relative 1e-4, absolute 1e-6 (the gradients are
//              O(s/N · 1/‖x‖) ≈ 1e-3..1e-1 for these inputs, so the absolute term only matters near zero).
//   predictions argmax of the logits, compared exactly; a row whose two largest logits are within rounding of
//              each other could legitimately differ, so up to one mismatch per 256 rows is accepted and reported.
#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {

constexpr Tol kLossTol{1e-6, 1e-5};
constexpr Tol kGradTol{1e-6, 1e-4};

Tensor rand_labels(int64_t n, int64_t classes, Rng& rng) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.randint(0, classes);
  return Tensor::from_vector(v, {n});
}

void expect_same_pred(const std::string& what, const Tensor& gpu, const Tensor& cpu) {
  std::vector<int64_t> g = gpu.to_vector<int64_t>(), c = cpu.to_vector<int64_t>();
  REQUIRE(g.size() == c.size());
  size_t diff = 0;
  for (size_t i = 0; i < g.size(); ++i) diff += g[i] != c[i];
  if (diff) MESSAGE(what << ": " << diff << " of " << g.size() << " predictions differ");
  CHECK_MESSAGE(diff <= (g.size() + 255) / 256, what << ": predictions differ in " << diff << " rows");
}

}  // namespace

SPK_CUDA_PARITY_CASE(margin_softmax_ce, "AM / AAM / easy margin, (C, D) and (D, C), up to (256, 5994, 512)") {
  if (!test::gpu_or_skip()) return;
  Rng rng(1337);
  struct Case {
    const char* name;
    int64_t N, C, D;
    MarginSoftmaxOptions o;
  };
  const std::vector<Case> cases{
      {"(8,10,16) AAM", 8, 10, 16, {MarginKind::angular, 0.2, 30, false, false}},
      {"(8,10,16) AAM m 0.5 (fallback rows)", 8, 10, 16, {MarginKind::angular, 0.5, 12, false, false}},
      {"(8,10,16) AAM easy margin", 8, 10, 16, {MarginKind::angular, 0.2, 30, true, false}},
      {"(9,300,33) AM, W (D, C)", 9, 300, 33, {MarginKind::additive, 0.3, 30, false, true}},
      {"(37,1000,40) AAM, C and D not multiples of 32", 37, 1000, 40, {MarginKind::angular, 0.2, 30, false, false}},
      {"(256,5994,512) AAM: the VoxCeleb2 classifier", 256, 5994, 512, {MarginKind::angular, 0.2, 30, false, false}},
      {"(64,5994,512) AM, W (D, C)", 64, 5994, 512, {MarginKind::additive, 0.1, 30, false, true}},
  };
  for (const Case& c : cases) {
    const MarginSoftmaxOptions o = c.o;
    Tensor x = rand_f32({c.N, c.D}, rng);
    Tensor w = o.weight_by_columns ? rand_f32({c.D, c.C}, rng) : rand_f32({c.C, c.D}, rng);
    Tensor lab = rand_labels(c.N, c.C, rng);
    cuda_parity(std::string("margin_softmax_ce ") + c.name,
                [o](const std::vector<Tensor>& in) { return margin_softmax_ce(in[0], in[1], in[2], o).loss; },
                {x, w, lab}, kLossTol, kGradTol);
    expect_same_pred(std::string("margin_softmax_ce ") + c.name,
                     margin_softmax_ce(x.to(Device::cuda()), w.to(Device::cuda()), lab.to(Device::cuda()), o).pred,
                     margin_softmax_ce(x, w, lab, o).pred);
  }
  // The engine's label check runs before any kernel.
  Tensor x = rand_f32({4, 6}, rng).to(Device::cuda()), w = rand_f32({5, 6}, rng).to(Device::cuda());
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 5, 1, 1}, {4}).to(Device::cuda());
  CHECK_THROWS_WITH_AS(margin_softmax_ce(x, w, bad, {}), doctest::Contains("label 5 in row 1"), Error);
}

SPK_CUDA_PARITY_CASE(similarity_ce, "rows / both directions, eps rules, bias, N 7..400") {
  if (!test::gpu_or_skip()) return;
  Rng rng(1337);
  struct Case {
    const char* name;
    int64_t N, D;
    SimilarityCeOptions o;
    bool bias;
  };
  const std::vector<Case> cases{
      {"(7,5) angleproto", 7, 5, {false, CosineEps::product, 1e-8}, true},
      {"(7,5) anglecontrast", 7, 5, {true, CosineEps::product, 1e-8}, true},
      {"(33,20) infonce", 33, 20, {true, CosineEps::per_row, 1e-12}, false},
      {"(200,512) angleproto", 200, 512, {false, CosineEps::product, 1e-8}, true},
      {"(300,512) anglecontrast: N > one block", 300, 512, {true, CosineEps::product, 1e-8}, true},
      {"(400,512) infonce", 400, 512, {true, CosineEps::per_row, 1e-12}, false},
  };
  for (const Case& c : cases) {
    const SimilarityCeOptions o = c.o;
    Tensor a = rand_f32({c.N, c.D}, rng), b = rand_f32({c.N, c.D}, rng);
    Tensor w = Tensor::scalar(10.0), bias = Tensor::scalar(-5.0);
    std::vector<Tensor> in{a, b, w};
    if (c.bias) in.push_back(bias);
    const bool has_bias = c.bias;
    cuda_parity(std::string("similarity_ce ") + c.name,
                [o, has_bias](const std::vector<Tensor>& t) {
                  return similarity_ce(t[0], t[1], t[2], has_bias ? t[3] : Tensor(), o).loss;
                },
                in, kLossTol, kGradTol);
    auto dev = [](const Tensor& t) { return t.to(Device::cuda()); };
    FusedLossOutput g = similarity_ce(dev(a), dev(b), dev(w), c.bias ? dev(bias) : Tensor(), o);
    FusedLossOutput h = similarity_ce(a, b, w, c.bias ? bias : Tensor(), o);
    expect_same_pred(std::string("similarity_ce rows ") + c.name, g.pred, h.pred);
    if (o.symmetric) expect_same_pred(std::string("similarity_ce columns ") + c.name, g.pred_t, h.pred_t);
  }
}
