// Tensor: a strided view onto reference-counted storage, plus the autograd fields.
//
// A Tensor is a handle (shared_ptr to TensorImpl); copying it aliases. Shapes and strides are in elements,
// row-major by default. Views (reshape of a contiguous tensor, permute, transpose, slice, unsqueeze, expand)
// share storage and only change shape/strides/offset; ops that need dense input call contiguous().
//
// Autograd (engine/autograd.h): a tensor made by an op while grad mode is on and any input requires grad
// carries grad_fn, the tape node that maps its gradient to its inputs' gradients. Leaves that require grad
// accumulate into .grad() on backward().
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/dtype.h"

namespace spk {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);          // "(2, 3, 4)"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);   // -1 -> ndim-1; throws naming op if out of range

// Owns one allocation on one device. CPU memory is 64-byte aligned; CUDA memory comes from the caching allocator.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Node;
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;   // in elements
  Shape shape, strides;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;   // accumulated gradient (leaves)
  std::shared_ptr<Node> grad_fn;      // producing op (non-leaves)
};

class Rng;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return int64_t(impl().shape.size()); }
  int64_t size(int64_t d) const;                 // negative d counts from the end
  int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  int64_t offset() const { return impl().offset; }
  bool is_contiguous() const;
  std::string str() const;                       // "f32(2, 3) cpu" for messages

  // Raw element pointer (storage base + offset). data<T>() checks that T matches the dtype.
  void* data_ptr() const;
  template <class T> T* data() const {
    SPK_CHECK(dtype() == dtype_of<T>(), "data<T>: tensor is ", str());
    return static_cast<T*>(data_ptr());
  }

  // ---- factories ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());  // shape ()
  // Copies host values into a new tensor of the given dtype (values converted) on the given device.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::f32,
                            Device device = Device::cpu());
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape, Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::i64, Device device = Device::cpu());
  // Random fills are counter-based (engine/rng.h): value i depends only on (seed, stream offset, i).
  static Tensor uniform(const Shape& shape, Rng& rng, double lo = 0, double hi = 1, DType dtype = DType::f32,
                        Device device = Device::cpu());
  static Tensor normal(const Shape& shape, Rng& rng, double mean = 0, double std = 1, DType dtype = DType::f32,
                       Device device = Device::cpu());

  // ---- copies and conversions (no autograd: use ops.h's to_dtype/copy for differentiable versions) ----
  Tensor to(Device device) const;                // explicit transfer; returns *this if already there
  Tensor to(DType dtype) const;                  // value conversion (round to nearest even for f16/bf16)
  Tensor contiguous() const;                     // *this if already contiguous, else a dense copy
  Tensor clone() const;                          // always a dense copy
  std::vector<double> to_double() const;         // any dtype/device -> host doubles, row-major
  double item() const;                           // single-element tensors
  template <class T> std::vector<T> to_vector() const {
    auto v = to_double();
    return std::vector<T>(v.begin(), v.end());
  }

  // ---- in-place data updates, outside autograd (optimisers, initialisers, running stats) ----
  Tensor& copy_(const Tensor& src);              // same shape; converts dtype and moves across devices
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool r = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }  // undefined when no gradient yet
  void set_grad(const Tensor& g) const;
  void zero_grad() const { impl().grad.reset(); }
  Tensor detach() const;                          // same storage and view, no history, no requires_grad
  // Reverse-mode sweep from this tensor. grad defaults to ones for a single-element tensor.
  void backward(const Tensor& grad = Tensor()) const;

  TensorImpl& impl() const {
    SPK_CHECK(impl_ != nullptr, "use of an undefined Tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A new tensor that views t's storage with another shape/strides/offset (no autograd: see ops.h views).
Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset);

}  // namespace spk
