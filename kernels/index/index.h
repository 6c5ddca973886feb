// Indexing kernels: index_select and gather, with scatter-add backward. Indices are i64 and have been
// checked to be in range by the engine; outputs are dense and written (=), dx is zero-filled then summed
// into (several outputs may read one input element).
//
// index_select on x seen as (outer, K, inner), index (L):
//   forward:  out[o, l, i] = x[o, index[l], i]                    out (outer, L, inner)
//   backward: dx[o, k, i]  = Σ_{l : index[l] = k} dout[o, l, i]
// gather along dim (torch.gather), index with x's rank and index.size(d) <= x.size(d) for d != dim:
//   forward:  out[j] = x[j with coordinate dim replaced by index[j]]    out has index's shape
//   backward: dx[...] = Σ of dout over the j that read it
//   x_strides are x's strides (elements, any layout); index and out are dense with shape index_shape;
//   dx is dense with shape x_shape.
#pragma once
#include <cstdint>

namespace spk {

template <class T> void index_select_forward_cpu(const T* x, const int64_t* index, T* out, int64_t outer, int64_t K,
                                                 int64_t inner, int64_t L);
template <class T> void index_select_backward_cpu(const T* dout, const int64_t* index, T* dx, int64_t outer,
                                                  int64_t K, int64_t inner, int64_t L);

// The inverse of index (L) over [0, K) as CSR: for k in [0, K), rows[row_start[k] .. row_start[k+1]) are the l
// with index[l] = k, ascending (row_start has K + 1 entries, rows at most L: values outside [0, K) are left
// out). What index_select's CUDA backward gathers with; the CPU version is its reference.
void index_inverse_cpu(const int64_t* index, int64_t L, int64_t K, int64_t* row_start, int64_t* rows);

template <class T> void gather_forward_cpu(const T* x, const int64_t* x_strides, const int64_t* index, T* out,
                                           const int64_t* index_shape, int ndim, int dim);
template <class T> void gather_backward_cpu(const T* dout, const int64_t* index, T* dx, const int64_t* x_shape,
                                            const int64_t* index_shape, int ndim, int dim);

// CUDA (f32 values, i64 indices on the device, on the given stream; kernels/index/index_cuda.cu). Backwards
// gather (no atomics), adding in the CPU's order, so both devices give the same bits.
// index_select_backward_cuda takes the inverse of index as CSR: for k in [0, K), rows[row_start[k] ..
// row_start[k+1]) are the l with index[l] = k, ascending (row_start has K + 1 entries, rows L).
// gather on CUDA: rank 1..kMaxDims (8); x_strides, index_shape and x_shape are host arrays.
void index_select_forward_cuda(const float* x, const int64_t* index, float* out, int64_t outer, int64_t K,
                               int64_t inner, int64_t L, void* stream);
// index_select_forward_cuda: an index outside [0, K) gives NaN outputs instead of a read out of bounds.
void index_inverse_cuda(const int64_t* index, int64_t L, int64_t K, int64_t* row_start, int64_t* rows,
                        void* stream);
void index_select_backward_cuda(const float* dout, const int64_t* row_start, const int64_t* rows, float* dx,
                                int64_t outer, int64_t K, int64_t inner, int64_t L, void* stream);
void gather_forward_cuda(const float* x, const int64_t* x_strides, const int64_t* index, float* out,
                         const int64_t* index_shape, int ndim, int dim, void* stream);
void gather_backward_cuda(const float* dout, const int64_t* index, float* dx, const int64_t* x_shape,
                          const int64_t* index_shape, int ndim, int dim, void* stream);

}  // namespace spk
