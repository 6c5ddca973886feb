// The engine's window onto the CUDA runtime: device selection, the current stream, the caching allocator,
// copies and the cuBLAS handle. Callable from any build: in CPU-only builds (engine/cuda_nocuda.cpp)
// available() is false and everything else throws "not built with CUDA".
// Implementation: engine/cuda_cuda.cpp (runtime, streams, allocator); with engine/input_stager_cuda.cpp (pinned
// input buffers) the only places outside kernels/ that call the CUDA runtime.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/device.h"

namespace spk::cuda {

bool built_with_cuda();     // compiled with nvcc and the CUDA toolkit
bool available();           // built with CUDA and at least one usable GPU present
int device_count();         // 0 when none (or CPU-only build)
void set_device(int index);
int current_device();
// Makes the device an app was told to use (--device) current for the calling thread: cuda:N calls
// set_device(N), cpu does nothing. Streams, cuBLAS handles, the conv state and the allocator's launches all
// follow the current device, which is 0 until someone sets it: without this, --device cuda:1 allocated its
// tensors on GPU 1 and launched its kernels on GPU 0's stream. Call it on every thread that issues GPU work.
void use_device(const Device& d);
const char* device_name(int index);   // e.g. "NVIDIA H100 80GB HBM3"

// The stream every op of this thread launches on (cudaStream_t as void*); default: a non-blocking stream
// per device created on first use.
void* current_stream();
void synchronize();         // wait for the current stream

// Caching allocator: per device a BlockPool (engine/block_pool.h) over cudaMalloc: requests rounded to 512 B,
// served best-fit from cached blocks (split when the rest is worth keeping, merged again on free), so no
// cudaMalloc happens inside a steady-state training step and many distinct sizes reuse the same segments.
// On out-of-memory the free segments are returned and cudaMalloc is tried again before OutOfMemoryError.
// Frees are stream-ordered on current_stream().
void* alloc(size_t nbytes, int device);
void free(void* ptr, int device);
void empty_cache();         // return cached blocks to the driver
struct AllocatorStats {
  size_t bytes_in_use = 0, bytes_cached = 0, peak_bytes_in_use = 0;
  uint64_t device_mallocs = 0;   // segments obtained by cudaMalloc so far: flat across steady-state steps
};
AllocatorStats allocator_stats(int device);

// Copies on the current stream. Device-to-host waits for completion; the others are asynchronous.
void copy_h2d(void* dst, const void* src, size_t nbytes);
void copy_d2h(void* dst, const void* src, size_t nbytes);
void copy_d2d(void* dst, const void* src, size_t nbytes);
void memset_zero(void* dst, size_t nbytes);

// cuBLAS handle for the current device, bound to current_stream() (cublasHandle_t as void*).
void* cublas_handle();

}  // namespace spk::cuda
