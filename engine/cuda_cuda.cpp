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

#include "engine/check.h"
#include "engine/cuda.h"
#include "engine/cuda_check.h"
#include "engine/fault.h"
#include "engine/out_of_memory.h"

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

// Size classes: multiples of 512 B up to 1 MiB (activations of small layers, per-channel statistics);
// above that, 8 classes per power of two, so a block wastes at most 1/8 of itself. A request is served
// only from its own class: a training step repeats the same sizes every iteration, so after the first
// step every request finds a cached block and no cudaMalloc (which synchronises the device) happens.
constexpr size_t kMinBlock = 512;
constexpr size_t kSmallLimit = size_t(1) << 20;
constexpr size_t kMaxRequest = size_t(1) << 60;

size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }

size_t size_class(size_t n) {
  if (n <= kSmallLimit) return n <= kMinBlock ? kMinBlock : round_up(n, kMinBlock);
  const size_t octave = std::bit_floor(n);   // n in [octave, 2·octave)
  return round_up(n, octave / 8);
}

struct Heap {
  std::unordered_map<size_t, std::vector<void*>> cached;   // size class -> free blocks
  std::unordered_map<void*, size_t> live;                  // block -> its size class
  AllocatorStats stats;
};

struct Allocator {
  std::mutex mu;
  std::array<Heap, kMaxDevices> heaps;
};
Allocator& allocator() {
  static auto* a = new Allocator();   // leaked on purpose (see the file comment)
  return *a;
}

// Returns device `index`'s cached blocks to the driver. Caller holds the allocator lock. The device is
// synchronised first: a cached block may still be read by a kernel queued before its free().
void release_cached(int index, Heap& h) {
  if (h.stats.bytes_cached == 0) return;
  DeviceGuard guard(index);
  SPK_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [cls, blocks] : h.cached) {
    for (void* p : blocks) SPK_CUDA_CHECK(cudaFree(p));
    h.stats.bytes_cached -= cls * blocks.size();
    blocks.clear();
  }
  h.cached.clear();
}

// cudaMalloc of one block; on out-of-memory, empties this device's cache and tries once more.
void* device_malloc(int index, Heap& h, size_t requested, size_t cls) {
  DeviceGuard guard(index);
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, cls);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    release_cached(index, h);
    e = cudaMalloc(&p, cls);
  }
  if (e == cudaSuccess) {
    ++h.stats.device_mallocs;
    return p;
  }
  (void)cudaGetLastError();
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
  const std::string allocator_figures =
      "block " + bytes_str(cls) + ", after emptying the cache; allocator: in use " + bytes_str(h.stats.bytes_in_use) +
      ", cached " + bytes_str(h.stats.bytes_cached) + ", peak " + bytes_str(h.stats.peak_bytes_in_use) +
      ", device mallocs " + std::to_string(h.stats.device_mallocs);
  if (e == cudaErrorMemoryAllocation)
    throw OutOfMemoryError("cuda:" + std::to_string(index), requested, free_b, total_b, allocator_figures);
  SPK_FAIL("cuda::alloc: cudaMalloc failed on cuda:", index, " allocating ", requested, " bytes (",
           bytes_str(requested), ", ", allocator_figures, "): ", cudaGetErrorName(e), " (", cudaGetErrorString(e),
           "); device: free ", bytes_str(free_b), " of ", bytes_str(total_b));
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
  const size_t cls = size_class(nbytes);
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  Heap& h = a.heaps[size_t(device)];
  void* p = nullptr;
  auto it = h.cached.find(cls);
  if (it != h.cached.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    h.stats.bytes_cached -= cls;
  } else {
    p = device_malloc(device, h, nbytes, cls);
  }
  h.live.emplace(p, cls);
  h.stats.bytes_in_use += cls;
  if (h.stats.bytes_in_use > h.stats.peak_bytes_in_use) h.stats.peak_bytes_in_use = h.stats.bytes_in_use;
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
  auto it = h.live.find(ptr);
  SPK_CHECK(it != h.live.end(), "cuda::free: pointer ", ptr, " on cuda:", device,
            " was not allocated by cuda::alloc on that device (or was freed twice)");
  const size_t cls = it->second;
  h.live.erase(it);
  h.cached[cls].push_back(ptr);
  h.stats.bytes_in_use -= cls;
  h.stats.bytes_cached += cls;
}

void empty_cache() {
  if (!available()) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  for (int d = 0; d < device_count(); ++d) release_cached(d, a.heaps[size_t(d)]);
}

AllocatorStats allocator_stats(int device) {
  if (!available()) return {};
  check_device_index(device, "cuda::allocator_stats");
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.heaps[size_t(device)].stats;
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
