// The fused (multi-tensor) steps of SGD, Adam and AdamW (optim.h, kernels/optim/optim.h): the state buffers are
// made on a parameter's first step as the reference path makes them (zeros for Adam's moments; SGD's momentum
// buffer takes the first direction), then one kernel call updates every parameter. Bit-identical to the
// reference path (tests/engine/test_optim_fused.cpp).
#include <cmath>

#include "engine/cpu_threads.h"
#include "engine/cuda.h"
#include "engine/dispatch.h"
#include "engine/optim.h"
#include "kernels/optim/optim.h"

namespace spk {

namespace {

template <class T> OptimSlot<T> slot_of(const Tensor& p, const Tensor& g) {
  OptimSlot<T> s;
  s.p = p.data<T>();
  s.g = g.data<T>();
  s.n = p.numel();
  return s;
}

// Runs the CPU kernel for the items' dtype, or the CUDA one with its scratch from the caching allocator.
template <class Args, class Fill>
void run(std::vector<Optimizer::Item>& items, const Args& a, Fill&& fill,
         void (*cpu_f32)(const OptimSlot<float>*, int64_t, const Args&),
         void (*cpu_f64)(const OptimSlot<double>*, int64_t, const Args&),
         void (*cuda_f32)(const OptimSlot<float>*, int64_t, const Args&, void*, void*)) {
  const Tensor& first = items.front().p;
  const int64_t count = int64_t(items.size());
  if (first.dtype() == DType::f64) {
    std::vector<OptimSlot<double>> slots;
    for (auto& it : items) slots.push_back(fill.template operator()<double>(it));
    cpu_f64(slots.data(), count, a);
    return;
  }
  std::vector<OptimSlot<float>> slots;
  for (auto& it : items) slots.push_back(fill.template operator()<float>(it));
  if (first.device().is_cpu()) {
    cpu_f32(slots.data(), count, a);
    return;
  }
#if SPK_HAVE_CUDA
  const int device = first.device().index;
  void* scratch = cuda::alloc(optim_cuda_scratch_bytes(slots.data(), count), device);
  try {
    cuda_f32(slots.data(), count, a, scratch, cuda::current_stream());
  } catch (...) {
    cuda::free(scratch, device);
    throw;
  }
  cuda::free(scratch, device);   // stream-ordered: safe while the kernel still runs
#else
  (void)cuda_f32;
  SPK_FAIL("this build of spk has no CUDA support");
#endif
}

Tensor& buffer(Optimizer::Item& it, const char* name, bool zero, bool& created) {
  auto f = it.s->buffers.find(name);
  created = f == it.s->buffers.end();
  if (created) {
    const Tensor& p = it.p;
    Tensor b = zero ? Tensor::zeros(p.shape(), p.dtype(), p.device()) : Tensor::empty(p.shape(), p.dtype(), p.device());
    f = it.s->buffers.emplace(name, b).first;
  }
  return f->second;
}

#if SPK_HAVE_CUDA
constexpr auto kSgdCuda = &sgd_step_cuda;
constexpr auto kAdamCuda = &adam_step_cuda;
#else
constexpr void (*kSgdCuda)(const OptimSlot<float>*, int64_t, const SgdArgs&, void*, void*) = nullptr;
constexpr void (*kAdamCuda)(const OptimSlot<float>*, int64_t, const AdamArgs&, void*, void*) = nullptr;
#endif

}  // namespace

bool SGD::update_fused(std::vector<Item>& items) {
  SgdArgs a;
  a.lr = lr();
  a.weight_decay = opt.weight_decay;
  a.momentum = opt.momentum;
  a.one_minus_dampening = 1 - opt.dampening;
  a.nesterov = opt.nesterov;
  auto fill = [&]<class T>(Item& it) {
    OptimSlot<T> s = slot_of<T>(it.p, it.g);
    if (opt.momentum != 0) {
      bool created = false;
      s.b0 = buffer(it, "momentum_buffer", false, created).template data<T>();
      s.first = created;
    }
    return s;
  };
  run(items, a, fill, &sgd_step_cpu<float>, &sgd_step_cpu<double>, kSgdCuda);
  return true;
}

bool Adam::update_fused(std::vector<Item>& items) {
  AdamArgs a;
  a.l2 = decoupled() ? 0 : opt.weight_decay;
  a.decoupled = decoupled() && opt.weight_decay != 0;
  a.decay = 1 - lr() * opt.weight_decay;
  a.beta1 = opt.beta1;
  a.one_minus_beta1 = 1 - opt.beta1;
  a.beta2 = opt.beta2;
  a.one_minus_beta2 = 1 - opt.beta2;
  a.eps = opt.eps;
  a.threads = cpu_threads();
  auto fill = [&]<class T>(Item& it) {
    OptimSlot<T> s = slot_of<T>(it.p, it.g);
    bool created = false;
    s.b0 = buffer(it, "exp_avg", true, created).template data<T>();
    s.b1 = buffer(it, "exp_avg_sq", true, created).template data<T>();
    it.s->step += 1;
    const double t = double(it.s->step);   // the bias corrections exactly as Adam::adam_step computes them
    s.step_size = lr() / (1 - std::pow(opt.beta1, t));
    s.inv_bc2_sqrt = 1.0 / std::sqrt(1 - std::pow(opt.beta2, t));
    return s;
  };
  run(items, a, fill, &adam_step_cpu<float>, &adam_step_cpu<double>, kAdamCuda);
  return true;
}

}  // namespace spk
