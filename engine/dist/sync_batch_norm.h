// Batch normalisation over the batches of every rank of a data-parallel step (spk_train --sync_bn), as PyTorch's
// SyncBatchNorm: the per-channel mean and variance are those of the whole step's batch, so W ranks with batch b
// normalise as one process with batch b·W. Built from differentiable ops and one autograd all-reduce (its
// backward all-reduces the gradient), so the gradients are those of the b·W batch once the trainer averages them
// over the ranks. Two all-reduces per layer forward (mean, then the centred sum of squares) and two backward.
// The ranks' batches must have the same size (the sampler's are). Eval mode uses the running statistics as usual.
#pragma once
#include "engine/tensor.h"

namespace spk::dist {

class Communicator;

// x (N, C) or (N, C, *): training-mode batch norm with the statistics of every rank's x; updates running_mean and
// running_var (if defined) with the global mean and the unbiased global variance, as batch_norm does.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, double momentum, double eps, Communicator& comm);

// sum over the ranks, differentiable: the backward pass all-reduces the output's gradient.
Tensor all_reduce_sum_autograd(const Tensor& x, Communicator& comm);

}  // namespace spk::dist
