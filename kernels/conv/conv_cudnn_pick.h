// Which of cuDNN's ranked algorithms the cudnn conv backend takes (conv_cudnn_cuda.cpp), apart from cuDNN so the
// rule runs in the CPU tests (tests/kernels/test_conv_cudnn_pick.cpp): the first candidate, in cuDNN's order,
// that succeeded, fits the workspace limit and — when determinism is on (ConvCudaOptions::deterministic, the
// default, since spk promises bit-reproducible runs) — is deterministic. cuDNN ranks some non-deterministic
// algorithms (atomics in backward-filter/data) first; taking them silently broke that promise.
#pragma once
#include <cstddef>

namespace spk::conv_cuda {

struct CudnnCandidate {
  int algo = 0;
  bool succeeded = false;       // status == CUDNN_STATUS_SUCCESS
  size_t bytes = 0;             // workspace it needs
  bool deterministic = false;   // determinism == CUDNN_DETERMINISTIC
};

// The index of the chosen candidate, or -1 when none qualifies.
inline int pick_cudnn_candidate(const CudnnCandidate* c, int n, size_t max_bytes, bool deterministic) {
  for (int i = 0; i < n; ++i)
    if (c[i].succeeded && c[i].bytes <= max_bytes && (!deterministic || c[i].deterministic)) return i;
  return -1;
}

}  // namespace spk::conv_cuda
