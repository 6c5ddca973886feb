// The CUDA multi-tensor optimiser steps (kernels/optim/optim.h): one launch updates every parameter.
// The host splits the slots into chunks of kChunk elements and sends the slot table and the chunk table to the
// device in one asynchronous copy; block b updates chunk b. Per element the arithmetic is optim_math.h's,
// with the _rn intrinsics, so the result is the reference path's (engine ops, no FMA contraction) bit for bit.
//
// Never run on a GPU when written (no GPU on the development machine): compiled with nvcc only.
#include <cuda_runtime.h>

#include <climits>
#include <cstring>
#include <vector>

#include "kernels/common/check.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/optim/optim.h"
#include "kernels/optim/optim_math.h"

namespace spk {

namespace {

constexpr int64_t kChunk = 16384;   // elements per block: 64 per thread, enough to hide the launch's setup

struct Chunk {
  int64_t slot;
  int64_t start;
};

int64_t chunk_count(const OptimSlot<float>* slots, int64_t count) {
  int64_t n = 0;
  for (int64_t k = 0; k < count; ++k) n += (slots[k].n + kChunk - 1) / kChunk;
  return n;
}

size_t slot_bytes(int64_t count) {
  // The chunk table follows the slots at an 8-byte boundary (OptimSlot's alignment is 8 already).
  return size_t(count) * sizeof(OptimSlot<float>);
}

template <class Step, class Args>
__global__ void multi_tensor_kernel(const OptimSlot<float>* slots, const Chunk* chunks, Args a, Step step) {
  const Chunk c = chunks[blockIdx.x];
  const OptimSlot<float> s = slots[c.slot];
  const int64_t end = c.start + kChunk < s.n ? c.start + kChunk : s.n;
  for (int64_t i = c.start + threadIdx.x; i < end; i += blockDim.x) step(s, i, a);
}

struct SgdStep {
  __device__ void operator()(const OptimSlot<float>& s, int64_t i, const SgdArgs& a) const {
    optim_math::sgd_element(s, i, a);
  }
};
struct AdamStep {
  __device__ void operator()(const OptimSlot<float>& s, int64_t i, const AdamArgs& a) const {
    optim_math::adam_element(s, i, a);
  }
};

// Uploads the tables into scratch and launches one block per chunk.
template <class Step, class Args>
void launch(const OptimSlot<float>* slots, int64_t count, const Args& a, void* scratch, void* stream) {
  const int64_t nchunks = chunk_count(slots, count);
  if (nchunks == 0) return;
  SPK_CHECK(nchunks <= int64_t(INT32_MAX), "optimiser step: ", nchunks, " chunks do not fit one grid");
  std::vector<Chunk> table;
  table.reserve(size_t(nchunks));
  for (int64_t k = 0; k < count; ++k)
    for (int64_t start = 0; start < slots[k].n; start += kChunk) table.push_back({k, start});
  std::vector<char> host(optim_cuda_scratch_bytes(slots, count));
  std::memcpy(host.data(), slots, slot_bytes(count));
  std::memcpy(host.data() + slot_bytes(count), table.data(), table.size() * sizeof(Chunk));
  const cudaStream_t s = cudaStream_t(stream);
  // Pageable source: the call returns once the bytes are staged, so `host` may go out of scope.
  SPK_CUDA_CHECK(cudaMemcpyAsync(scratch, host.data(), host.size(), cudaMemcpyHostToDevice, s));
  const auto* dslots = static_cast<const OptimSlot<float>*>(scratch);
  const auto* dchunks = reinterpret_cast<const Chunk*>(static_cast<const char*>(scratch) + slot_bytes(count));
  multi_tensor_kernel<<<unsigned(nchunks), cuda_launch::kThreads, 0, s>>>(dslots, dchunks, a, Step{});
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace

size_t optim_cuda_scratch_bytes(const OptimSlot<float>* slots, int64_t count) {
  return slot_bytes(count) + size_t(chunk_count(slots, count)) * sizeof(Chunk);
}

void sgd_step_cuda(const OptimSlot<float>* slots, int64_t count, const SgdArgs& a, void* scratch, void* stream) {
  launch<SgdStep>(slots, count, a, scratch, stream);
}

void adam_step_cuda(const OptimSlot<float>* slots, int64_t count, const AdamArgs& a, void* scratch, void* stream) {
  launch<AdamStep>(slots, count, a, scratch, stream);
}

}  // namespace spk
