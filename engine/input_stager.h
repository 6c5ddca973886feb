// Host-to-device upload of training input through pinned memory, double-buffered, on a copy stream of its own.
//
// Why: a copy from pageable memory (std::aligned_alloc, where the loader's batches live) is staged by the driver
// through its own pinned buffer, synchronously for the host and at a fraction of the bus speed. Here the batch is
// copied into one of two pinned buffers (the other may still be in flight), sent on a copy stream, and the compute
// stream waits for it by an event, not the host.
//
// The device side uses two persistent buffers of the stager's own, outside the caching allocator: the copy stream
// writes them, and the allocator's stream-ordered reuse is safe only for work on the compute stream (engine/
// cuda_cuda.cpp, "the one-stream rule"). The compute stream then copies the input into an ordinary tensor
// (device-to-device, cheap) and records when that copy is done, so the copy stream never overwrites a buffer the
// compute stream still reads.
//
// Prefetch: the trainer calls upload() for batch k + 1 right after queuing step k and before any read of step k
// (Trainer::next_batch, apps/recipe/trainer.cpp), so the copy stream's transfer overlaps step k's kernels; the two
// buffers let that upload proceed while batch k's device copy may still be pending on the compute stream.
// CPU-only builds: upload() of a CPU target returns the tensor, a CUDA target throws "no CUDA support".
#pragma once
#include <memory>

#include "engine/tensor.h"

namespace spk {

class InputStager {
 public:
  InputStager();
  ~InputStager();
  InputStager(const InputStager&) = delete;
  InputStager& operator=(const InputStager&) = delete;

  // `host` (on the CPU) on `device`, which must be the current device when it is a GPU. A CPU device: `host` itself.
  Tensor upload(const Tensor& host, Device device);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spk
