// The cudnn conv backend's algorithm choice (kernels/conv/conv_cudnn_pick.h), on the CPU: with determinism on,
// a non-deterministic algorithm is never taken even when cuDNN ranks it first; with it off, cuDNN's order rules;
// failed candidates and those over the workspace limit are skipped either way.
#include "kernels/conv/conv_cudnn_pick.h"
#include "support/check.h"

using spk::conv_cuda::CudnnCandidate;
using spk::conv_cuda::pick_cudnn_candidate;

TEST_CASE("cudnn algorithm choice honours determinism and the workspace limit") {
  // cuDNN's ranking: a fast non-deterministic one first, a failed one, one too large, then deterministic ones.
  const CudnnCandidate c[] = {
      {.algo = 0, .succeeded = true, .bytes = 100, .deterministic = false},
      {.algo = 3, .succeeded = false, .bytes = 0, .deterministic = true},
      {.algo = 1, .succeeded = true, .bytes = 5000, .deterministic = true},
      {.algo = 2, .succeeded = true, .bytes = 200, .deterministic = true},
  };
  CHECK(pick_cudnn_candidate(c, 4, 1000, true) == 3);
  CHECK(pick_cudnn_candidate(c, 4, 10000, true) == 2);
  CHECK(pick_cudnn_candidate(c, 4, 1000, false) == 0);
  CHECK(pick_cudnn_candidate(c, 1, 1000, true) == -1);   // only the non-deterministic one: none
  CHECK(pick_cudnn_candidate(c, 4, 50, false) == -1);    // nothing fits
}
