// Pooling ops (max/avg 1-d and 2-d, adaptive average 2-d): argument checks naming the op and shapes,
// the CPU or CUDA kernels of kernels/pool (by the input's device; CUDA takes f32), and backward closures
// calling their backward kernels on the gradient's device. The 1-d pools run the 2-d kernels over (N, C, 1, L).
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/pool/pool.h"

namespace spk {

namespace {

void check_pool_input(OpId id, const Tensor& x, int spatial) {
  const char* op = op_info(id).name;
  SPK_CHECK(x.defined(), op, ": undefined input");
  SPK_CHECK(x.dim() == spatial + 2, op, ": input ", x.str(), " must be ", spatial == 2 ? "(N, C, H, W)" : "(N, C, L)");
  check_op_device(id, x.device());
}

// kernel/stride/padding along one axis; stride 0 has already been replaced by the kernel size.
void check_pool_axis(const char* op, const Tensor& x, int64_t in, int64_t k, int64_t stride, int64_t pad,
                     const char* axis) {
  SPK_CHECK(k >= 1, op, ": kernel size", axis, " must be >= 1, got ", k);
  SPK_CHECK(stride >= 1, op, ": stride", axis, " must be >= 0 (0 = kernel size), got ", stride);
  SPK_CHECK(pad >= 0 && 2 * pad <= k, op, ": padding", axis, " must be in [0, kernel/2] (kernel ", k, "), got ", pad);
  SPK_CHECK(in + 2 * pad >= k, op, ": kernel size ", k, axis, " is larger than the padded input: ", x.str(), " has ",
            in, " + 2*", pad, " = ", in + 2 * pad);
}

enum class PoolKind { max, avg };

// The f32 CUDA path: the engine checked the device, the kernels take f32 only.
Tensor pool_run(OpId id, PoolKind kind, const Tensor& x, const PoolGeom& g, const Shape& out_shape) {
  const char* op = op_info(id).name;
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  const DType dt = x.dtype();
  const Shape xshape = x.shape();
  if (kind == PoolKind::max) {
    Tensor idx = Tensor::empty(out_shape, DType::i64, x.device());
    dispatch(op, x,
        [&]<class T>() { max_pool2d_forward_cpu<T>(g, xc.data<T>(), y.data<T>(), idx.data<int64_t>(), cpu_threads()); },
        [&](void* stream) {
          max_pool2d_forward_cuda(g, xc.data<float>(), y.data<float>(), idx.data<int64_t>(), stream);
        });
    return record(op, y, {x}, [=](const Tensor& gout) -> std::vector<Tensor> {
      Tensor dy = gout.contiguous(), dx = Tensor::empty(xshape, dt, gout.device());
      dispatch(op, dx,
          [&]<class T>() {
            max_pool2d_backward_cpu<T>(g, dy.data<T>(), idx.data<int64_t>(), dx.data<T>(), cpu_threads());
          },
          [&](void* stream) {
            max_pool2d_backward_cuda(g, dy.data<float>(), idx.data<int64_t>(), dx.data<float>(), stream);
          });
      return {dx};
    });
  }
  dispatch(op, x,
      [&]<class T>() { avg_pool2d_forward_cpu<T>(g, xc.data<T>(), y.data<T>(), cpu_threads()); },
      [&](void* stream) { avg_pool2d_forward_cuda(g, xc.data<float>(), y.data<float>(), stream); });
  return record(op, y, {x}, [=](const Tensor& gout) -> std::vector<Tensor> {
    Tensor dy = gout.contiguous(), dx = Tensor::empty(xshape, dt, gout.device());
    dispatch(op, dx,
        [&]<class T>() { avg_pool2d_backward_cpu<T>(g, dy.data<T>(), dx.data<T>(), cpu_threads()); },
        [&](void* stream) { avg_pool2d_backward_cuda(g, dy.data<float>(), dx.data<float>(), stream); });
    return {dx};
  });
}

Tensor pool2d(OpId id, PoolKind kind, const Tensor& x, std::pair<int64_t, int64_t> kernel,
              std::pair<int64_t, int64_t> stride, std::pair<int64_t, int64_t> padding) {
  const char* op = op_info(id).name;
  check_pool_input(id, x, 2);
  PoolGeom g;
  g.N = x.size(0); g.C = x.size(1); g.H = x.size(2); g.W = x.size(3);
  g.KH = kernel.first; g.KW = kernel.second;
  g.stride_h = stride.first == 0 ? kernel.first : stride.first;
  g.stride_w = stride.second == 0 ? kernel.second : stride.second;
  g.pad_h = padding.first; g.pad_w = padding.second;
  check_pool_axis(op, x, g.H, g.KH, g.stride_h, g.pad_h, " along H");
  check_pool_axis(op, x, g.W, g.KW, g.stride_w, g.pad_w, " along W");
  return pool_run(id, kind, x, g, {g.N, g.C, g.H_out(), g.W_out()});
}

Tensor pool1d(OpId id, PoolKind kind, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  check_pool_input(id, x, 1);
  PoolGeom g = pool1d_geom(x.size(0), x.size(1), x.size(2), kernel, stride == 0 ? kernel : stride, padding);
  check_pool_axis(op_info(id).name, x, g.W, g.KW, g.stride_w, g.pad_w, "");
  return pool_run(id, kind, x, g, {g.N, g.C, g.W_out()});
}

}  // namespace

Tensor max_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                  std::pair<int64_t, int64_t> padding) {
  return pool2d(OpId::max_pool2d, PoolKind::max, x, kernel, stride, padding);
}

Tensor avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                  std::pair<int64_t, int64_t> padding) {
  return pool2d(OpId::avg_pool2d, PoolKind::avg, x, kernel, stride, padding);
}

Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool1d(OpId::max_pool1d, PoolKind::max, x, kernel, stride, padding);
}

Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool1d(OpId::avg_pool1d, PoolKind::avg, x, kernel, stride, padding);
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> output_size) {
  check_pool_input(OpId::adaptive_avg_pool2d, x, 2);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = output_size.first, OW = output_size.second;
  SPK_CHECK(OH >= 1 && OW >= 1, "adaptive_avg_pool2d: output size (", OH, ", ", OW, ") must be positive");
  SPK_CHECK(H >= 1 && W >= 1, "adaptive_avg_pool2d: input ", x.str(), " has an empty plane");
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({N, C, OH, OW}, x.dtype(), x.device());
  const DType dt = x.dtype();
  const Shape xshape = x.shape();
  dispatch("adaptive_avg_pool2d", x,
      [&]<class T>() {
        adaptive_avg_pool2d_forward_cpu<T>(xc.data<T>(), y.data<T>(), N, C, H, W, OH, OW, cpu_threads());
      },
      [&](void* stream) {
        adaptive_avg_pool2d_forward_cuda(xc.data<float>(), y.data<float>(), N, C, H, W, OH, OW, stream);
      });
  return record("adaptive_avg_pool2d", y, {x}, [=](const Tensor& gout) -> std::vector<Tensor> {
    Tensor dy = gout.contiguous(), dx = Tensor::empty(xshape, dt, gout.device());
    dispatch("adaptive_avg_pool2d", dx,
        [&]<class T>() {
          adaptive_avg_pool2d_backward_cpu<T>(dy.data<T>(), dx.data<T>(), N, C, H, W, OH, OW, cpu_threads());
        },
        [&](void* stream) {
          adaptive_avg_pool2d_backward_cuda(dy.data<float>(), dx.data<float>(), N, C, H, W, OH, OW, stream);
        });
    return {dx};
  });
}

}  // namespace spk
