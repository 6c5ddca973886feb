// GradBuckets: see grad_buckets.h.
#include "engine/dist/grad_buckets.h"

#include <exception>
#include <map>
#include <string>

#include "engine/autograd.h"
#include "engine/grad_hook.h"
#include "engine/ops.h"

namespace spk::dist {

GradBuckets::GradBuckets(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)), seen_(params_.size(), 0) {
  SPK_CHECK(bucket_bytes > 0, "gradient buckets of ", bucket_bytes, " bytes");
  std::map<std::pair<int, std::string>, size_t> open;   // (dtype, device) -> its open bucket
  for (size_t k = params_.size(); k-- > 0;) {           // reverse registration order
    const Tensor& p = params_[k];
    const auto key = std::make_pair(int(p.dtype()), p.device().str());
    const int64_t nb = p.numel() * int64_t(dtype_size(p.dtype()));
    auto it = open.find(key);
    if (it == open.end() || buckets_[it->second].numel * int64_t(dtype_size(p.dtype())) + nb > bucket_bytes) {
      buckets_.emplace_back();
      it = open.insert_or_assign(key, buckets_.size() - 1).first;
    }
    Bucket& b = buckets_[it->second];
    where_[p.impl_ptr().get()] = {it->second, b.params.size()};
    b.params.push_back(k);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
  }
}

GradBuckets::~GradBuckets() {
  // Unwinding an error: the job is ending (spk_train aborts every rank); waiting could block on a dead peer, so the
  // buffers are let go as they are, never freed under a running transfer.
  if (std::uncaught_exceptions() > 0) {
    for (Bucket& b : buckets_) new Tensor(b.flat);   // deliberately leaked
    return;
  }
  try {
    wait_all();
  } catch (...) {
  }
}

void GradBuckets::begin_step(double scale) {
  wait_all();
  scale_ = scale;
  next_ = 0;
  started_in_backward_ = 0;
  std::fill(seen_.begin(), seen_.end(), 0);
  for (Bucket& b : buckets_) {
    const Tensor& p0 = params_[b.params[0]];
    b.flat = Tensor::empty({b.numel + int64_t(b.params.size())}, p0.dtype(), p0.device());
    b.has.assign(b.params.size(), 0.0);
    b.ready = 0;
    b.started = false;
  }
  in_flight_ = true;
}

void GradBuckets::backward(const Tensor& loss, double scale) {
  if (comm_.world_size() == 1) {
    if (loss.defined()) loss.backward();
    return;
  }
  begin_step(scale);
  if (loss.defined()) {
    LeafGradHookScope scope([this](const Tensor& leaf) {
      const auto it = where_.find(leaf.impl_ptr().get());
      if (it == where_.end()) return;   // a leaf the optimiser does not update
      on_ready(buckets_[it->second.first].params[it->second.second]);
    });
    loss.backward();
  }
  started_in_backward_ = next_;
  start_ready_buckets(/*all=*/true);
}

// Copies parameter `param`'s gradient (times scale_), or zeros where it has none, into its bucket.
void GradBuckets::fill_slot(size_t param) {
  seen_[param] = 1;
  const auto [k, slot] = where_.at(params_[param].impl_ptr().get());
  Bucket& b = buckets_[k];
  const Tensor& p = params_[param];
  Tensor view = make_view(b.flat, p.shape(), contiguous_strides(p.shape()), b.offsets[slot]);
  const Tensor g = p.grad();
  NoGradGuard ng;
  if (g.defined()) {
    view.copy_(scale_ == 1.0 ? g : mul_scalar(g, scale_));
    b.has[slot] = 1;
  } else {
    view.zero_();   // counts as zero in the mean; the flag stays 0
  }
  ++b.ready;
}

void GradBuckets::on_ready(size_t param) {
  if (seen_[param]) return;
  fill_slot(param);
  start_ready_buckets(/*all=*/false);
  comm_.poll();
}

// Starts the buckets from next_ on that are complete, in order; with `all`, completes and starts every one (after
// backward: the parameters it did not reach have no gradient, or one from before it, which the trainer never has).
void GradBuckets::start_ready_buckets(bool all) {
  for (; next_ < buckets_.size(); ++next_) {
    Bucket& b = buckets_[next_];
    if (b.ready < b.params.size()) {
      if (!all) return;
      for (size_t i : b.params)
        if (!seen_[i]) fill_slot(i);
    }
    NoGradGuard ng;
    const Tensor flags = Tensor::from_vector(b.has, {int64_t(b.has.size())}, b.flat.dtype(), b.flat.device());
    slice(b.flat, 0, b.numel, b.numel + int64_t(b.has.size())).copy_(flags);
    b.handle = comm_.all_reduce_start(b.flat);
    b.started = true;
  }
}

void GradBuckets::wait_all() {
  if (!in_flight_) return;
  in_flight_ = false;
  for (Bucket& b : buckets_)
    if (b.started) comm_.all_reduce_wait(b.handle);
}

void GradBuckets::apply() {
  if (comm_.world_size() == 1) return;
  SPK_CHECK(in_flight_ && next_ == buckets_.size(), "GradBuckets::apply without a backward");
  wait_all();
  NoGradGuard ng;
  std::vector<Tensor> means, flags;
  for (Bucket& b : buckets_) {
    means.push_back(mul_scalar(b.flat, 1.0 / comm_.world_size()));
    flags.push_back(slice(means.back(), 0, b.numel, means.back().numel()).to(DType::f64));
    b.flat = Tensor();
  }
  const std::vector<double> any = concat(flags, 0).to_double();   // one read back for all buckets
  size_t f = 0;
  for (size_t k = 0; k < buckets_.size(); ++k)
    for (size_t s = 0; s < buckets_[k].params.size(); ++s, ++f) {
      const Tensor& p = params_[buckets_[k].params[s]];
      if (any[f] > 0) p.set_grad(make_view(means[k], p.shape(), contiguous_strides(p.shape()), buckets_[k].offsets[s]));
      else p.zero_grad();
    }
}

void GradBuckets::discard() {
  wait_all();
  for (Bucket& b : buckets_) b.flat = Tensor();
}

}  // namespace spk::dist
