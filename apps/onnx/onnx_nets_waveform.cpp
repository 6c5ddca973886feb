// The raw-waveform models as ONNX nodes: SincTDNN (nets/sinc_tdnn.cpp) and RawNet3 (nets/rawnet3.cpp). Their input
// is the waveform itself, (B, 1, L).
//
// The sinc layers: the graph holds the layer's filters (F, 1, K) as computed by SincConv1d::filters(), the f32 kernel
// spk's own forward convolves with, as a constant "<layer>.filters"; the learnable cut-offs low_hz_ / band_hz_ (and
// asteroid's window_ / n_ buffers) are therefore not initializers: building the sinc filters from the cut-offs in
// ONNX ops would only re-derive, at every run, a kernel that is fixed once the model is trained. Weight-normalised
// convs (pyannote's TDNN) keep weight_g and weight_v as initializers and build the weight with ONNX ops, as their
// forward does.
#include "apps/onnx/onnx_export.h"
#include "apps/onnx/onnx_layers.h"
#include "apps/onnx/onnx_nets.h"
#include "nets/rawnet3.h"
#include "nets/sinc_tdnn.h"
#include "nets/waveform_blocks.h"

namespace spk::onnx_export {

namespace {

std::string sinc_conv(Graph& g, const SincConv1d& m, const std::string& x, const std::string& name) {
  const Tensor f = m.filters().contiguous();   // (F, K) f32
  const std::vector<double> d = f.to_double();
  const std::vector<float> v(d.begin(), d.end());
  const std::string w = g.const_f32(name + ".filters", v, {f.size(0), 1, f.size(1)});
  return g.node("Conv", {x, w},
                {{"kernel_shape", std::vector<int64_t>{f.size(1)}},
                 {"strides", std::vector<int64_t>{m.opt.stride}},
                 {"pads", std::vector<int64_t>{m.opt.padding, m.opt.padding}}});
}

std::string max_pool1d(Graph& g, const std::string& x, int64_t k) {
  return g.node("MaxPool", {x}, {{"kernel_shape", std::vector<int64_t>{k}}, {"strides", std::vector<int64_t>{k}}});
}

// WeightNormConv1d: weight = weight_v · (weight_g / ||weight_v||), the norm over (in, k) per output channel.
std::string weight_norm_conv(Graph& g, const WeightNormConv1d& m, const std::string& x) {
  const std::string v = g.param(m.weight_v);
  const std::string norm =
      g.node("Sqrt", {g.node("ReduceSum", {g.node("Mul", {v, v}), g.ints({1, 2})}, {{"keepdims", int64_t(1)}})});
  const std::string w = g.node("Mul", {v, g.node("Div", {g.param(m.weight_g), norm})});
  return g.node("Conv", {x, w, g.param(m.bias)},
                {{"kernel_shape", std::vector<int64_t>{m.weight_v.size(2)}},
                 {"dilations", std::vector<int64_t>{m.dilation}}});
}

std::string split_concat_res2(Graph& g, const std::string& out, int64_t width, int64_t nums, const ModuleList& convs,
                              const ModuleList& bns) {
  const std::vector<std::string> spx = g.node_n(
      "Split", {out, g.ints(std::vector<int64_t>(size_t(nums + 1), width))}, int(nums + 1), {{"axis", int64_t(1)}});
  std::vector<std::string> parts;
  std::string sp;
  for (int64_t i = 0; i < nums; ++i) {
    sp = i == 0 ? spx[0] : g.node("Add", {sp, spx[size_t(i)]});
    sp = batch_norm(g, bns.at<BatchNorm1d>(size_t(i)), relu(g, conv1d(g, convs.at<Conv1d>(size_t(i)), sp)));
    parts.push_back(sp);
  }
  parts.push_back(spx[size_t(nums)]);
  return g.node("Concat", parts, {{"axis", int64_t(1)}});
}

std::string raw_bottle2neck(Graph& g, const RawBottle2neck& m, const std::string& x) {
  std::string out = batch_norm(g, *m.bn1, relu(g, conv1d(g, *m.conv1, x)));
  out = split_concat_res2(g, out, m.width, m.nums, *m.convs, *m.bns);
  out = batch_norm(g, *m.bn3, relu(g, conv1d(g, *m.conv3, out)));
  out = g.node("Add", {out, m.residual ? conv1d(g, *m.residual, x) : x});
  if (m.pool > 0) out = max_pool1d(g, out, m.pool);
  // AFMS: (x + alpha) · sigmoid(fc(mean_t x)).
  const std::string s = g.node(
      "Sigmoid", {linear(g, *m.afms->fc, g.node("ReduceMean", {out}, {{"axes", std::vector<int64_t>{2}},
                                                                       {"keepdims", int64_t(0)}}), 2)});
  return g.node("Mul", {g.node("Add", {out, g.param(m.afms->alpha)}), g.node("Unsqueeze", {s, g.ints({2})})});
}

std::string clip(Graph& g, const std::string& x, float lo, float hi) {
  return g.node("Clip", {x, g.scalar_f32(lo), g.scalar_f32(hi)});
}

}  // namespace

std::string emit_sinc_tdnn(Graph& g, const SpeakerNet& net, const std::string& wav) {
  const auto& m = as<SincTdnn>(net);
  const SincNet& s = *m.sincnet_;
  std::string x = instance_norm1d(g, *s.waveform_normalize, wav);
  x = g.node("Abs", {sinc_conv(g, *s.sinc, x, "sincnet_.conv1d_.0")});
  for (int i = 0; i < 3; ++i) {
    if (i == 1) x = conv1d(g, *s.conv1, x);
    if (i == 2) x = conv1d(g, *s.conv2, x);
    x = max_pool1d(g, x, 3);
    x = g.node("LeakyRelu", {instance_norm1d(g, s.instance_norms->at<InstanceNorm1d>(size_t(i)), x)},
               {{"alpha", 0.2f}});
  }
  const PyannoteXVector& t = *m.tdnn_;
  for (size_t i = 0; i < t.tdnn->size(); ++i)
    x = relu(g, weight_norm_conv(g, *t.tdnn->at<PyannoteTdnnLayer>(i).temporal_conv, x));
  // StatsPool: mean and unbiased std over time (the clamp at 1e-30 is spk's, for a zero std's gradient).
  const std::string mu = mean_last(g, x);
  const std::string sd = g.node("Sqrt", {g.node("Max", {unbiased_var_last(g, x, mu), g.scalar_f32(1e-30f)})});
  const std::string stats = g.node("Squeeze", {g.node("Concat", {mu, sd}, {{"axis", int64_t(1)}}), g.ints({2})});
  return linear(g, *t.segment6, stats, 2);
}

std::string emit_rawnet3(Graph& g, const SpeakerNet& net, const std::string& wav) {
  const auto& m = as<RawNet3>(net);
  // PreEmphasis: F.pad(x, (1, 0), "reflect") then conv1d with [-coef, 1].
  std::string x = g.node("Concat", {g.node("Slice", {wav, g.ints({1}), g.ints({2}), g.ints({2})}), wav},
                         {{"axis", int64_t(2)}});
  x = g.node("Conv", {x, g.param(m.pre_emphasis->flipped_filter)}, {{"kernel_shape", std::vector<int64_t>{2}}});
  x = instance_norm1d(g, *m.wave_norm, x);
  x = sinc_conv(g, *m.conv1->filterbank, x, "conv1.filterbank");
  x = g.node("Log", {g.node("Add", {g.node("Abs", {x}), g.scalar_f32(1e-6f)})});
  const std::string x0 = g.node("Sub", {x, mean_last(g, x)});
  const std::string x1 = raw_bottle2neck(g, *m.layer1, x0);
  const std::string x2 = raw_bottle2neck(g, *m.layer2, x1);
  const std::string p1 = max_pool1d(g, x1, 3);
  const std::string x3 = raw_bottle2neck(g, *m.layer3, g.node("Add", {p1, x2}));
  const std::string h = relu(g, conv1d(g, *m.layer4, g.node("Concat", {p1, x2, x3}, {{"axis", int64_t(1)}})));
  const std::string mu_t = mean_last(g, h);
  const std::string sg_t = g.node("Sqrt", {clip(g, unbiased_var_last(g, h, mu_t), 1e-4f, 1e4f)});
  const std::string full = g.node("Shape", {h});
  const std::string ctx = g.node("Concat", {h, g.node("Expand", {mu_t, full}), g.node("Expand", {sg_t, full})},
                                 {{"axis", int64_t(1)}});
  // ECA: a weight per channel and frame; ASP: one per frame (B, 1, T), broadcast over the channels.
  const std::string w = g.node(
      "Softmax", {conv1d(g, *m.att_conv3, batch_norm(g, *m.att_bn2, relu(g, conv1d(g, *m.att_conv0, ctx))))},
      {{"axis", int64_t(2)}});
  const auto sum_t = [&](const std::string& v) {
    return g.node("ReduceSum", {v, g.ints({2})}, {{"keepdims", int64_t(0)}});
  };
  const std::string mu = sum_t(g.node("Mul", {h, w}));
  const std::string var = g.node("Sub", {sum_t(g.node("Mul", {g.node("Mul", {h, h}), w})), g.node("Mul", {mu, mu})});
  const std::string stats = g.node("Concat", {mu, g.node("Sqrt", {clip(g, var, 1e-4f, 1e4f)})}, {{"axis", int64_t(1)}});
  return linear(g, *m.fc6, batch_norm(g, *m.bn5, stats), 2);
}

}  // namespace spk::onnx_export
