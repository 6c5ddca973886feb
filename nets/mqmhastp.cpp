// MHASTP / MQMHASTP pooling (see mqmhastp.h).
#include "nets/mqmhastp.h"

#include <string>

#include "engine/rng.h"

namespace spk {

MHASTP::MHASTP(int64_t in_dim_, const MhastpOptions& options, Rng& rng) : in_dim(in_dim_), opt(options) {
  SPK_CHECK(opt.head_num >= 1 && in_dim % opt.head_num == 0 && opt.layer_num >= 1 && opt.bottleneck_dim >= 1,
            "MHASTP: in_dim ", in_dim, " must be a multiple of head_num ", opt.head_num, " (layer_num ",
            opt.layer_num, ", bottleneck_dim ", opt.bottleneck_dim, ")");
  d_model = in_dim / opt.head_num;
  // channel_dims = [d_model, bottleneck, ..., bottleneck, d_s'] (layer_num + 1 entries), as wespeaker.
  std::vector<int64_t> dims(size_t(opt.layer_num + 1), opt.bottleneck_dim);
  dims.front() = d_model;
  dims.back() = opt.d_s > 1 ? d_model : 1;
  heads_att_trans = register_module("heads_att_trans", std::make_shared<ModuleList>());
  for (int64_t h = 0; h < opt.head_num; ++h) {
    auto seq = std::make_shared<Slots>();
    for (int64_t i = 0; i < opt.layer_num; ++i)
      seq->add("att_" + std::to_string(i), std::make_shared<Conv1d>(dims[size_t(i)], dims[size_t(i + 1)], 1, rng));
    heads_att_trans->push_back(seq);
  }
}

Tensor MHASTP::forward(const Tensor& x) const {
  SPK_CHECK(x.dim() == 3 && x.size(1) == in_dim, "MHASTP: input ", x.str(), " must be (B, ", in_dim, ", T)");
  std::vector<Tensor> chunks = split(x, std::vector<int64_t>(size_t(opt.head_num), d_model), 1);
  std::vector<Tensor> out;
  for (int64_t h = 0; h < opt.head_num; ++h) {
    const Tensor chunk = contiguous(chunks[size_t(h)]);
    auto& seq = heads_att_trans->at<Slots>(size_t(h));
    Tensor s = chunk;
    for (int64_t i = 0; i < opt.layer_num; ++i) {
      if (i > 0) s = tanh(s);
      s = dynamic_cast<Conv1d&>(*seq.children()[size_t(i)].second).forward(s);
    }
    // s (B, d_s', T) with d_s' = d_model or 1 (one weight per frame): its softmax over time is fused.
    out.push_back(attentive_stats_pool(s, chunk, /*with_std=*/true, 1e-7));
  }
  return concat(out, 1);
}

MQMHASTP::MQMHASTP(int64_t in_dim_, int64_t query_num_, const MhastpOptions& options, Rng& rng)
    : in_dim(in_dim_), query_num(query_num_) {
  SPK_CHECK(query_num >= 1, "MQMHASTP: query_num ", query_num, " must be positive");
  n_query = register_module("n_query", std::make_shared<ModuleList>());
  for (int64_t q = 0; q < query_num; ++q) n_query->push_back(std::make_shared<MHASTP>(in_dim, options, rng));
}

Tensor MQMHASTP::forward(const Tensor& x) const {
  std::vector<Tensor> out;
  for (int64_t q = 0; q < query_num; ++q) out.push_back(n_query->at<MHASTP>(size_t(q)).forward(x));
  return concat(out, 1);
}

ASTP::ASTP(int64_t in_dim_, int64_t bottleneck_dim, Rng& rng) : in_dim(in_dim_) {
  linear1 = register_module("linear1", std::make_shared<Conv1d>(in_dim, bottleneck_dim, 1, rng));
  linear2 = register_module("linear2", std::make_shared<Conv1d>(bottleneck_dim, in_dim, 1, rng));
}

Tensor ASTP::forward(const Tensor& x) const {
  SPK_CHECK(x.dim() == 3 && x.size(1) == in_dim, "ASTP: input ", x.str(), " must be (B, ", in_dim, ", T)");
  return attentive_stats_pool(linear2->forward(tanh(linear1->forward(x))), x, /*with_std=*/true, 1e-7);
}

}  // namespace spk
