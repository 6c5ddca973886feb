// CPU-only build: the CUDA interface of engine/cuda.h, answering "no GPU" or throwing "not built with CUDA".
#include "engine/check.h"
#include "engine/cuda.h"

namespace spk::cuda {

#define SPK_NO_CUDA() SPK_FAIL("this build of spk has no CUDA support (configure with nvcc on PATH, SPK_CUDA=ON)")

bool built_with_cuda() { return false; }
bool available() { return false; }
int device_count() { return 0; }
void set_device(int) { SPK_NO_CUDA(); }
int current_device() { SPK_NO_CUDA(); }
void use_device(const Device& d) {
  if (d.is_cuda()) SPK_NO_CUDA();
}
const char* device_name(int) { SPK_NO_CUDA(); }
void* current_stream() { SPK_NO_CUDA(); }
void synchronize() {}
void* alloc(size_t, int) { SPK_NO_CUDA(); }
void free(void*, int) { SPK_NO_CUDA(); }
void empty_cache() {}
AllocatorStats allocator_stats(int) { return {}; }
void copy_h2d(void*, const void*, size_t) { SPK_NO_CUDA(); }
void copy_d2h(void*, const void*, size_t) { SPK_NO_CUDA(); }
void copy_d2d(void*, const void*, size_t) { SPK_NO_CUDA(); }
void memset_zero(void*, size_t) { SPK_NO_CUDA(); }
void* cublas_handle() { SPK_NO_CUDA(); }

}  // namespace spk::cuda
