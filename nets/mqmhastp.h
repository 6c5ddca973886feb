// wespeaker's multi-head and multi-query multi-head attentive statistics pooling (wenet-e2e/wespeaker
// wespeaker/models/pooling_layers.py MHASTP, MQMHASTP; Zhao et al., "Multi-query multi-head attention
// pooling and inter-topK penalty for speaker verification", arXiv 2110.05042).
//
// MHASTP(in_dim, layer_num, head_num, d_s, bottleneck_dim): x (B, in_dim, T) is cut into head_num chunks
// of d_model = in_dim / head_num channels (torch.chunk). Head h scores its chunk with
//   heads_att_trans.h.att_0 Conv1d(d_model, bottleneck, 1) -> Tanh -> ... -> att_{n-1} Conv1d(., d_s', 1)
// (layer_num convs, tanh between them; d_s' = d_model when d_s > 1, channel-wise weights, else 1, one
// weight per frame), softmax over time, and returns [sum_t a x; sqrt(clamp(sum_t a x^2 - mean^2, 1e-7))].
// Output: the heads' [mean_h; std_h] in head order, (B, 2 in_dim).
// MQMHASTP(in_dim, layer_num = 2, query_num = 2, head_num = 8, d_s = 2, bottleneck_dim = 64): query_num
// independent MHASTPs (n_query.q) on the same input, concatenated in query order: (B, 2 query_num in_dim).
// These defaults are what wespeaker's ResNet passes (pooling_func='MQMHASTP' gives only in_dim).
// ASTP(in_dim, bottleneck_dim = 128, global_context_att = False) (pooling_layers.py ASTP, the ECAPA-style
// attentive statistics): linear1 Conv1d(in_dim, 128, 1) -> tanh -> linear2 Conv1d(128, in_dim, 1) -> softmax over
// time per channel -> [mean; sqrt(clamp(E[x^2] - mean^2, 1e-7))] (B, 2 in_dim): one channel-wise MHASTP head,
// with its own names.
// No re-initialisation: PyTorch's default Conv1d init.
#pragma once
#include <memory>

#include "nets/blocks.h"

namespace spk {

struct MhastpOptions {
  int64_t layer_num = 2;
  int64_t head_num = 8;
  int64_t d_s = 2;              // > 1: channel-wise attention (d_s' = d_model); 1: one weight per frame
  int64_t bottleneck_dim = 64;
};

class MHASTP : public Module {
 public:
  MHASTP(int64_t in_dim, const MhastpOptions& options, Rng& rng);
  Tensor forward(const Tensor& x) const;      // (B, in_dim, T) -> (B, 2 in_dim)
  int64_t in_dim, d_model;
  MhastpOptions opt;
  std::shared_ptr<ModuleList> heads_att_trans;   // head h: a Slots of att_0 .. att_{layer_num-1}
};

class MQMHASTP : public Module {
 public:
  MQMHASTP(int64_t in_dim, int64_t query_num, const MhastpOptions& options, Rng& rng);
  Tensor forward(const Tensor& x) const;      // (B, in_dim, T) -> (B, 2 query_num in_dim)
  int64_t out_dim() const { return 2 * query_num * in_dim; }
  int64_t in_dim, query_num;
  std::shared_ptr<ModuleList> n_query;
};

class ASTP : public Module {
 public:
  ASTP(int64_t in_dim, int64_t bottleneck_dim, Rng& rng);
  Tensor forward(const Tensor& x) const;      // (B, in_dim, T) -> (B, 2 in_dim)
  int64_t in_dim;
  std::shared_ptr<Conv1d> linear1, linear2;
};

}  // namespace spk
