// Host memory for CPU tensors: a cache of freed large blocks, reused by the next allocation of the same rounded
// size (as engine/cuda.h's caching allocator is for the GPU). Why: a training step frees and re-allocates the
// same activation sizes every step, and glibc serves blocks of megabytes with fresh mmap()s, so every step
// page-faulted its whole working set back in (15 % of a ResNetSE34L CPU step, mostly in the kernel zeroing
// pages). Blocks under kMinCachedBytes go straight to aligned_alloc/free (glibc keeps those in its heap).
// The cache holds at most host_cache_limit() bytes; a block freed beyond that goes back to the system.
// Thread-safe. Memory is returned uninitialised, as aligned_alloc's is.
#pragma once
#include <cstddef>

namespace spk {

void* host_alloc(size_t bytes);              // 64-byte aligned; nullptr when the system has no memory
void host_free(void* p, size_t bytes);       // bytes: what was asked of host_alloc
size_t host_cache_bytes();                   // bytes held in the cache now (tests, diagnostics)
size_t host_cache_limit();                   // the cap (default 4 GiB)
void set_host_cache_limit(size_t bytes);     // 0 turns the cache off; blocks held beyond it are freed
void host_cache_release();                   // frees every cached block

}  // namespace spk
