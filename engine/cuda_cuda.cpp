// CUDA builds: the engine's CUDA runtime layer (engine/cuda.h) — device probing, one stream per device,
// the caching allocator, copies and the cuBLAS handle. engine/cuda_nocuda.cpp is the CPU-only twin.
//
// The one-stream rule. Every op on device d launches on stream(d), a non-blocking stream created on first
// use, and GPU work is issued from one host thread at a time (loader threads only touch host memory).
// That single ordering is what makes the allocator's stream-ordered frees safe: a block freed while a
// kernel that reads it is still queued can be handed straight to the next alloc(), because whatever the
// new owner enqueues runs after that kernel on the same stream. Work issued on any other stream (NCCL,
// a side stream for copies) would break this and must first synchronise with stream(d) or record an event.
//
// Process-lifetime objects (streams, cuBLAS handles, the allocator's tables) are created on first use and
// never destroyed: tensors held in statics may be freed during static destruction, after the CUDA runtime
// has started to unload; free() therefore never calls the runtime, and the driver reclaims everything at
// exit.
#include <array>
#include <bit>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/block_pool.h"
#include "engine/check.h"
#include "engine/cuda.h"
#include "engine/cuda_check.h"
#include "engine/fault.h"
#include "engine/out_of_memory.h"
#include "engine/sync_counter.h"

namespace spk::cuda {

namespace {

// ---------------------------------------------------------------------------------------------- devices

constexpr int kMaxDevices = 64;

// Probed once. No driver, no device, or CUDA_VISIBLE_DEVICES="" all mean "no GPU", never an error.
int probed_device_count() {
  static const int count = [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();   // leave no stale error for the next launch check to trip over
      return 0;
    }
    return n < 0 ? 0 : (n > kMaxDevices ? kMaxDevices : n);
  }();
  return count;
}

void check_device_index(int index, const char* what) {
  SPK_CHECK(probed_device_count() > 0, what, ": no CUDA device available (cuda:", index,
            " requested; check the driver and CUDA_VISIBLE_DEVICES)");
  SPK_CHECK(index >= 0 && index < probed_device_count(), what, ": device cuda:", index, " does not exist (",
            probed_device_count(), " visible)");
}

// Makes `index` the calling thread's current device for a scope, restoring the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index) {
    SPK_CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != index) SPK_CUDA_CHECK(cudaSetDevice(index));
    switched_ = prev_ != index;
  }
  ~DeviceGuard() {
    if (switched_) SPK_CUDA_CHECK_NOTHROW(cudaSetDevice(prev_));
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool switched_ = false;
};

// Lazily created per-device objects. Leaked on purpose (see the file comment).
struct PerDevice {
  std::once_flag stream_once, cublas_once, name_once;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  std::string name;
};
PerDevice& per_device(int index) {
  static auto* table = new std::array<PerDevice, kMaxDevices>();
  return (*table)[size_t(index)];
}

cudaStream_t stream_for(int index) {
  PerDevice& d = per_device(index);
  std::call_once(d.stream_once, [&] {
    DeviceGuard guard(index);
    // Non-blocking: no implicit synchronisation with the legacy default stream, which other libraries
    // (or stray cudaMemcpy calls) may use.
    SPK_CUDA_CHECK(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
  });
  return d.stream;
}

std::string bytes_str(size_t n) { return format_bytes(n); }

// ---------------------------------------------------------------------------------------------- allocator

// The caching allocator: one BlockPool (engine/block_pool.h: rounding, best-fit reuse, splitting, merging, the
// free-cache retry) per device over cudaMalloc/cudaFree. After the first training step every request finds a
// cached block, so no cudaMalloc (which synchronises the device) happens inside a steady-state step; requests
// of many sizes (whole-utterance evaluation) are cut from and merged back into the same segments.
constexpr size_t kMaxRequest = size_t(1) << 60;

struct DeviceBackend {
  int index = 0;
  cudaError_t last = cudaSuccess;   // the error of the last refused cudaMalloc (for the message)

  static void* do_malloc(void* ctx, size_t n) {
    auto* d = static_cast<DeviceBackend*>(ctx);
    DeviceGuard guard(d->index);
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, n);
    if (e == cudaSuccess) return p;
    (void)cudaGetLastError();
    d->last = e;
    if (e == cudaErrorMemoryAllocation) return nullptr;   // the pool releases free segments and retries
    SPK_FAIL("cuda::alloc: cudaMalloc of ", n, " bytes failed on cuda:", d->index, ": ", cudaGetErrorName(e),
             " (", cudaGetErrorString(e), ")");
  }
  static void do_free(void* ctx, void* p) {
    DeviceGuard guard(static_cast<DeviceBackend*>(ctx)->index);
    SPK_CUDA_CHECK(cudaFree(p));
  }
  // A cached block may still be read by a kernel queued before its free(): wait for the device first.
  static void before_release(void* ctx) {
    DeviceGuard guard(static_cast<DeviceBackend*>(ctx)->index);
    SPK_CUDA_CHECK(cudaDeviceSynchronize());
  }
};

struct Heap {
  DeviceBackend backend;
  std::unique_ptr<BlockPool> pool;   // created on the device's first alloc
};

struct Allocator {
  std::mutex mu;
  std::array<Heap, kMaxDevices> heaps;
};
Allocator& allocator() {
  static auto* a = new Allocator();   // leaked on purpose (see the file comment)
  return *a;
}

BlockPool& pool_of(int index, Heap& h) {
  if (!h.pool) {
    h.backend.index = index;
    h.pool = std::make_unique<BlockPool>(
        BlockPoolBackend{&DeviceBackend::do_malloc, &DeviceBackend::do_free, &DeviceBackend::before_release, &h.backend});
  }
  return *h.pool;
}

AllocatorStats stats_of(const BlockPool& p) {
  AllocatorStats s;
  s.bytes_in_use = p.stats().bytes_in_use;
  s.bytes_cached = p.stats().bytes_cached();
  s.peak_bytes_in_use = p.stats().peak_bytes_in_use;
  s.device_mallocs = p.stats().backend_mallocs;
  return s;
}

[[noreturn]] void throw_device_oom(int index, Heap& h, size_t requested) {
  size_t free_b = 0, total_b = 0;
  {
    DeviceGuard guard(index);
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
  }
  const AllocatorStats s = stats_of(*h.pool);
  const size_t seg = BlockPool::segment_size(BlockPool::round_request(requested));
  const std::string allocator_figures =
      "segment " + bytes_str(seg) + ", after returning the cache's free segments; allocator: in use " +
      bytes_str(s.bytes_in_use) + ", cached " + bytes_str(s.bytes_cached) + ", peak " + bytes_str(s.peak_bytes_in_use) +
      ", device mallocs " + std::to_string(s.device_mallocs);
  throw OutOfMemoryError("cuda:" + std::to_string(index), requested, free_b, total_b, allocator_figures);
}

}  // namespace

// ---------------------------------------------------------------------------------------------- devices

bool built_with_cuda() { return true; }
bool available() { return probed_device_count() > 0; }
int device_count() { return probed_device_count(); }

void set_device(int index) {
  check_device_index(index, "cuda::set_device");
  SPK_CUDA_CHECK(cudaSetDevice(index));
}

void use_device(const Device& d) {
  if (d.is_cuda()) set_device(d.index);
}

int current_device() {
  SPK_CHECK(probed_device_count() > 0, "cuda::current_device: no CUDA device available (check the driver and "
            "CUDA_VISIBLE_DEVICES)");
  int d = 0;
  SPK_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

const char* device_name(int index) {
  check_device_index(index, "cuda::device_name");
  PerDevice& d = per_device(index);
  std::call_once(d.name_once, [&] {
    cudaDeviceProp prop{};
    SPK_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
    d.name = prop.name;
  });
  return d.name.c_str();
}

void* current_stream() { return stream_for(current_device()); }

void synchronize() {
  if (!available()) return;   // nothing can be in flight
  SPK_CUDA_CHECK(cudaStreamSynchronize(stream_for(current_device())));
}

// ---------------------------------------------------------------------------------------------- allocator

void* alloc(size_t nbytes, int device) {
  check_device_index(device, "cuda::alloc");
  SPK_CHECK(nbytes <= kMaxRequest, "cuda::alloc: request of ", nbytes, " bytes on cuda:", device, " is absurd");
  if (fault::hit(fault::Point::alloc)) {   // SPK_FAULT alloc:fail (engine/fault.h): as if cudaMalloc had failed
    size_t free_b = 0, total_b = 0;
    DeviceGuard guard(device);
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
    throw OutOfMemoryError("cuda:" + std::to_string(device), nbytes, free_b, total_b, "injected by SPK_FAULT");
  }
  // Zero-byte tensors still get a real (minimum) block: a unique, valid pointer keeps every caller simple.
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  Heap& h = a.heaps[size_t(device)];
  void* p = pool_of(device, h).allocate(nbytes);
  if (!p) throw_device_oom(device, h, nbytes);
  return p;
}

// Stream-ordered: the block is reusable at once (see the one-stream rule at the top). Never calls the
// runtime, so it is safe in destructors and during static destruction.
void free(void* ptr, int device) {
  if (ptr == nullptr) return;
  SPK_CHECK(device >= 0 && device < kMaxDevices, "cuda::free: bad device index ", device);
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  Heap& h = a.heaps[size_t(device)];
  SPK_CHECK(h.pool != nullptr, "cuda::free: pointer ", ptr, " on cuda:", device,
            " was not allocated by cuda::alloc on that device");
  h.pool->deallocate(ptr);   // throws, naming the pointer, if it is not a live block of this device
}

void empty_cache() {
  if (!available()) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  for (int d = 0; d < device_count(); ++d)
    if (a.heaps[size_t(d)].pool) a.heaps[size_t(d)].pool->release_free_segments();
}

AllocatorStats allocator_stats(int device) {
  if (!available()) return {};
  check_device_index(device, "cuda::allocator_stats");
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  const Heap& h = a.heaps[size_t(device)];
  return h.pool ? stats_of(*h.pool) : AllocatorStats{};
}

// ---------------------------------------------------------------------------------------------- copies

// Host memory here is pageable (std::aligned_alloc). For such copies cudaMemcpyAsync returns once the
// source has been staged (H2D) or the copy has landed (D2H), so the host buffer may be reused at once.
void copy_h2d(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  SPK_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, cudaStream_t(current_stream())));
}

void copy_d2h(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  sync_counter::note_device_read();
  cudaStream_t s = cudaStream_t(current_stream());
  SPK_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s));
  SPK_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_d2d(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  // cudaMemcpyDefault: with unified addressing the runtime sees which devices own the pointers, so the
  // same call serves a copy within one GPU and a peer copy between two.
  SPK_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, cudaStream_t(current_stream())));
}

void memset_zero(void* dst, size_t nbytes) {
  if (nbytes == 0) return;
  SPK_CUDA_CHECK(cudaMemsetAsync(dst, 0, nbytes, cudaStream_t(current_stream())));
}

// ---------------------------------------------------------------------------------------------- cuBLAS

void* cublas_handle() {
  const int index = current_device();
  PerDevice& d = per_device(index);
  std::call_once(d.cublas_once, [&] {
    cublasHandle_t h = nullptr;
    SPK_CUBLAS_CHECK(cublasCreate(&h));
    SPK_CUBLAS_CHECK(cublasSetStream(h, stream_for(index)));
    // Pure fp32: CUBLAS_DEFAULT_MATH never uses TF32 tensor cores for Sgemm (that needs
    // CUBLAS_TF32_TENSOR_OP_MATH), so GEMMs match the CPU to fp32 rounding. Set explicitly so a changed
    // library default cannot silently loosen the parity tests.
    SPK_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    d.cublas = h;
  });
  return d.cublas;
}

}  // namespace spk::cuda
