// Indexing ops: index_select (1-D i64 index along one dim) and gather (torch.gather), kernels in
// kernels/index (CPU, or CUDA for f32 tensors on a GPU) with scatter-add backward. Index values on the host
// are checked before any kernel runs, and a bad one is reported with the op, its position and the size it had
// to fit. gather reads a GPU index back to check it; index_select does not (issue 17: a device-to-host sync
// per call, in the center loss's step): its CUDA forward gives NaN rows for a bad index and its backward
// inverts the index on the device (index_inverse_cuda) instead of on the host.
#include <algorithm>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/common/strided.h"
#include "kernels/index/index.h"

namespace spk {

namespace {

void check_index_tensor(const char* op, const Tensor& x, const Tensor& index) {
  SPK_CHECK(x.defined() && index.defined(), op, ": undefined input");
  SPK_CHECK(index.dtype() == DType::i64, op, ": index must be i64, got ", index.str());
  SPK_CHECK(index.device() == x.device(), op, ": x ", x.str(), " and index ", index.str(), " are on different devices");
}

// Every value of the dense index in [0, size); returns the index as a dense host tensor. A host index is read
// where it is (no copy, no read counted: engine/sync_counter.h), a device one is read back.
Tensor checked_index(const char* op, const Tensor& index, int64_t size, int64_t dim, const Tensor& x) {
  Tensor h = (index.device().is_cpu() ? index : index.to(Device::cpu())).contiguous();
  const int64_t* p = h.data<int64_t>();
  for (int64_t j = 0; j < h.numel(); ++j)
    SPK_CHECK(p[j] >= 0 && p[j] < size, op, ": index ", p[j], " (element ", j, " of index ", index.str(),
              ") is out of range for dim ", dim, " of size ", size, " of x ", x.str());
  return h;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_tensor("index_select", x, index);
  check_op_device(OpId::index_select, x.device());
  check_cuda_f32("index_select", x);
  SPK_CHECK(index.dim() == 1, "index_select: index must be 1-d, got ", index.str());
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  const int64_t K = x.size(d), L = index.size(0);
  // On the CPU the checked host index; on a GPU the index where it is, unread (the file comment says why).
  Tensor idx = x.device().is_cpu() ? checked_index("index_select", index, K, d, x) : index.contiguous();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < x.dim(); ++i) if (i != d) (i < d ? outer : inner) *= x.shape()[size_t(i)];
  Shape out_shape = x.shape();
  out_shape[size_t(d)] = L;
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  Shape xs = x.shape();
  dispatch("index_select", x,
      [&]<class T>() {
        index_select_forward_cpu<T>(xc.data<T>(), idx.data<int64_t>(), out.data<T>(), outer, K, inner, L);
      },
      [&](void* stream) {
        index_select_forward_cuda(xc.data<float>(), idx.data<int64_t>(), out.data<float>(), outer, K, inner, L,
                                  stream);
      });
  return record("index_select", out, {x}, [xs, idx, outer, K, inner, L](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(xs, g.dtype(), g.device());
    dispatch("index_select backward", g,
        [&]<class T>() {
          index_select_backward_cpu<T>(gc.data<T>(), idx.data<int64_t>(), dx.data<T>(), outer, K, inner, L);
        },
        [&](void* stream) {
          // The CUDA backward gathers (no atomics) and so takes the index inverted, as CSR, built on the device.
          Tensor row_start = Tensor::empty({K + 1}, DType::i64, g.device());
          Tensor rows = Tensor::empty({std::max<int64_t>(L, 1)}, DType::i64, g.device());
          index_inverse_cuda(idx.data<int64_t>(), L, K, row_start.data<int64_t>(), rows.data<int64_t>(), stream);
          index_select_backward_cuda(gc.data<float>(), row_start.data<int64_t>(), rows.data<int64_t>(),
                                     dx.data<float>(), outer, K, inner, L, stream);
        });
    return {dx};
  });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_tensor("gather", x, index);
  check_op_device(OpId::gather, x.device());
  check_cuda_f32("gather", x);
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  SPK_CHECK(x.dim() <= kMaxDims, "gather: at most ", kMaxDims, " dims, got ", x.str());
  SPK_CHECK(index.dim() == x.dim(), "gather: index ", index.str(), " must have the rank of x ", x.str());
  for (int64_t i = 0; i < x.dim(); ++i)
    SPK_CHECK(i == d || index.size(i) <= x.size(i), "gather: index ", index.str(), " is larger than x ", x.str(),
              " in dim ", i, " (only dim ", d, " may differ freely)");
  Tensor idx = checked_index("gather", index, x.size(d), d, x);   // host copy
  if (!x.device().is_cpu()) idx = index.contiguous();             // checked; the kernels read it on the device
  Tensor xd = x.detach();
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  const Shape is = index.shape(), xs = x.shape();
  dispatch("gather", x,
      [&]<class T>() {
        gather_forward_cpu<T>(xd.data<T>(), xd.strides().data(), idx.data<int64_t>(), out.data<T>(), is.data(),
                              int(is.size()), int(d));
      },
      [&](void* stream) {
        gather_forward_cuda(xd.data<float>(), xd.strides().data(), idx.data<int64_t>(), out.data<float>(), is.data(),
                            int(is.size()), int(d), stream);
      });
  return record("gather", out, {x}, [xs, is, idx, d](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(xs, g.dtype(), g.device());
    dispatch("gather backward", g,
        [&]<class T>() {
          gather_backward_cpu<T>(gc.data<T>(), idx.data<int64_t>(), dx.data<T>(), xs.data(), is.data(), int(is.size()),
                                 int(d));
        },
        [&](void* stream) {
          gather_backward_cuda(gc.data<float>(), idx.data<int64_t>(), dx.data<float>(), xs.data(), is.data(),
                               int(is.size()), int(d), stream);
        });
    return {dx};
  });
}

}  // namespace spk
