// Autocast state and the fp32-storage rounding of engine/autocast.h.
#include "engine/autocast.h"

#include "engine/check.h"
#include "kernels/common/half.h"

namespace spk {

namespace {
// Per thread, as torch.autocast's state: the loader threads never see the training thread's mode.
thread_local std::optional<DType> g_autocast;

void check_half(DType type) {
  SPK_CHECK(type == DType::bf16 || type == DType::f16, "autocast: the low-precision type must be bf16 or f16, got ",
            dtype_name(type));
}
}  // namespace

std::optional<DType> autocast_type() { return g_autocast; }

AutocastGuard::AutocastGuard(std::optional<DType> type) : previous_(g_autocast) {
  if (type) check_half(*type);
  g_autocast = type;
}
AutocastGuard::~AutocastGuard() { g_autocast = previous_; }

std::optional<DType> autocast_type_for(const Tensor& operand) {
  if (!g_autocast || operand.dtype() != DType::f32) return std::nullopt;
  return g_autocast;
}

float round_to_half(float x, DType type) {
  return type == DType::bf16 ? bf16_to_f32(f32_to_bf16(x)) : f16_to_f32(f32_to_f16(x));
}

void round_to_half(const float* src, float* dst, int64_t n, DType type) {
  check_half(type);
  if (type == DType::bf16)
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
  else
    for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(f32_to_f16(src[i]));
}

Tensor rounded_to_half(const Tensor& t, DType type) {
  check_half(type);
  SPK_CHECK(t.dtype() == DType::f32, "autocast: only f32 tensors are cast, got ", t.str());
  // On a GPU the two casts run as kernels with the same rounding rule (kernels/copy).
  if (!t.device().is_cpu()) return t.to(type).to(DType::f32);
  Tensor src = t.contiguous();
  Tensor out = Tensor::empty(t.shape(), DType::f32, t.device());
  round_to_half(src.data<float>(), out.data<float>(), t.numel(), type);
  return out;
}

}  // namespace spk
