#include "engine/tensor.h"

#include <cstdlib>
#include <cstring>

#include "engine/cuda.h"
#include "engine/dispatch.h"
#include "engine/fault.h"
#include "engine/host_cache.h"
#include "engine/out_of_memory.h"
#include "engine/rng.h"
#include "engine/sync_counter.h"
#include "kernels/common/philox.h"
#include "kernels/common/strided.h"
#include "kernels/copy/copy.h"

namespace spk {

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + ")";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) { st[i] = acc; acc *= s[i]; }
  return st;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  SPK_CHECK(d >= 0 && d < ndim, op, ": dim ", dim, " out of range for a ", ndim, "-d tensor");
  return d;
}

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    char* end = nullptr;
    long i = std::strtol(s.c_str() + 5, &end, 10);
    if (end && *end == 0 && end != s.c_str() + 5 && i >= 0) return cuda(int(i));
  }
  SPK_FAIL("unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

// ---------------------------------------------------------------------------------------------- storage

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  if (d.is_cpu()) {
    // The fault point "alloc" with `fail` (engine/fault.h) stands for an allocation the host cannot serve.
    if (fault::hit(fault::Point::alloc)) throw_host_out_of_memory(n, "injected by SPK_FAULT");
    data = host_alloc(n);   // reuses a freed block of this size (engine/host_cache.h says why)
    if (data == nullptr) throw_host_out_of_memory(n, "");
  } else {
    data = cuda::alloc(n, d.index);
  }
}

Storage::~Storage() {
  if (device.is_cpu()) host_free(data, nbytes);
  else {
    try { cuda::free(data, device.index); } catch (const std::exception& e) {
      std::fprintf(stderr, "spk: error freeing device memory: %s\n", e.what());   // destructors only print
    }
  }
}

// ---------------------------------------------------------------------------------------------- tensor

int64_t Tensor::size(int64_t d) const { return shape()[size_t(wrap_dim(d, dim(), "size"))]; }

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  const auto& s = shape();
  const auto& st = strides();
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] != 1 && st[i] != acc) return false;
    acc *= s[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " " + device().str();
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(impl().storage->data) + impl().offset * int64_t(dtype_size(dtype()));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) SPK_CHECK(d >= 0, "empty: negative size in shape ", shape_str(shape));
  SPK_CHECK(shape.size() <= size_t(kMaxDims), "tensors have at most ", kMaxDims, " dims, got ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& shape, DType dtype, Device device) {
  SPK_CHECK(int64_t(v.size()) == shape_numel(shape), "from_vector: ", v.size(), " values for shape ", shape_str(shape));
  Tensor host = empty(shape, dtype, Device::cpu());
  cast_cpu(v.data(), DType::f64, host.data_ptr(), dtype, int64_t(v.size()));
  return device.is_cpu() ? host : host.to(device);   // an upload, never a read: not counted
}
Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape, Device device) {
  SPK_CHECK(int64_t(v.size()) == shape_numel(shape), "from_vector: ", v.size(), " values for shape ", shape_str(shape));
  Tensor host = empty(shape, DType::f32, Device::cpu());
  if (!v.empty()) std::memcpy(host.data_ptr(), v.data(), v.size() * sizeof(float));   // an empty vector's data() may be null
  return device.is_cpu() ? host : host.to(device);   // an upload, never a read: not counted
}
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& shape, Device device) {
  SPK_CHECK(int64_t(v.size()) == shape_numel(shape), "from_vector: ", v.size(), " values for shape ", shape_str(shape));
  Tensor host = empty(shape, DType::i64, Device::cpu());
  if (!v.empty()) std::memcpy(host.data_ptr(), v.data(), v.size() * sizeof(int64_t));   // an empty vector's data() may be null
  return device.is_cpu() ? host : host.to(device);   // an upload, never a read: not counted
}

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double(i);
  return from_vector(v, {n}, dtype, device);
}

// Random fills are generated on the host in double, then converted: identical values on every device.
Tensor Tensor::uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype, Device device) {
  int64_t n = shape_numel(shape);
  uint64_t base = rng.reserve(uint64_t(n));
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = lo + (hi - lo) * philox_uniform(base + uint64_t(i), rng.seed());
  return from_vector(v, shape, dtype, device);
}
Tensor Tensor::normal(const Shape& shape, Rng& rng, double mean, double std, DType dtype, Device device) {
  int64_t n = shape_numel(shape);
  uint64_t base = rng.reserve(uint64_t(n));
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = mean + std * philox_normal(base + uint64_t(i), rng.seed());
  return from_vector(v, shape, dtype, device);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  Shape dst_strides = out.strides();
  if (device().is_cpu()) {
    strided_copy_cpu(data_ptr(), strides().data(), out.data_ptr(), dst_strides.data(), shape().data(), int(dim()),
                     dtype_size(dtype()));
  } else {
    SPK_CUDA_ONLY(strided_copy_cuda(data_ptr(), strides().data(), out.data_ptr(), dst_strides.data(), shape().data(),
                                    int(dim()), dtype_size(dtype()), cuda::current_stream()));
  }
  return out;
}

Tensor Tensor::to(Device d) const {
  if (d.is_cpu()) sync_counter::note_host_read();   // a device-to-host sync on a GPU (engine/sync_counter.h)
  if (device() == d) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), d);
  size_t nbytes = size_t(numel()) * dtype_size(dtype());
  if (nbytes == 0) return out;
  if (d.is_cuda() && src.device().is_cpu()) cuda::copy_h2d(out.data_ptr(), src.data_ptr(), nbytes);
  else if (d.is_cpu()) cuda::copy_d2h(out.data_ptr(), src.data_ptr(), nbytes);
  else cuda::copy_d2d(out.data_ptr(), src.data_ptr(), nbytes);   // across GPUs: peer copy via the runtime
  return out;
}

Tensor Tensor::to(DType t) const {
  if (dtype() == t) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), t, device());
  if (device().is_cpu()) cast_cpu(src.data_ptr(), dtype(), out.data_ptr(), t, numel());
  else SPK_CUDA_ONLY(cast_cuda(src.data_ptr(), dtype(), out.data_ptr(), t, numel(), cuda::current_stream()));
  return out;
}

std::vector<double> Tensor::to_double() const {
  Tensor h = to(Device::cpu()).contiguous().to(DType::f64);
  const double* p = h.data<double>();
  return std::vector<double>(p, p + h.numel());
}

double Tensor::item() const {
  SPK_CHECK(numel() == 1, "item: tensor ", str(), " has ", numel(), " elements, not 1");
  return to_double()[0];
}

Tensor& Tensor::copy_(const Tensor& src) {
  SPK_CHECK(src.shape() == shape(), "copy_: shape ", shape_str(src.shape()), " into ", shape_str(shape()));
  // A copy within one device (concat, slices, state updates: the compute device's own) is not a read; one into
  // a host tensor from a GPU goes through to(cpu) and is counted there (engine/sync_counter.h).
  Tensor s = src.to(dtype());
  if (s.device() != device()) s = s.to(device());
  if (device().is_cpu()) {
    strided_copy_cpu(s.data_ptr(), s.strides().data(), data_ptr(), strides().data(), shape().data(), int(dim()),
                     dtype_size(dtype()));
  } else {
    SPK_CUDA_ONLY(strided_copy_cuda(s.data_ptr(), s.strides().data(), data_ptr(), strides().data(), shape().data(),
                                    int(dim()), dtype_size(dtype()), cuda::current_stream()));
  }
  return *this;
}

Tensor& Tensor::fill_(double value) {
  if (is_contiguous()) {
    if (device().is_cpu()) fill_cpu(data_ptr(), dtype(), numel(), value);
    else SPK_CUDA_ONLY(fill_cuda(data_ptr(), dtype(), numel(), value, cuda::current_stream()));
    return *this;
  }
  return copy_(full(shape(), value, dtype(), device()));
}

Tensor& Tensor::set_requires_grad(bool r) {
  SPK_CHECK(!r || is_floating(dtype()), "requires_grad on a non-floating tensor ", str());
  SPK_CHECK(!r || is_leaf(), "requires_grad can only be set on leaves");
  impl().requires_grad = r;
  return *this;
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) SPK_CHECK(g.shape() == shape(), "set_grad: gradient ", g.str(), " for tensor ", str());
  impl().grad = g.impl_ptr();
}

Tensor Tensor::detach() const {
  auto d = std::make_shared<TensorImpl>();
  d->storage = impl().storage;
  d->offset = impl().offset;
  d->shape = impl().shape;
  d->strides = impl().strides;
  d->dtype = impl().dtype;
  return Tensor(std::move(d));
}

Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  auto d = std::make_shared<TensorImpl>();
  d->storage = t.impl().storage;
  d->offset = offset;
  d->shape = shape;
  d->strides = strides;
  d->dtype = t.dtype();
  return Tensor(std::move(d));
}

}  // namespace spk
