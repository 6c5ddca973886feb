// See sync_batch_norm.h.
#include "engine/dist/sync_batch_norm.h"

#include "engine/autograd.h"
#include "engine/dist/communicator.h"
#include "engine/ops.h"

namespace spk::dist {

Tensor all_reduce_sum_autograd(const Tensor& x, Communicator& comm) {
  Tensor y;
  {
    NoGradGuard ng;
    y = x.clone();
    comm.all_reduce(y, ReduceOp::sum);
  }
  // Every rank runs the same graph backward in the same (deterministic) order, so these all-reduces pair up.
  return record("sync_batch_norm all_reduce", y, {x}, [&comm](const Tensor& g) {
    Tensor s = g.clone();
    comm.all_reduce(s, ReduceOp::sum);
    return std::vector<Tensor>{s};
  });
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, double momentum, double eps, Communicator& comm) {
  SPK_CHECK(x.dim() >= 2, "sync_batch_norm: input ", x.str(), " needs (N, C) or (N, C, *)");
  const int64_t C = x.size(1);
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Shape per_channel(size_t(x.dim()), 1);
  per_channel[1] = C;
  const double n = double(x.numel() / C) * comm.world_size();   // equal batches on every rank
  SPK_CHECK(n > 1, "sync_batch_norm: one value per channel over all ranks: ", x.str());
  const Tensor mean = mul_scalar(all_reduce_sum_autograd(sum(x, dims), comm), 1.0 / n);   // (C)
  const Tensor xc = x - reshape(mean, per_channel);
  const Tensor var = mul_scalar(all_reduce_sum_autograd(sum(xc * xc, dims), comm), 1.0 / n);   // biased
  const Tensor inv_std = Tensor::ones({C}, x.dtype(), x.device()) / sqrt(add_scalar(var, eps));
  Tensor y = xc * reshape(inv_std, per_channel);
  if (weight.defined()) y = y * reshape(weight, per_channel);
  if (bias.defined()) y = y + reshape(bias, per_channel);
  if (running_mean.defined()) {
    NoGradGuard ng;
    running_mean.copy_(mul_scalar(running_mean, 1 - momentum) + mul_scalar(mean.detach(), momentum));
    running_var.copy_(mul_scalar(running_var, 1 - momentum) + mul_scalar(var.detach(), momentum * n / (n - 1)));
  }
  return y;
}

}  // namespace spk::dist
