// Device dispatch helpers for engine ops. The CUDA branch of an op is wrapped in SPK_CUDA_ONLY so that a
// CPU-only build compiles it to a "not built with CUDA" error instead of a call to a missing kernel.
#pragma once
#include "engine/check.h"
#include "engine/cuda.h"

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
