// CUDA build of engine/input_stager.h: two pinned host buffers, two device buffers, a copy stream and events
// (the file comment of the header says why each exists). Never run on a GPU when written (compiled with nvcc).
#include <cuda_runtime.h>

#include <cstring>

#include "engine/cuda.h"
#include "engine/cuda_check.h"
#include "engine/input_stager.h"

namespace spk {

namespace {

// One of the two buffers: the pinned staging area, its device twin, and the events that order their reuse.
struct Slot {
  void* pinned = nullptr;
  void* dev = nullptr;
  size_t cap = 0;                  // bytes of both
  cudaEvent_t copied = nullptr;    // recorded on the copy stream after pinned -> dev
  cudaEvent_t consumed = nullptr;  // recorded on the compute stream after dev -> the returned tensor
  bool used = false;
};

}  // namespace

struct InputStager::Impl {
  int device = -1;
  cudaStream_t copy = nullptr;
  Slot slots[2];
  int next = 0;

  void init(int d) {
    device = d;
    SPK_CUDA_CHECK(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
    for (Slot& s : slots) {
      SPK_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
      SPK_CUDA_CHECK(cudaEventCreateWithFlags(&s.consumed, cudaEventDisableTiming));
    }
  }

  // Both buffers of s hold at least n bytes. Growing waits for the slot's last use to finish (rare: the input
  // size grows only with a longer crop or a larger batch); capacity grows by half again so it settles quickly.
  void reserve(Slot& s, size_t n) {
    if (s.cap >= n) return;
    if (s.used) SPK_CUDA_CHECK(cudaEventSynchronize(s.consumed));
    if (s.pinned) SPK_CUDA_CHECK(cudaFreeHost(s.pinned));
    if (s.dev) SPK_CUDA_CHECK(cudaFree(s.dev));
    s.pinned = s.dev = nullptr;
    s.cap = 0;
    const size_t cap = n + n / 2;
    SPK_CUDA_CHECK(cudaHostAlloc(&s.pinned, cap, cudaHostAllocDefault));
    SPK_CUDA_CHECK(cudaMalloc(&s.dev, cap));
    s.cap = cap;
  }

  ~Impl() {   // at exit the driver reclaims all; a failing call here is ignored, not thrown from a destructor
    for (Slot& s : slots) {
      if (s.used) (void)cudaEventSynchronize(s.consumed);
      if (s.pinned) (void)cudaFreeHost(s.pinned);
      if (s.dev) (void)cudaFree(s.dev);
      if (s.copied) (void)cudaEventDestroy(s.copied);
      if (s.consumed) (void)cudaEventDestroy(s.consumed);
    }
    if (copy) (void)cudaStreamDestroy(copy);
    (void)cudaGetLastError();
  }
};

InputStager::InputStager() : impl_(std::make_unique<Impl>()) {}
InputStager::~InputStager() = default;

Tensor InputStager::upload(const Tensor& host, Device device) {
  SPK_CHECK(host.device().is_cpu(), "InputStager::upload: ", host.str(), " is not a host tensor");
  if (device.is_cpu()) return host;
  SPK_CHECK(device.index == cuda::current_device(), "InputStager::upload: cuda:", device.index,
            " is not the current device (cuda::use_device)");
  Impl& im = *impl_;
  if (im.device < 0) im.init(device.index);
  SPK_CHECK(im.device == device.index, "InputStager::upload: this stager serves cuda:", im.device, ", not cuda:",
            device.index);
  const Tensor src = host.contiguous();
  const size_t n = size_t(src.numel()) * dtype_size(src.dtype());
  Tensor out = Tensor::empty(src.shape(), src.dtype(), device);
  if (n == 0) return out;
  Slot& s = im.slots[im.next];
  im.next ^= 1;
  // The pinned buffer may be overwritten once its previous copy has landed (two uploads ago: normally long done).
  if (s.used) SPK_CUDA_CHECK(cudaEventSynchronize(s.copied));
  im.reserve(s, n);
  std::memcpy(s.pinned, src.data_ptr(), n);
  const cudaStream_t compute = cudaStream_t(cuda::current_stream());
  if (s.used) SPK_CUDA_CHECK(cudaStreamWaitEvent(im.copy, s.consumed, 0));   // dev no longer read by compute
  SPK_CUDA_CHECK(cudaMemcpyAsync(s.dev, s.pinned, n, cudaMemcpyHostToDevice, im.copy));
  SPK_CUDA_CHECK(cudaEventRecord(s.copied, im.copy));
  SPK_CUDA_CHECK(cudaStreamWaitEvent(compute, s.copied, 0));
  cuda::copy_d2d(out.data_ptr(), s.dev, n);   // on the compute stream: `out` follows the one-stream rule
  SPK_CUDA_CHECK(cudaEventRecord(s.consumed, compute));
  s.used = true;
  return out;
}

}  // namespace spk
