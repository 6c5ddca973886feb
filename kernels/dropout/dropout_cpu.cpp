// CPU reference of dropout (kernels/dropout/dropout.h).
#include "kernels/common/philox.h"
#include "kernels/dropout/dropout.h"

namespace spk {

template <class T>
void dropout_forward_cpu(const T* x, T* y, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const T scale = T(1.0 / (1.0 - p));
  for (int64_t i = 0; i < n; ++i) y[i] = philox_uniform(offset + uint64_t(i), seed) < p ? T(0) : x[i] * scale;
}

template <class T>
void dropout_backward_cpu(const T* dy, T* dx, int64_t n, double p, uint64_t seed, uint64_t offset) {
  dropout_forward_cpu(dy, dx, n, p, seed, offset);   // linear in x: the same masked scaling
}

#define SPK_INSTANTIATE(T)                                                                        \
  template void dropout_forward_cpu<T>(const T*, T*, int64_t, double, uint64_t, uint64_t);      \
  template void dropout_backward_cpu<T>(const T*, T*, int64_t, double, uint64_t, uint64_t);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
