// Views and copies that change layout: reshape, permute, transpose, slice, expand, contiguous, concat.
// Views share storage; their backward maps the gradient back through the inverse layout change.
// concat writes each input into a slice view of the output with copy_, i.e. the strided copy kernel of
// kernels/copy (CPU or CUDA: one launch per input), and its backward is split, i.e. views: it runs on
// whichever device its inputs are on, values moved exactly.
#include <numeric>

#include "engine/autograd.h"
#include "engine/op_table.h"
#include "engine/ops.h"

namespace spk {

Tensor reshape(const Tensor& x, const Shape& shape_in) {
  Shape shape = shape_in;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      SPK_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape_in));
      infer = int64_t(i);
    } else {
      SPK_CHECK(shape[i] >= 0, "reshape: bad size in ", shape_str(shape_in));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    SPK_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", x.str(), " to ", shape_str(shape_in));
    shape[size_t(infer)] = x.numel() / known;
  }
  SPK_CHECK(shape_numel(shape) == x.numel(), "reshape: cannot reshape ", x.str(), " to ", shape_str(shape_in));
  Tensor xc = x.contiguous();   // a view when x is dense, one copy otherwise
  Tensor y = make_view(xc, shape, contiguous_strides(shape), xc.offset());
  Shape xs = x.shape();
  return record("reshape", y, {x}, [xs](const Tensor& g) -> std::vector<Tensor> { return {reshape(g, xs)}; });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  SPK_CHECK(int64_t(dims.size()) == x.dim(), "permute: ", dims.size(), " dims for ", x.str());
  Shape shape(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    SPK_CHECK(inverse[size_t(d)] < 0, "permute: dim ", d, " repeated");
    inverse[size_t(d)] = int64_t(i);
    shape[i] = x.shape()[size_t(d)];
    strides[i] = x.strides()[size_t(d)];
  }
  Tensor y = make_view(x, shape, strides, x.offset());
  return record("permute", y, {x}, [inverse](const Tensor& g) -> std::vector<Tensor> { return {permute(g, inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t a = wrap_dim(d0, x.dim(), "transpose"), b = wrap_dim(d1, x.dim(), "transpose");
  std::vector<int64_t> p(size_t(x.dim()));
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[size_t(a)], p[size_t(b)]);
  return permute(x, p);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  int64_t d = wrap_dim(dim, x.dim(), "slice");
  int64_t n = x.size(d);
  SPK_CHECK(step > 0, "slice: step must be positive, got ", step);
  auto clampi = [n](int64_t v) { if (v < 0) v += n; return v < 0 ? 0 : (v > n ? n : v); };
  start = clampi(start);
  end = clampi(end);
  int64_t len = end > start ? (end - start + step - 1) / step : 0;
  Shape shape = x.shape(), strides = x.strides();
  shape[size_t(d)] = len;
  strides[size_t(d)] *= step;
  Tensor y = make_view(x, shape, strides, x.offset() + start * x.strides()[size_t(d)]);
  Shape xs = x.shape();
  return record("slice", y, {x}, [xs, d, start, step, len](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::zeros(xs, g.dtype(), g.device());
    Shape st = dx.strides();
    Shape vs = xs;
    vs[size_t(d)] = len;
    Shape vst = st;
    vst[size_t(d)] *= step;
    make_view(dx, vs, vst, start * st[size_t(d)]).copy_(g);
    return {dx};
  });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  SPK_CHECK(shape.size() >= size_t(x.dim()), "expand: ", x.str(), " to fewer dims ", shape_str(shape));
  Shape strides(shape.size(), 0);
  size_t off = shape.size() - size_t(x.dim());
  for (size_t i = 0; i < size_t(x.dim()); ++i) {
    int64_t s = x.shape()[i];
    SPK_CHECK(s == shape[off + i] || s == 1, "expand: ", x.str(), " cannot expand to ", shape_str(shape));
    strides[off + i] = s == 1 && shape[off + i] != 1 ? 0 : x.strides()[i];
  }
  Tensor y = make_view(x, shape, strides, x.offset());
  Shape xs = x.shape();
  return record("expand", y, {x}, [xs](const Tensor& g) -> std::vector<Tensor> { return {sum_to_shape(g, xs)}; });
}

Tensor contiguous(const Tensor& x) {
  check_op_device(OpId::contiguous, x.device());
  if (x.is_contiguous()) return x;
  Tensor y = x.clone();
  return record("contiguous", y, {x}, [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  SPK_CHECK(x.size(d) == 1, "squeeze: dim ", d, " of ", x.str(), " is not 1");
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return reshape(x, s);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t a = wrap_dim(start_dim, x.dim(), "flatten"), b = wrap_dim(end_dim, x.dim(), "flatten");
  SPK_CHECK(a <= b, "flatten: start_dim ", a, " after end_dim ", b);
  Shape s;
  int64_t m = 1;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < a || i > b) s.push_back(x.shape()[size_t(i)]);
    else { m *= x.shape()[size_t(i)]; if (i == b) s.push_back(m); }
  }
  return reshape(x, s);
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  SPK_CHECK(!xs.empty(), "concat: no tensors");
  const Tensor& x0 = xs[0];
  int64_t d = wrap_dim(dim, x0.dim(), "concat");
  check_op_device(OpId::concat, x0.device());
  Shape shape = x0.shape();
  shape[size_t(d)] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    SPK_CHECK(t.dim() == x0.dim() && t.dtype() == x0.dtype() && t.device() == x0.device(), "concat: tensor ", i, " ",
              t.str(), " does not match tensor 0 ", x0.str());
    for (int64_t j = 0; j < t.dim(); ++j)
      SPK_CHECK(j == d || t.shape()[size_t(j)] == x0.shape()[size_t(j)], "concat: tensor ", i, " ", t.str(),
                " differs from tensor 0 ", x0.str(), " outside dim ", d);
    shape[size_t(d)] += t.size(d);
  }
  Tensor out = Tensor::empty(shape, x0.dtype(), x0.device());
  std::vector<int64_t> sizes;
  int64_t at = 0;
  for (const Tensor& t : xs) {
    Shape vs = shape;
    vs[size_t(d)] = t.size(d);
    make_view(out, vs, out.strides(), at * out.strides()[size_t(d)]).copy_(t);
    at += t.size(d);
    sizes.push_back(t.size(d));
  }
  return record("concat", out, xs, [sizes, d](const Tensor& g) -> std::vector<Tensor> { return split(g, sizes, d); });
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) { SPK_CHECK(s >= 0, "split: negative size"); total += s; }
  SPK_CHECK(total == x.size(d), "split: sizes sum to ", total, " but dim ", d, " of ", x.str(), " is ", x.size(d));
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) { out.push_back(slice(x, d, at, at + s)); at += s; }
  return out;
}

}  // namespace spk
