// Reductions: sum (kernel), mean and var (composed), max/argmax along one dim (kernel), accuracy_percent (kernel).
#include <algorithm>

#include "engine/accuracy.h"
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/reduce/reduce.h"

namespace spk {

// Normalised, sorted, de-duplicated dims; empty input means all dims.
static std::vector<int64_t> reduce_dims(const Tensor& x, std::vector<int64_t> dims, const char* op) {
  if (dims.empty()) for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  for (auto& d : dims) d = wrap_dim(d, x.dim(), op);
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  return dims;
}

static Shape kept_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape k = s;
  for (int64_t d : dims) k[size_t(d)] = 1;
  return k;
}

// Sum one run of adjacent dims [d0, d1] of a dense tensor; returns a dense tensor with those dims set to 1.
static Tensor sum_run(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t outer = 1, K = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) (d < d0 ? outer : d <= d1 ? K : inner) *= x.shape()[size_t(d)];
  Shape s = x.shape();
  for (int64_t d = d0; d <= d1; ++d) s[size_t(d)] = 1;
  Tensor y = Tensor::empty(s, x.dtype(), x.device());
  dispatch("sum", x,
      [&]<class T>() { sum_axis_cpu<T>(x.data<T>(), y.data<T>(), outer, K, inner, cpu_threads()); },
      [&](void* stream) { sum_axis_cuda(x.data<float>(), y.data<float>(), outer, K, inner, stream); });
  return y;
}

Tensor sum(const Tensor& x, std::vector<int64_t> dims_in, bool keepdim) {
  check_op_device(OpId::sum, x.device());
  auto dims = reduce_dims(x, dims_in, "sum");
  Tensor y = x.contiguous();
  // Reduce runs of adjacent dims from the last run backwards, so earlier indices stay valid.
  for (size_t j = dims.size(); j-- > 0;) {
    size_t i = j;
    while (i > 0 && dims[i - 1] == dims[i] - 1) --i;
    y = sum_run(y, dims[i], dims[j]);
    j = i;
  }
  if (dims.empty()) y = x.clone();   // nothing to reduce (0-d input): a copy, never an alias
  Shape ks = kept_shape(x.shape(), dims), out_shape;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (keepdim || !std::binary_search(dims.begin(), dims.end(), d)) out_shape.push_back(ks[size_t(d)]);
  y = make_view(y, out_shape, contiguous_strides(out_shape), y.offset());
  Shape xs = x.shape();
  return record("sum", y, {x}, [xs, ks](const Tensor& g) -> std::vector<Tensor> {
    return {expand(reshape(g, ks), xs)};
  });
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims_in, bool keepdim) {
  auto dims = reduce_dims(x, dims_in, "mean");
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[size_t(d)];
  SPK_CHECK(n > 0, "mean: reducing over an empty dim of ", x.str());
  return mul_scalar(sum(x, dims, keepdim), 1.0 / double(n));
}

Tensor var(const Tensor& x, std::vector<int64_t> dims_in, bool unbiased, bool keepdim) {
  auto dims = reduce_dims(x, dims_in, "var");
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[size_t(d)];
  SPK_CHECK(n > (unbiased ? 1 : 0), "var: need more than ", unbiased ? 1 : 0, " elements per group, tensor ", x.str());
  Tensor c = sub(x, mean(x, dims, true));
  return mul_scalar(sum(mul(c, c), dims, keepdim), 1.0 / double(unbiased ? n - 1 : n));
}

static void max_impl(const Tensor& x, int64_t d, Tensor& values, Tensor& indices, const char* op) {
  check_op_device(OpId::max, x.device());
  SPK_CHECK(x.size(d) > 0, op, ": empty dim ", d, " in ", x.str());
  int64_t outer = 1, K = x.size(d), inner = 1;
  for (int64_t i = 0; i < x.dim(); ++i) if (i != d) (i < d ? outer : inner) *= x.shape()[size_t(i)];
  Tensor xc = x.contiguous();
  Shape ks = x.shape();
  ks[size_t(d)] = 1;
  values = Tensor::empty(ks, x.dtype(), x.device());
  indices = Tensor::empty(ks, DType::i64, x.device());
  dispatch(op, x,
      [&]<class T>() { max_axis_cpu<T>(xc.data<T>(), values.data<T>(), indices.data<int64_t>(), outer, K, inner); },
      [&](void* stream) {
        max_axis_cuda(xc.data<float>(), values.data<float>(), indices.data<int64_t>(), outer, K, inner, stream);
      });
}

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  int64_t d = wrap_dim(dim, x.dim(), "max");
  Tensor v, idx;
  max_impl(x, d, v, idx, "max");
  Shape xs = x.shape(), ks = v.shape();
  Tensor idx_saved = idx;
  v = record("max", v, {x}, [xs, ks, d, idx_saved](const Tensor& g) -> std::vector<Tensor> {
    int64_t outer = 1, K = xs[size_t(d)], inner = 1;
    for (size_t i = 0; i < xs.size(); ++i) if (int64_t(i) != d) (int64_t(i) < d ? outer : inner) *= xs[i];
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(xs, g.dtype(), g.device());
    dispatch("max backward", g,
        [&]<class T>() {
          max_axis_backward_cpu<T>(gc.data<T>(), idx_saved.data<int64_t>(), dx.data<T>(), outer, K, inner);
        },
        [&](void* stream) {
          max_axis_backward_cuda(gc.data<float>(), idx_saved.data<int64_t>(), dx.data<float>(), outer, K, inner,
                                 stream);
        });
    return {dx};
  });
  if (!keepdim) { v = squeeze(v, d); idx = squeeze(idx, d); }
  return {v, idx};
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  int64_t d = wrap_dim(dim, x.dim(), "argmax");
  Tensor v, idx;
  max_impl(x, d, v, idx, "argmax");
  return keepdim ? idx : squeeze(idx, d);
}

Tensor accuracy_percent(const Tensor& pred, const Tensor& labels) {
  SPK_CHECK(pred.defined() && pred.dtype() == DType::i64 && pred.dim() == 1,
            "accuracy_percent: predictions must be (N) i64, got ", pred.defined() ? pred.str() : "undefined");
  const int64_t n = pred.size(0);
  if (labels.defined()) {
    SPK_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == n,
              "accuracy_percent: labels must be i64 (", n, ") for predictions ", pred.str(), ", got ", labels.str());
    SPK_CHECK(labels.device() == pred.device(), "accuracy_percent: predictions ", pred.str(), " and labels ",
              labels.str(), " are on different devices");
  }
  const Tensor p = pred.contiguous(), y = labels.defined() ? labels.contiguous() : Tensor();
  Tensor out = Tensor::empty({}, DType::f64, pred.device());
  if (pred.device().is_cpu()) {
    prediction_accuracy_cpu(p.data<int64_t>(), data_or_null<int64_t>(y), n, out.data<double>());
    return out;
  }
#if SPK_HAVE_CUDA
  prediction_accuracy_cuda(p.data<int64_t>(), data_or_null<int64_t>(y), n, out.data<double>(), cuda::current_stream());
  return out;
#else
  SPK_FAIL("this build of spk has no CUDA support");
#endif
}

}  // namespace spk
