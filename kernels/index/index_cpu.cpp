// CPU reference of index_select and gather (kernels/index/index.h). Gather walks the index tensor with
// the strided iterator, x's stride along dim set to 0 so that the walk gives the offset of every other
// coordinate and the index value supplies the one along dim.
#include <algorithm>
#include <vector>

#include "kernels/common/strided.h"
#include "kernels/index/index.h"

namespace spk {

template <class T>
void index_select_forward_cpu(const T* x, const int64_t* index, T* out, int64_t outer, int64_t K, int64_t inner,
                              int64_t L) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t l = 0; l < L; ++l) {
      const T* src = x + (o * K + index[l]) * inner;
      std::copy(src, src + inner, out + (o * L + l) * inner);
    }
}

template <class T>
void index_select_backward_cpu(const T* dout, const int64_t* index, T* dx, int64_t outer, int64_t K, int64_t inner,
                               int64_t L) {
  std::fill(dx, dx + outer * K * inner, T(0));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t l = 0; l < L; ++l) {
      T* dst = dx + (o * K + index[l]) * inner;
      const T* src = dout + (o * L + l) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
}

namespace {

// Visit every element j of the (dense) index tensor: fn(j, offset of x/dx with coordinate dim zeroed).
template <class Fn>
void for_each_gather(const int64_t* x_strides, const int64_t* index_shape, int ndim, int dim, Fn&& fn) {
  int64_t xs[kMaxDims] = {}, is[kMaxDims] = {};
  int64_t acc = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    xs[d] = d == dim ? 0 : x_strides[d];
    is[d] = acc;
    acc *= index_shape[d];
  }
  for_each_inner(ndim, index_shape, xs, is, nullptr,
                 [&](int64_t ox, int64_t oi, int64_t, int64_t n, int64_t sx, int64_t si, int64_t) {
                   for (int64_t k = 0; k < n; ++k) fn(oi + k * si, ox + k * sx);
                 });
}

}  // namespace

template <class T>
void gather_forward_cpu(const T* x, const int64_t* x_strides, const int64_t* index, T* out,
                        const int64_t* index_shape, int ndim, int dim) {
  const int64_t sd = x_strides[dim];
  for_each_gather(x_strides, index_shape, ndim, dim, [&](int64_t j, int64_t ox) { out[j] = x[ox + index[j] * sd]; });
}

template <class T>
void gather_backward_cpu(const T* dout, const int64_t* index, T* dx, const int64_t* x_shape,
                         const int64_t* index_shape, int ndim, int dim) {
  int64_t st[kMaxDims] = {};
  int64_t n = 1;
  for (int d = ndim - 1; d >= 0; --d) { st[d] = n; n *= x_shape[d]; }
  std::fill(dx, dx + n, T(0));
  const int64_t sd = st[dim];
  for_each_gather(st, index_shape, ndim, dim, [&](int64_t j, int64_t ox) { dx[ox + index[j] * sd] += dout[j]; });
}

void index_inverse_cpu(const int64_t* index, int64_t L, int64_t K, int64_t* row_start, int64_t* rows) {
  // A stable counting sort: counts, offsets, then each l in ascending order into its k's run.
  std::fill(row_start, row_start + K + 1, int64_t(0));
  for (int64_t l = 0; l < L; ++l)
    if (index[l] >= 0 && index[l] < K) ++row_start[index[l] + 1];
  for (int64_t k = 0; k < K; ++k) row_start[k + 1] += row_start[k];
  std::vector<int64_t> fill(row_start, row_start + K);
  for (int64_t l = 0; l < L; ++l)
    if (index[l] >= 0 && index[l] < K) rows[fill[size_t(index[l])]++] = l;
}

#define SPK_INSTANTIATE(T)                                                                                      \
  template void index_select_forward_cpu<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t, int64_t); \
  template void index_select_backward_cpu<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t, int64_t);\
  template void gather_forward_cpu<T>(const T*, const int64_t*, const int64_t*, T*, const int64_t*, int, int); \
  template void gather_backward_cpu<T>(const T*, const int64_t*, T*, const int64_t*, const int64_t*, int, int);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
