// The differentiable ops, one entry point per row of engine/ops.def. All take and return Tensors; the
// device and dtype come from the inputs (f32 everywhere, f64 on the CPU for gradient checks). Errors name
// the op and the shapes. Implementations: engine/ops/<family>.cpp, kernels in kernels/<family>/.
#pragma once
#include <limits>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace spk {

class Rng;

// ---- elementwise, binary, NumPy broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }

// ---- elementwise with a scalar ----
Tensor add_scalar(const Tensor& x, double s);            // x + s
Tensor mul_scalar(const Tensor& x, double s);            // x * s
Tensor pow_scalar(const Tensor& x, double p);            // x ^ p
Tensor clamp(const Tensor& x, double lo, double hi);     // gradient 1 inside [lo, hi], 0 outside
inline Tensor operator+(const Tensor& x, double s) { return add_scalar(x, s); }
inline Tensor operator-(const Tensor& x, double s) { return add_scalar(x, -s); }
inline Tensor operator*(const Tensor& x, double s) { return mul_scalar(x, s); }
inline Tensor operator*(double s, const Tensor& x) { return mul_scalar(x, s); }
inline Tensor operator/(const Tensor& x, double s) { return mul_scalar(x, 1.0 / s); }

// ---- elementwise, unary ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
inline Tensor operator-(const Tensor& x) { return neg(x); }

// ---- reductions over the listed dims (empty list: all dims) ----
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Variance; unbiased divides by n-1 (torch.var default), biased by n (BatchNorm's normaliser).
Tensor var(const Tensor& x, std::vector<int64_t> dims, bool unbiased = true, bool keepdim = false);
// Max along one dim: values (differentiable; the gradient goes to the first maximal element) and i64 indices.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);   // i64, not differentiable

// ---- matrix products ----
// a (..., M, K) @ b (..., K, N) -> (..., M, N); batch dims broadcast; 1-D operands are not promoted.
Tensor matmul(const Tensor& a, const Tensor& b);
// x (..., in) @ weight (out, in)^T + bias (out) -> (..., out); bias may be undefined. As torch.nn.Linear.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- convolution and pooling (PyTorch semantics and weight layouts) ----
// x (N, C_in, L), weight (C_out, C_in/groups, K), bias (C_out) or undefined -> (N, C_out, L_out)
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// x (N, C_in, H, W), weight (C_out, C_in/groups, KH, KW) -> (N, C_out, H_out, W_out); pairs are (H, W)
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              std::pair<int64_t, int64_t> stride = {1, 1}, std::pair<int64_t, int64_t> padding = {0, 0},
              std::pair<int64_t, int64_t> dilation = {1, 1}, int64_t groups = 1);
// Pools: stride 0 means stride = kernel (PyTorch default); padding pads with -inf (max) or zeros (avg,
// counted in the divisor, count_include_pad=True as PyTorch's default).
Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor max_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride = {0, 0},
                  std::pair<int64_t, int64_t> padding = {0, 0});
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride = {0, 0},
                  std::pair<int64_t, int64_t> padding = {0, 0});
// x (N, C, H, W) -> (N, C, out_h, out_w) with PyTorch's bins [floor(i*H/out), ceil((i+1)*H/out)).
Tensor adaptive_avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> output_size);

// ---- normalisation ----
// x (N, C) or (N, C, *). Training: normalise with the batch statistics over all dims but C (biased
// variance) and update running_mean/var in place with momentum (unbiased variance, as PyTorch). Eval:
// use the running statistics. weight/bias (C) may be undefined (affine=False); running stats may be
// undefined in training (track_running_stats=False).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// x (N, C, T): each (n, c) row normalised over T (biased variance); weight/bias (C) optional.
// As torch.nn.InstanceNorm1d (affine=False, track_running_stats=False by default).
Tensor instance_norm1d(const Tensor& x, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                       double eps = 1e-5);
// relu(batch_norm(x, ...)) in one kernel each way (the same arguments and running-stat update as batch_norm;
// the output equals the composition bit for bit).
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// batch_norm(relu(x), ...) in one kernel each way, the ReLU's output never written (the same arguments and
// running-stat update as batch_norm; output, running stats and gradients equal the composition bit for bit).
// For blocks that put the ReLU before the BN (voxceleb_trainer's SEBasicBlock: conv1 → ReLU → bn1).
Tensor relu_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// x / max(||x||_2 along dim, eps), as torch.nn.functional.normalize.
Tensor l2_normalize(const Tensor& x, int64_t dim = -1, double eps = 1e-12);
// x (..., D): each row of the last dim normalised over its D values (biased variance), then ·weight + bias
// (D each, optional), as torch.nn.functional.layer_norm(x, (D,), weight, bias, eps).
Tensor layer_norm(const Tensor& x, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), double eps = 1e-5);

// ---- attention (torch.nn.MultiheadAttention's math: no mask, no dropout) ----
// The attention core: q (Lq, E) or (B, Lq, E), k and v (Lk, E) / (B, Lk, E) of the same rank; E = H·Dh and head
// h owns columns [h·Dh, (h+1)·Dh). Per batch and head softmax(Q_h K_hᵀ/√Dh) V_h, in head h's columns of the
// (Lq, E) / (B, Lq, E) output. One op (kernels/attention) with its own backward.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t num_heads);
// torch.nn.MultiheadAttention's forward (batch_first for 3-d inputs; 2-d inputs are one unbatched sequence):
// q/k/v = linear(query/key/value, in_proj_weight rows [0,E)/[E,2E)/[2E,3E), in_proj_bias likewise), then the
// core, then linear(·, out_proj_weight, out_proj_bias). Biases may be undefined. Returns the attention output
// only (torch's need_weights=False).
Tensor multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& in_proj_weight,
                            const Tensor& in_proj_bias, const Tensor& out_proj_weight, const Tensor& out_proj_bias,
                            int64_t num_heads);

// ---- recurrent (torch.nn.GRU's math: one layer, one direction, batch_first; kernels/gru/gru.h) ----
// The recurrence alone: gi (B, L, 3H) = x W_ihᵀ + b_ih in torch's gate order (r, z, n), h0 (B, H), w_hh (3H, H),
// b_hh (3H) or undefined -> h (B, L, H), every step's hidden state. One op with its backward through time.
Tensor gru_sequence(const Tensor& gi, const Tensor& h0, const Tensor& w_hh, const Tensor& b_hh);
// torch.nn.GRU(In, H, batch_first=True)(x, h0)[0]: x (B, L, In), h0 (B, H) or undefined (zeros), weights as
// torch's weight_ih_l0 (3H, In), weight_hh_l0 (3H, H), bias_ih_l0, bias_hh_l0 (3H, each may be undefined).
// Composed: linear(x, w_ih, b_ih), then gru_sequence.
Tensor gru(const Tensor& x, const Tensor& h0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
           const Tensor& b_hh);

// ---- attentive pooling over frames (kernels/attnpool/attnpool.h): softmax over time + weighted mean/std ----
// voxceleb_trainer's SAP/ASP after its sap_linear: h_pre (B, L, H) = sap_linear(x) before the tanh, attention (H)
// or (H, 1), x (B, L, D). w = softmax_t(tanh(h_pre) @ attention); returns mu = Σ_t w x (B, D), or with_std
// [mu; sqrt(clamp(Σ_t w x² − mu², 1e-5))] (B, 2D). One op, one kernel each way; gradients for all three inputs.
Tensor sap_pool(const Tensor& h_pre, const Tensor& attention, const Tensor& x, bool with_std);
// Attentive statistics (ECAPA-TDNN, ResNetSE34V2, RawNet3, wespeaker ASTP): logits (B, Cw, L) with Cw = C (one
// softmax per channel) or 1 (one weight per frame for all channels), x (B, C, L). w = softmax over L of logits;
// returns mu = Σ_t w x (B, C), or with_std [mu; sqrt(clamp(Σ_t w x² − mu², clamp_min, clamp_max))] (B, 2C).
Tensor attentive_stats_pool(const Tensor& logits, const Tensor& x, bool with_std, double clamp_min,
                            double clamp_max = std::numeric_limits<double>::infinity());
// ---- the SE residual block, fused (kernels/se/se.h) ----
// Squeeze-excitation: x (N, C, H, W) or (N, C, L) -> x·sigmoid(w2·relu(w1·mean(x over the dims after C) + b1) + b2)
// per (n, c), w1 (R, C), b1 (R), w2 (C, R), b2 (C) as torch Linear weights (biases may be undefined). One op
// each way: voxceleb_trainer's SELayer and ECAPA-TDNN's SE module without the (N, C)-sized intermediates' ops.
Tensor squeeze_excite(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2);
// relu(a + b) for a and b of one shape (no broadcasting): the residual join, one pass each way; equals the
// composition bit for bit.
Tensor add_relu(const Tensor& a, const Tensor& b);

// ---- softmax family ----
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
// logits (N, C), labels (N) i64 in [0, C): mean over N of -log softmax(logits)[n, label[n]].
// Out-of-range labels raise an error naming the row.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

// ---- similarity matrices (rows of a (N, D) against rows of b (M, D) -> (N, M)) ----
// cos(a_i, b_j) = a_i·b_j / max(||a_i||·||b_j||, eps)  (torch.nn.functional.cosine_similarity's eps rule)
Tensor cosine_matrix(const Tensor& a, const Tensor& b, double eps = 1e-8);
// ||a_i - b_j||_2, as torch.cdist(p=2); the gradient at a zero distance is 0.
Tensor euclidean_matrix(const Tensor& a, const Tensor& b);

// ---- SincNet (engine/ops/sinc.cpp, kernels/sinc; formulas in kernels/sinc/sinc.h) ----
// low_hz, band_hz (C, 1): the learnable cut-offs (the references' low_hz_ / band_hz_). Two conventions:
//   sincnet   pyannote-audio 1.x SincConv1d / mravanelli/SincNet: C cosine band-pass filters
//   asteroid  asteroid-filterbanks ParamSincFB (voxceleb_trainer RawNet3): C cosine then C sine filters (2C)
enum class SincConvention : uint8_t { sincnet, asteroid };
struct SincOptions {
  SincConvention convention = SincConvention::sincnet;
  int64_t kernel_size = 251;           // taps; odd (the layer rounds an even size up, as both references do)
  int64_t stride = 1, padding = 0;     // sinc_conv1d only
  double sample_rate = 16000;
  double min_low_hz = 50, min_band_hz = 50;
  // Mel-spaced initialisation (SincConv1d's constructor, sinc_init_cutoffs): the first low cut-off and the last
  // high cut-off in Hz; init_high_hz <= 0 means the references' fs/2 − (min_low_hz + min_band_hz).
  double init_low_hz = 30, init_high_hz = 0;
};
// (C, 1) cut-offs -> filters (F, K), F = C (sincnet) or 2C (asteroid). Differentiable in low_hz and band_hz.
Tensor sinc_filters(const Tensor& low_hz, const Tensor& band_hz, const SincOptions& options);
// x (N, 1, L) -> (N, F, L_out): conv1d(x, sinc_filters(...)) with options.stride/padding, no bias.
// Differentiable in x, low_hz and band_hz. On CUDA the filter construction is fused into the conv kernel.
Tensor sinc_conv1d(const Tensor& x, const Tensor& low_hz, const Tensor& band_hz, const SincOptions& options);
// The references' initial cut-offs for C rows, (C, 1) each in dtype: mel-spaced edges
// hz_0 .. hz_C between init_low_hz and init_high_hz; low_hz = hz[:-1], band_hz = diff(hz). Throws naming the
// option when an edge is outside (0, sample_rate/2) or init_low_hz >= init_high_hz.
std::pair<Tensor, Tensor> sinc_init_cutoffs(int64_t C, const SincOptions& options, DType dtype = DType::f32);

// ---- regularisation ----
// Training: zero each element with probability p (counter-based mask from rng), scale the rest by 1/(1-p).
Tensor dropout(const Tensor& x, double p, Rng& rng, bool training);

// ---- shape and indexing ----
Tensor reshape(const Tensor& x, const Shape& shape);     // one -1 allowed; a view when x is contiguous
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);  // python x[start:end:step]
Tensor expand(const Tensor& x, const Shape& shape);      // broadcast size-1 dims (view, stride 0)
Tensor contiguous(const Tensor& x);                      // differentiable dense copy (identity if dense)
Tensor unsqueeze(const Tensor& x, int64_t dim);          // reshape
Tensor squeeze(const Tensor& x, int64_t dim);            // reshape; dim must have size 1
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);   // reshape
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);   // slices
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);   // index: 1-D i64
// out[i][j] = x[i][index[i][j]] along dim (torch.gather); index i64 with x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

// ---- fused losses (engine/ops/fused_loss.cpp; docs/cuda/losses.md) ----
// What the two ops return: the mean cross-entropy () (differentiable) and the argmax of each logit row
// (first maximum on ties, as argmax), i64 and without gradient, for the training accuracy.
struct FusedLossOutput {
  Tensor loss;     // ()
  Tensor pred;     // (N) i64: argmax over each row of the (margin) logits
  Tensor pred_t;   // (N) i64: argmax over each column (similarity_ce with symmetric); undefined otherwise
};

// margin_softmax_ce: AM-softmax (CosFace) or AAM-softmax (ArcFace) with cross-entropy, fused.
//   cos[i, c] = x̂_i · ŵ_c with v̂ = v / max(‖v‖, 1e-12) (l2_normalize), z = s·cos except the label column:
//   additive: z[i, y] = s·(t − m);   angular: z[i, y] = s·φ'(t), φ = t·cos m − sin·sin m,
//   sin = √clamp(1 − t², 0, 1), φ' = φ if t − cos(π − m) > 0 else t − m·sin(π − m) (easy_margin: φ if t > 0
//   else t) — losses/aamsoftmax.cpp's voxceleb_trainer rule. loss = mean_i CE(z_i, y_i).
// x (N, D); weight (C, D), or (D, C) with the classes in columns when weight_by_columns (amsoftmax's W);
// labels (N) i64 in [0, C): on the CPU an out-of-range label raises naming its row; on a GPU it is not read back
// (no host sync), and its row's loss is NaN, which --nan_policy then reports.
enum class MarginKind : uint8_t { additive, angular };
struct MarginSoftmaxOptions {
  MarginKind kind = MarginKind::angular;
  double margin = 0.1, scale = 30;
  bool easy_margin = false;         // angular only
  bool weight_by_columns = false;   // weight is (D, C)
};
FusedLossOutput margin_softmax_ce(const Tensor& x, const Tensor& weight, const Tensor& labels,
                                  const MarginSoftmaxOptions& options);

// similarity_ce: cross-entropy of an affine cosine-similarity matrix with positional targets (row i's
// target is column i), fused; angleproto / anglecontrast / infonce.
//   S[i, j] = cos(a_i, b_j);  z = w·S + bias;  loss = mean_i CE(z_i, i), or with symmetric
//   ½[mean_i CE(z_i, i) + mean_j CE(z_{·j}, j)] (rows of zᵀ).
// cos rule: product:  a·b / max(‖a‖·‖b‖, eps)             (cosine_matrix, F.cosine_similarity; eps 1e-8)
//           per_row:  â·b̂ with v̂ = v / max(‖v‖, eps)       (l2_normalize both sides; eps 1e-12)
// a, b (N, D); w () learnable; bias () or undefined (no bias). Both get gradients.
enum class CosineEps : uint8_t { product, per_row };
struct SimilarityCeOptions {
  bool symmetric = false;
  CosineEps eps_rule = CosineEps::product;
  double eps = 1e-8;
};
FusedLossOutput similarity_ce(const Tensor& a, const Tensor& b, const Tensor& w, const Tensor& bias,
                              const SimilarityCeOptions& options);

}  // namespace spk
