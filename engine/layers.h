// Basic layers on engine ops: Linear, Conv1d, Conv2d, BatchNorm1d, BatchNorm2d, InstanceNorm1d, SincConv1d,
// LayerNorm, MultiheadAttention, GRU.
//
// Parameter names, shapes and default initialisation are PyTorch's, so state() loads PyTorch weights:
//   Linear       weight (out, in), bias (out)
//   Conv1d/2d    weight (out, in/groups, k) / (out, in/groups, kh, kw), bias (out) when options.bias
//   BatchNorm    weight, bias (C) when affine; buffers running_mean, running_var (C) f32/f64 and
//                num_batches_tracked (i64, shape ()) when track_running_stats
//   LayerNorm    weight (D) = 1, bias (D) = 0 (elementwise_affine)
//   MultiheadAttention  in_proj_weight (3E, E), in_proj_bias (3E), out_proj.weight (E, E), out_proj.bias (E):
//                torch draws out_proj (a Linear: kaiming weight, uniform bias) first, then xavier_uniform
//                in_proj_weight, and zeroes both biases; so does this constructor, in that order
//   GRU          weight_ih_l0 (3H, In), weight_hh_l0 (3H, H), bias_ih_l0, bias_hh_l0 (3H), gates (r, z, n);
//                every tensor U(±1/√H), drawn in that order (torch's RNNBase.reset_parameters)
// Linear and Conv weights get kaiming_uniform(a = sqrt(5)) (bound 1/sqrt(fan_in)) and biases
// U(±1/sqrt(fan_in)), drawn in that order from the given Rng; BatchNorm starts at weight 1, bias 0,
// running_mean 0, running_var 1. Nets re-initialise as their reference does (engine/init.h).
//
// The Conv and BatchNorm forwards are defined inline here: they are one call each into engine/ops.h, and
// keeping them out of layers.cpp means a binary that never calls them need not link those ops.
#pragma once
#include <memory>
#include <utility>

#include "engine/check.h"
#include "engine/dist/sync_batch_norm.h"
#include "engine/module.h"
#include "engine/ops.h"

namespace spk {

class Rng;

// y = x Wᵀ + b. x (..., in) -> (..., out).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;   // (out, in), (out) or undefined
};

struct Conv1dOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
  bool bias = true;
  DType dtype = DType::f32;
};

// x (N, C_in, L) -> (N, C_out, L_out)
class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel, Rng& rng, Conv1dOptions options = {});
  Tensor forward(const Tensor& x) const {
    return conv1d(x, weight, bias, opt.stride, opt.padding, opt.dilation, opt.groups);
  }
  Tensor weight, bias;   // (C_out, C_in/groups, K), (C_out) or undefined
  Conv1dOptions opt;
};

struct Conv2dOptions {
  std::pair<int64_t, int64_t> stride{1, 1}, padding{0, 0}, dilation{1, 1};   // (H, W)
  int64_t groups = 1;
  bool bias = true;
  DType dtype = DType::f32;
};

// x (N, C_in, H, W) -> (N, C_out, H_out, W_out)
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::pair<int64_t, int64_t> kernel, Rng& rng,
         Conv2dOptions options = {});
  Tensor forward(const Tensor& x) const {
    return conv2d(x, weight, bias, opt.stride, opt.padding, opt.dilation, opt.groups);
  }
  Tensor weight, bias;   // (C_out, C_in/groups, KH, KW), (C_out) or undefined
  Conv2dOptions opt;
};

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;            // running = (1 - momentum)·running + momentum·batch (PyTorch's convention)
  bool affine = true;
  bool track_running_stats = true;
  DType dtype = DType::f32;
};

// Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept.
// Training (or no running stats): normalise with batch statistics and, when tracking, update the running
// statistics and count the batch. Eval: normalise with the running statistics.
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t num_features, BatchNormOptions options);
  Tensor weight, bias;                                        // (C) or undefined when !affine
  Tensor running_mean, running_var, num_batches_tracked;      // undefined when !track_running_stats
  BatchNormOptions opt;
  dist::Communicator* sync = nullptr;   // set (spk_train --sync_bn): training statistics over all ranks
  // Inference only (fold_into, spk_eval --fold_bn): this BN's eval-mode affine map now lives in the weight and bias
  // of the conv before it, so the forward passes x through (ReLU'd when fused). Training it would be wrong: throws.
  bool folded = false;

 protected:
  // relu = true gives relu(batch_norm(x)) from the fused op batch_norm_relu: the same values and gradients,
  // one pass over the activations each way instead of two, and one saved tensor instead of two.
  Tensor normalise(const Tensor& x, bool relu = false) {
    if (folded) {
      SPK_CHECK(!is_training(), "BatchNorm: folded into its conv for inference (--fold_bn); cannot run in training");
      return relu ? spk::relu(x) : x;
    }
    if (is_training() && opt.track_running_stats) count_batch();
    if (sync && is_training()) {   // --sync_bn: the statistics of every rank's batch (engine/dist/sync_batch_norm.h)
      Tensor y = dist::sync_batch_norm(x, weight, bias, running_mean, running_var, opt.momentum, opt.eps, *sync);
      return relu ? spk::relu(y) : y;
    }
    const bool batch_stats = is_training() || !opt.track_running_stats;
    return relu ? batch_norm_relu(x, weight, bias, running_mean, running_var, batch_stats, opt.momentum, opt.eps)
                : batch_norm(x, weight, bias, running_mean, running_var, batch_stats, opt.momentum, opt.eps);
  }
  // normalise(relu(x)) from the fused op relu_batch_norm (blocks that put the ReLU before the BN): the same values,
  // running statistics and gradients, without writing relu(x) or keeping it for the backward. --sync_bn and a
  // folded BN take the composition.
  Tensor normalise_relu_in(const Tensor& x) {
    if (folded || (sync && is_training())) return normalise(spk::relu(x));
    if (is_training() && opt.track_running_stats) count_batch();
    const bool batch_stats = is_training() || !opt.track_running_stats;
    return relu_batch_norm(x, weight, bias, running_mean, running_var, batch_stats, opt.momentum, opt.eps);
  }
  void check_rank(const Tensor& x, const char* layer, int64_t lo, int64_t hi) const;

 private:
  void count_batch();   // num_batches_tracked += 1
};

// x (N, C) or (N, C, L)
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  Tensor forward(const Tensor& x) {
    check_rank(x, "BatchNorm1d", 2, 3);
    return normalise(x);
  }
  Tensor forward_relu(const Tensor& x) {   // relu(forward(x)), fused
    check_rank(x, "BatchNorm1d", 2, 3);
    return normalise(x, true);
  }
  Tensor relu_forward(const Tensor& x) {   // forward(relu(x)), fused
    check_rank(x, "BatchNorm1d", 2, 3);
    return normalise_relu_in(x);
  }
};

// x (N, C, H, W)
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  Tensor forward(const Tensor& x) {
    check_rank(x, "BatchNorm2d", 4, 4);
    return normalise(x);
  }
  Tensor forward_relu(const Tensor& x) {   // relu(forward(x)), fused
    check_rank(x, "BatchNorm2d", 4, 4);
    return normalise(x, true);
  }
  Tensor relu_forward(const Tensor& x) {   // forward(relu(x)), fused
    check_rank(x, "BatchNorm2d", 4, 4);
    return normalise_relu_in(x);
  }
};

struct InstanceNormOptions {
  double eps = 1e-5;
  bool affine = false;              // torch.nn.InstanceNorm1d's default; pyannote's SincNet uses affine=True
  DType dtype = DType::f32;
};

// torch.nn.InstanceNorm1d (track_running_stats=False): x (N, C, T), each (n, c) row normalised over T, then
// weight/bias (C) when affine (start at 1 and 0). InstanceNorm1d(1, {.affine = true}) is the waveform
// normalisation pyannote's SincNet applies to (N, 1, L) before the sinc layer (per-utterance mean/std).
class InstanceNorm1d : public Module {
 public:
  explicit InstanceNorm1d(int64_t num_features, InstanceNormOptions options = {});
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;   // (C) or undefined when !affine
  InstanceNormOptions opt;
  int64_t num_features;
};

// SincNet's first layer: x (N, 1, L) -> (N, F, L_out), F band-pass filters built from learnable cut-offs
// (engine/ops.h sinc_conv1d). Parameters low_hz_, band_hz_ (C, 1), named and initialised as pyannote-audio's
// SincConv1d (sincnet: C = out_channels) and asteroid's ParamSincFB (asteroid: C = out_channels / 2, which must
// be even), so a state_dict's names and shapes match. An even options.kernel_size is rounded up to odd, as both
// references do; out_channels() is F.
class SincConv1d : public Module {
 public:
  SincConv1d(int64_t out_channels, SincOptions options = {}, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const { return sinc_conv1d(x, low_hz_, band_hz_, opt); }
  Tensor filters() const { return sinc_filters(low_hz_, band_hz_, opt); }   // (F, K)
  int64_t out_channels() const;
  Tensor low_hz_, band_hz_;   // (C, 1)
  // asteroid only: ParamSincFB's buffers window_ (K/2) and n_ (1, K/2), registered as it does so that a
  // state_dict (RawNet3's conv1.filterbank.*) matches name for name; the forward recomputes both in double and
  // never reads them. Undefined for sincnet (pyannote keeps them as plain attributes, outside its state_dict).
  Tensor window_, n_;
  SincOptions opt;            // kernel_size as used (odd)
};

// torch.nn.LayerNorm(D): x (..., D) normalised over the last dim, eps 1e-5.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }
  Tensor weight, bias;   // (D) or undefined
  double eps;
};

// torch.nn.MultiheadAttention(E, num_heads, bias=True, batch_first=True) without dropout or masks:
// query (L, E) or (B, L, E), key/value (S, E) or (B, S, E) -> (L, E) or (B, L, E) (the attention output only,
// need_weights=False). A 2-d input is one unbatched sequence, as torch treats it.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, Rng& rng, DType dtype = DType::f32);
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value) const {
    return multi_head_attention(query, key, value, in_proj_weight, in_proj_bias, out_proj->weight, out_proj->bias,
                                num_heads);
  }
  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;
  int64_t embed_dim, num_heads;
};

// torch.nn.GRU(input_size, hidden_size, num_layers=1, bias, batch_first=True), unidirectional: x (B, L, In) and
// h0 (B, H) or undefined (zeros) -> (B, L, H), every step's hidden state (torch's output; h_n is its last step).
class GRU : public Module {
 public:
  GRU(int64_t input_size, int64_t hidden_size, Rng& rng, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x, const Tensor& h0 = Tensor()) const {
    return gru(x, h0, weight_ih, weight_hh, bias_ih, bias_hh);
  }
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;   // biases undefined without bias
  int64_t hidden_size;
};

}  // namespace spk
