// Device × dtype dispatch for engine ops: the one place that turns "this tensor's device and dtype" into a
// call of the matching kernel.
//
//   dispatch("relu", x,
//            [&]<class T>() { unary_forward_cpu<T>(UnaryOp::relu, x.data<T>(), y.data<T>(), n, p); },
//            [&](void* stream) { unary_forward_cuda(UnaryOp::relu, x.data<float>(), y.data<float>(), n, p, stream); });
//
// On the CPU, cpu_fn is called with T = float or double (any other dtype throws "<op>: unsupported dtype").
// On CUDA the dtype must be f32 ("<op>: CUDA kernels take f32"), and cuda_fn is called with the current
// stream. In a CPU-only build cuda_fn is never called (so the CUDA kernels it names need not be linked) and
// a CUDA tensor throws "this build of spk has no CUDA support". The kernels are reached through typed
// data<T>(), which checks the tensor's dtype, never through casts of data_ptr(). Both functions return the
// same type, which dispatch returns. Errors carry the caller's file and line, as a check in the op would.
//
// SPK_CUDA_ONLY and SPK_DISPATCH_FLOAT are the older statement-level forms, still used outside engine/ops.
#pragma once
#include <utility>

#include "engine/check.h"
#include "engine/cuda.h"
#include "engine/tensor.h"

namespace spk {

namespace detail {
// The caller's file and line, as std::source_location::current() gives them. Not std::source_location itself:
// libstdc++'s needs __builtin_source_location, which clang only has from version 15, and the fuzz build
// (docs/fuzzing.md) uses clang 14. __builtin_FILE/__builtin_LINE in a default argument are evaluated at the
// call site in gcc and every clang.
struct CallSite {
  const char* file;
  int line;
  static constexpr CallSite current(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return {file, line};
  }
};

template <class... A>
[[noreturn]] void fail_at(const CallSite& at, const A&... parts) {
  throw_error(at.file, at.line, cat(parts...));
}
}  // namespace detail

template <class CpuFn, class CudaFn>
decltype(auto) dispatch(const char* op, const Tensor& like, CpuFn&& cpu_fn, CudaFn&& cuda_fn,
                        detail::CallSite at = detail::CallSite::current()) {
  if (like.device().is_cpu()) {
    switch (like.dtype()) {
      case DType::f32: return cpu_fn.template operator()<float>();
      case DType::f64: return cpu_fn.template operator()<double>();
      default: detail::fail_at(at, op, ": unsupported dtype ", dtype_name(like.dtype()), " (f32 or f64 expected)");
    }
  }
  if (like.dtype() != DType::f32)
    detail::fail_at(at, "check failed: dtype == f32: ", op, ": CUDA kernels take f32, got ", like.str());
#if SPK_HAVE_CUDA
  return std::forward<CudaFn>(cuda_fn)(cuda::current_stream());
#else
  detail::fail_at(at, "this build of spk has no CUDA support");
#endif
}

// The CUDA dtype check of dispatch(), for ops that validate everything before they allocate: afterwards a
// CUDA tensor that is not f32 is reported before any other problem with the arguments.
inline void check_cuda_f32(const char* op, const Tensor& x) {
  SPK_CHECK(x.device().is_cpu() || x.dtype() == DType::f32, op, ": CUDA kernels take f32, got ", x.str());
}

// An optional buffer (affine weight, a gradient nobody asked for) as a kernel argument: null when undefined.
template <class T> T* data_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

}  // namespace spk

#if SPK_HAVE_CUDA
#define SPK_CUDA_ONLY(...) __VA_ARGS__
#else
#define SPK_CUDA_ONLY(...) SPK_FAIL("this build of spk has no CUDA support")
#endif

// Dispatch on a floating dtype: inside the body, `scalar_t` is float or double.
#define SPK_DISPATCH_FLOAT(dtype, opname, ...)                                                           \
  do {                                                                                                   \
    switch (dtype) {                                                                                     \
      case ::spk::DType::f32: { using scalar_t = float; __VA_ARGS__; } break;                            \
      case ::spk::DType::f64: { using scalar_t = double; __VA_ARGS__; } break;                           \
      default: SPK_FAIL(opname, ": unsupported dtype ", ::spk::dtype_name(dtype), " (f32 or f64 expected)"); \
    }                                                                                                    \
  } while (0)
