// CUDA-vs-CPU parity harness (see cuda_parity.h).
#include "cuda_parity.h"

namespace spk::test {

Tensor rand_f32(const Shape& shape, Rng& rng, double lo, double hi) {
  return Tensor::uniform(shape, rng, lo, hi, DType::f32);
}

static std::vector<Tensor> make_leaves(const std::vector<Tensor>& inputs, Device device) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    REQUIRE_MESSAGE(t.device().is_cpu(), "cuda_parity inputs are CPU tensors, got " << t.str());
    Tensor c = device.is_cpu() ? t.clone() : t.contiguous().to(device);   // a fresh leaf either way
    if (is_floating(c.dtype())) c.set_requires_grad(true);
    leaves.push_back(c);
  }
  return leaves;
}

void cuda_parity(const std::string& what, const Fn& f, const std::vector<Tensor>& inputs, Tol fwd, Tol bwd) {
  INFO("parity case: " << what);
  std::vector<Tensor> cpu_in = make_leaves(inputs, Device::cpu()), gpu_in = make_leaves(inputs, Device::cuda());
  Tensor y_cpu = f(cpu_in), y_gpu = f(gpu_in);
  REQUIRE(y_cpu.defined());
  REQUIRE(y_gpu.defined());
  CHECK_MESSAGE(y_gpu.device().is_cuda(), what << ": output is on " << y_gpu.device().str());
  test::expect_close(y_gpu, y_cpu, fwd.atol, fwd.rtol, what + " forward");
  if (!y_cpu.requires_grad()) return;

  // The same cotangent on both devices: backward(w) computes the gradient of Σ w ⊙ y.
  Rng wrng(4242);
  Tensor w = Tensor::normal(y_cpu.shape(), wrng, 0, 1, DType::f32);
  y_cpu.backward(w);
  y_gpu.backward(w.to(Device::cuda()));
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!cpu_in[k].requires_grad()) continue;
    Tensor g_cpu = cpu_in[k].grad(), g_gpu = gpu_in[k].grad();
    CHECK_MESSAGE(g_cpu.defined() == g_gpu.defined(), what << ": input " << k << " has a gradient on one device only");
    if (!g_cpu.defined() || !g_gpu.defined()) continue;
    CHECK_MESSAGE(g_gpu.device().is_cuda(), what << ": gradient of input " << k << " is on " << g_gpu.device().str());
    test::expect_close(g_gpu, g_cpu, bwd.atol, bwd.rtol, what + " gradient of input " + std::to_string(k));
  }
  cuda::synchronize();
}

}  // namespace spk::test
