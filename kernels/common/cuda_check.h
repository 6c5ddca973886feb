// The CUDA half of the error vocabulary (kernels/common/check.h), for engine/cuda_cuda.cpp and kernels/*/*_cuda.cu.
// Only included by code that is compiled in CUDA builds (it needs the toolkit headers).
//
//   SPK_CUDA_CHECK(expr)          throw spk::Error("file:line: CUDA error: expr: cudaErrorX (text)")
//   SPK_CUBLAS_CHECK(expr)        the same for cuBLAS status codes
//   SPK_CUDA_CHECK_NOTHROW(expr)  print to stderr only (destructors, cleanup paths)
//   SPK_KERNEL_LAUNCH_CHECK()     after every <<<>>>: catches bad launch configurations at the launch site.
//                                 With -DSPK_CUDA_SYNC_CHECKS it also synchronises the device, so an
//                                 asynchronous fault (bad address, trap) is reported at the kernel that
//                                 caused it instead of at some later call.
//
// A failed runtime call also sets the runtime's per-thread "last error". The macros clear it before
// throwing, so a handled failure (say an out-of-memory the caller recovers from) is not reported again
// by the next, unrelated SPK_KERNEL_LAUNCH_CHECK. Sticky errors (device faults) cannot be cleared: every
// later call fails, which is what we want.
#pragma once
#include <cstdio>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "kernels/common/check.h"

#define SPK_CUDA_CHECK(expr)                                                                               \
  do {                                                                                                     \
    const cudaError_t spk_cuda_err_ = (expr);                                                              \
    if (spk_cuda_err_ != cudaSuccess) {                                                                    \
      (void)cudaGetLastError();                                                                            \
      ::spk::detail::throw_error(__FILE__, __LINE__,                                                       \
                                 ::spk::detail::cat("CUDA error: ", #expr, ": ", cudaGetErrorName(spk_cuda_err_), \
                                                    " (", cudaGetErrorString(spk_cuda_err_), ")"));         \
    }                                                                                                      \
  } while (0)

#define SPK_CUBLAS_CHECK(expr)                                                                             \
  do {                                                                                                     \
    const cublasStatus_t spk_cublas_st_ = (expr);                                                          \
    if (spk_cublas_st_ != CUBLAS_STATUS_SUCCESS) {                                                         \
      (void)cudaGetLastError();                                                                            \
      ::spk::detail::throw_error(__FILE__, __LINE__,                                                       \
                                 ::spk::detail::cat("cuBLAS error: ", #expr, ": ",                         \
                                                    cublasGetStatusName(spk_cublas_st_), " (",             \
                                                    cublasGetStatusString(spk_cublas_st_), ")"));          \
    }                                                                                                      \
  } while (0)

#define SPK_CUDA_CHECK_NOTHROW(expr)                                                                       \
  do {                                                                                                     \
    const cudaError_t spk_cuda_err_ = (expr);                                                              \
    if (spk_cuda_err_ != cudaSuccess) {                                                                    \
      (void)cudaGetLastError();                                                                            \
      std::fprintf(stderr, "spk: %s:%d: CUDA error (ignored): %s: %s (%s)\n", __FILE__, __LINE__, #expr,   \
                   cudaGetErrorName(spk_cuda_err_), cudaGetErrorString(spk_cuda_err_));                    \
    }                                                                                                      \
  } while (0)

#ifdef SPK_CUDA_SYNC_CHECKS
#define SPK_KERNEL_LAUNCH_CHECK()                                                                          \
  do {                                                                                                     \
    SPK_CUDA_CHECK(cudaGetLastError());                                                                    \
    SPK_CUDA_CHECK(cudaDeviceSynchronize());                                                               \
  } while (0)
#else
#define SPK_KERNEL_LAUNCH_CHECK() SPK_CUDA_CHECK(cudaGetLastError())
#endif
