// ECAPA-TDNN (nets/ecapa_tdnn.cpp) and wespeaker's ResNets (nets/wespeaker_resnet.cpp) with each of their
// poolings (TSTP, ASTP, MQMHASTP; the HardNeg nets' MHASTP, nets/mqmhastp.cpp) as ONNX nodes.
#include "apps/onnx/onnx_export.h"
#include "apps/onnx/onnx_layers.h"
#include "apps/onnx/onnx_nets.h"
#include "nets/ecapa_tdnn.h"
#include "nets/mqmhastp.h"
#include "nets/wespeaker_resnet.h"

namespace spk::onnx_export {

namespace {

std::string add(Graph& g, const std::string& a, const std::string& b) { return g.node("Add", {a, b}); }

// Res2Net bottleneck with SE (Bottle2neck::forward).
std::string bottle2neck(Graph& g, const Bottle2neck& m, const std::string& x) {
  const std::string out = batch_norm(g, *m.bn1, relu(g, conv1d(g, *m.conv1, x)));
  const std::vector<std::string> spx =
      g.node_n("Split", {out, g.ints(std::vector<int64_t>(size_t(m.nums + 1), m.width))}, int(m.nums + 1),
               {{"axis", int64_t(1)}});
  std::vector<std::string> parts;
  std::string sp;
  for (int64_t i = 0; i < m.nums; ++i) {
    sp = i == 0 ? spx[0] : add(g, sp, spx[size_t(i)]);
    sp = batch_norm(g, m.bns->at<BatchNorm1d>(size_t(i)), relu(g, conv1d(g, m.convs->at<Conv1d>(size_t(i)), sp)));
    parts.push_back(sp);
  }
  parts.push_back(spx[size_t(m.nums)]);
  const std::string cat = g.node("Concat", parts, {{"axis", int64_t(1)}});
  const std::string o = batch_norm(g, *m.bn3, relu(g, conv1d(g, *m.conv3, cat)));
  std::string s = mean_last(g, o);                                                                   // (B, C, 1)
  s = g.node("Sigmoid", {conv1d(g, *m.se_conv3, relu(g, conv1d(g, *m.se_conv1, s)))});
  return add(g, g.node("Mul", {o, s}), x);
}

// wespeaker ASTP: one attention weight per channel and frame from a bottleneck, then attentive statistics.
std::string astp(Graph& g, const ASTP& m, const std::string& x) {
  const std::string a = conv1d(g, *m.linear2, g.node("Tanh", {conv1d(g, *m.linear1, x)}));
  return attentive_stats(g, x, g.node("Softmax", {a}, {{"axis", int64_t(2)}}), true, 1e-7f);
}

// wespeaker MHASTP: the channels cut into heads, each with its own attention (channel-wise when d_s > 1, else one
// weight per frame, broadcast over the head's channels), attentive statistics per head, concatenated.
std::string mhastp(Graph& g, const MHASTP& m, const std::string& x) {
  const int64_t heads = int64_t(m.heads_att_trans->size());
  const std::vector<std::string> chunks = g.node_n(
      "Split", {x, g.ints(std::vector<int64_t>(size_t(heads), m.d_model))}, int(heads), {{"axis", int64_t(1)}});
  std::vector<std::string> out;
  for (int64_t h = 0; h < heads; ++h) {
    const auto& seq = m.heads_att_trans->at<Slots>(size_t(h));
    std::string s = chunks[size_t(h)];
    for (size_t i = 0; i < seq.children().size(); ++i) {
      if (i > 0) s = g.node("Tanh", {s});
      s = conv1d(g, dynamic_cast<const Conv1d&>(*seq.children()[i].second), s);
    }
    out.push_back(attentive_stats(g, chunks[size_t(h)], g.node("Softmax", {s}, {{"axis", int64_t(2)}}), true, 1e-7f));
  }
  return out.size() == 1 ? out.front() : g.node("Concat", out, {{"axis", int64_t(1)}});
}

std::string mqmhastp(Graph& g, const MQMHASTP& m, const std::string& x) {
  std::vector<std::string> out;
  for (size_t q = 0; q < m.n_query->size(); ++q) out.push_back(mhastp(g, m.n_query->at<MHASTP>(q), x));
  return out.size() == 1 ? out.front() : g.node("Concat", out, {{"axis", int64_t(1)}});
}

}  // namespace

std::string emit_ecapa_tdnn(Graph& g, const SpeakerNet& net, const std::string& feats) {
  const auto& m = as<EcapaTdnn>(net);
  const std::string x = batch_norm(g, *m.bn1, relu(g, conv1d(g, *m.conv1, feats)));
  const std::string x1 = bottle2neck(g, *m.layer1, x);
  const std::string x2 = bottle2neck(g, *m.layer2, add(g, x, x1));
  const std::string x3 = bottle2neck(g, *m.layer3, add(g, add(g, x, x1), x2));
  const std::string h = relu(g, conv1d(g, *m.layer4, g.node("Concat", {x1, x2, x3}, {{"axis", int64_t(1)}})));
  // Context: the utterance's mean and standard deviation over time, repeated over time next to each frame.
  const std::string mu = mean_last(g, h);
  const std::string sg = g.node("Sqrt", {g.node("Max", {unbiased_var_last(g, h, mu), g.scalar_f32(1e-4f)})});
  const std::string full = g.node("Shape", {h});
  const std::string ctx = g.node("Concat", {h, g.node("Expand", {mu, full}), g.node("Expand", {sg, full})},
                                 {{"axis", int64_t(1)}});                                          // (B, 3·1536, T)
  std::string w = g.node("Tanh", {batch_norm(g, *m.att_bn2, relu(g, conv1d(g, *m.att_conv0, ctx)))});
  w = g.node("Softmax", {conv1d(g, *m.att_conv4, w)}, {{"axis", int64_t(2)}});
  const std::string pooled = batch_norm(g, *m.bn5, attentive_stats(g, h, w, true, 1e-4f));          // (B, 3072)
  return batch_norm(g, *m.bn6, linear(g, *m.fc6, pooled, 2));
}

std::string emit_wespeaker_resnet(Graph& g, const SpeakerNet& net, const std::string& feats) {
  const auto& m = as<WespeakerResNet>(net);
  std::string x = g.node("Unsqueeze", {feats, g.ints({1})});
  x = relu(g, batch_norm(g, *m.bn1, conv2d(g, *m.conv1, x)));
  for (const auto& stage : m.layers)
    for (size_t i = 0; i < stage->size(); ++i) {
      Module& block = (*stage)[i];
      if (const auto* b = dynamic_cast<const BasicBlock*>(&block)) {
        x = basic_block(g, *b, x);
        continue;
      }
      const auto& bb = dynamic_cast<const Bottleneck&>(block);
      std::string out = relu(g, batch_norm(g, *bb.bn1, conv2d(g, *bb.conv1, x)));
      out = relu(g, batch_norm(g, *bb.bn2, conv2d(g, *bb.conv2, out)));
      out = batch_norm(g, *bb.bn3, conv2d(g, *bb.conv3, out));
      x = relu(g, add(g, out, bb.shortcut ? conv_bn_slots(g, *bb.shortcut, x) : x));
    }
  // (B, C, F'', T'') -> (B, C·F'', T''): the channels of the last stage times the frequency rows left; time stays
  // dynamic. C·F'' is the pooling's input width (TSTP: seg_1's input over 2).
  const int64_t stats_dim = m.pool            ? m.pool->in_dim
                            : m.astp_pool     ? m.astp_pool->in_dim
                            : m.hardneg_pool  ? m.hardneg_pool->in_dim
                                              : m.seg_1->weight.size(1) / 2;
  x = g.node("Reshape", {x, g.ints({0, stats_dim, -1})});
  if (m.hardneg_pool) {
    const std::string e = linear(g, *m.seg_1, mhastp(g, *m.hardneg_pool, x), 2);
    return linear(g, *m.seg_2, batch_norm(g, *m.seg_bn_1, relu(g, e)), 2);
  }
  if (m.astp_pool) return linear(g, *m.seg_1, astp(g, *m.astp_pool, x), 2);
  return linear(g, *m.seg_1, m.pool ? mqmhastp(g, *m.pool, x) : temporal_stats(g, x), 2);
}

}  // namespace spk::onnx_export
