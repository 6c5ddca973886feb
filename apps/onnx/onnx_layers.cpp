// ONNX nodes for the layers and blocks (see onnx_layers.h).
#include "apps/onnx/onnx_layers.h"

#include "engine/check.h"

namespace spk::onnx_export {

std::string conv1d(Graph& g, const Conv1d& m, const std::string& x) {
  std::vector<std::string> in = {x, g.param(m.weight)};
  if (m.bias.defined()) in.push_back(g.param(m.bias));
  return g.node("Conv", in,
                {{"kernel_shape", std::vector<int64_t>{m.weight.size(2)}},
                 {"strides", std::vector<int64_t>{m.opt.stride}},
                 {"pads", std::vector<int64_t>{m.opt.padding, m.opt.padding}},
                 {"dilations", std::vector<int64_t>{m.opt.dilation}},
                 {"group", m.opt.groups}});
}

std::string conv2d(Graph& g, const Conv2d& m, const std::string& x) {
  std::vector<std::string> in = {x, g.param(m.weight)};
  if (m.bias.defined()) in.push_back(g.param(m.bias));
  const auto& o = m.opt;
  return g.node("Conv", in,
                {{"kernel_shape", std::vector<int64_t>{m.weight.size(2), m.weight.size(3)}},
                 {"strides", std::vector<int64_t>{o.stride.first, o.stride.second}},
                 {"pads", std::vector<int64_t>{o.padding.first, o.padding.second, o.padding.first, o.padding.second}},
                 {"dilations", std::vector<int64_t>{o.dilation.first, o.dilation.second}},
                 {"group", o.groups}});
}

std::string batch_norm(Graph& g, const BatchNorm& m, const std::string& x) {
  SPK_CHECK(m.opt.track_running_stats, "onnx export: a BatchNorm without running statistics normalises with the "
            "batch's own statistics in eval mode too, which BatchNormalization's inference form cannot express");
  const int64_t c = m.running_mean.numel();
  // Without affine (x-vector TDNN), scale 1 and bias 0 as constants: the module has no such tensors.
  const std::string scale = m.weight.defined() ? g.param(m.weight) : g.const_f32("bn_ones", std::vector<float>(c, 1.f), {c});
  const std::string bias = m.bias.defined() ? g.param(m.bias) : g.const_f32("bn_zeros", std::vector<float>(c, 0.f), {c});
  return g.node("BatchNormalization", {x, scale, bias, g.param(m.running_mean), g.param(m.running_var)},
                {{"epsilon", float(m.opt.eps)}});
}

std::string instance_norm1d(Graph& g, const InstanceNorm1d& m, const std::string& x) {
  const int64_t c = m.num_features;
  const std::string scale = m.weight.defined() ? g.param(m.weight) : g.const_f32("in_ones", std::vector<float>(c, 1.f), {c});
  const std::string bias = m.bias.defined() ? g.param(m.bias) : g.const_f32("in_zeros", std::vector<float>(c, 0.f), {c});
  return g.node("InstanceNormalization", {x, scale, bias}, {{"epsilon", float(m.opt.eps)}});
}

std::string linear(Graph& g, const Linear& m, const std::string& x, int rank) {
  if (rank == 2) {
    std::vector<std::string> in = {x, g.param(m.weight)};
    if (m.bias.defined()) in.push_back(g.param(m.bias));
    return g.node("Gemm", in, {{"transB", int64_t(1)}});
  }
  std::string y = g.node("MatMul", {x, g.node("Transpose", {g.param(m.weight)}, {{"perm", std::vector<int64_t>{1, 0}}})});
  return m.bias.defined() ? g.node("Add", {y, g.param(m.bias)}) : y;
}

std::string relu(Graph& g, const std::string& x) { return g.node("Relu", {x}); }

std::string se_layer(Graph& g, const SELayer& m, const std::string& x) {
  std::string y = g.node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t(0)}});
  y = g.node("Sigmoid", {linear(g, *m.fc2, relu(g, linear(g, *m.fc0, y, 2)), 2)});   // (B, C)
  return g.node("Mul", {x, g.node("Unsqueeze", {y, g.ints({2, 3})})});
}

std::string conv_bn_slots(Graph& g, const Slots& s, const std::string& x) {
  const auto* conv = dynamic_cast<const Conv2d*>(s.children().at(0).second.get());
  const auto* bn = dynamic_cast<const BatchNorm*>(s.children().at(1).second.get());
  SPK_CHECK(conv && bn, "onnx export: a downsample/shortcut that is not (Conv2d, BatchNorm2d)");
  return batch_norm(g, *bn, conv2d(g, *conv, x));
}

std::string se_basic_block(Graph& g, const SEBasicBlock& m, const std::string& x) {
  // ReLU before bn1, as voxceleb_trainer's SEBasicBlock (nets/blocks.h).
  std::string out = batch_norm(g, *m.bn1, relu(g, conv2d(g, *m.conv1, x)));
  out = se_layer(g, *m.se, batch_norm(g, *m.bn2, conv2d(g, *m.conv2, out)));
  const std::string residual = m.downsample ? conv_bn_slots(g, *m.downsample, x) : x;
  return relu(g, g.node("Add", {out, residual}));
}

std::string basic_block(Graph& g, const BasicBlock& m, const std::string& x) {
  std::string out = relu(g, batch_norm(g, *m.bn1, conv2d(g, *m.conv1, x)));
  out = batch_norm(g, *m.bn2, conv2d(g, *m.conv2, out));
  const std::string residual = m.shortcut ? conv_bn_slots(g, *m.shortcut, x) : x;
  return relu(g, g.node("Add", {out, residual}));
}

namespace {
std::string reduce_sum(Graph& g, const std::string& x, int64_t axis) {
  return g.node("ReduceSum", {x, g.ints({axis})}, {{"keepdims", int64_t(0)}});   // opset 13+: axes as an input
}
// sqrt(max(v, lo)): torch.clamp(v, min=lo) then sqrt.
std::string sqrt_clamped(Graph& g, const std::string& v, float lo) {
  return g.node("Sqrt", {g.node("Max", {v, g.scalar_f32(lo)})});
}
}  // namespace

std::string self_attentive_pool(Graph& g, const Linear& sap_linear, const Tensor& attention, bool with_std,
                                const std::string& x) {
  const std::string h = g.node("Tanh", {linear(g, sap_linear, x, 3)});                              // (B, T, D)
  const std::string w = g.node("Softmax", {g.node("MatMul", {h, g.param(attention)})}, {{"axis", int64_t(1)}});
  const std::string mu = reduce_sum(g, g.node("Mul", {x, w}), 1);                                   // (B, D)
  if (!with_std) return mu;
  const std::string x2w = reduce_sum(g, g.node("Mul", {g.node("Mul", {x, x}), w}), 1);
  const std::string var = g.node("Sub", {x2w, g.node("Mul", {mu, mu})});
  return g.node("Concat", {mu, sqrt_clamped(g, var, 1e-5f)}, {{"axis", int64_t(1)}});
}

std::string attentive_stats(Graph& g, const std::string& x, const std::string& w, bool with_std, float clamp_min) {
  const std::string mu = reduce_sum(g, g.node("Mul", {x, w}), 2);                                   // (B, C)
  if (!with_std) return mu;
  const std::string x2w = reduce_sum(g, g.node("Mul", {g.node("Mul", {x, x}), w}), 2);
  const std::string var = g.node("Sub", {x2w, g.node("Mul", {mu, mu})});
  return g.node("Concat", {mu, sqrt_clamped(g, var, clamp_min)}, {{"axis", int64_t(1)}});
}

std::string mean_last(Graph& g, const std::string& x) {
  return g.node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t(1)}});
}

std::string unbiased_var_last(Graph& g, const std::string& x, const std::string& mean) {
  const std::string d = g.node("Sub", {x, mean});
  const std::string ss = g.node("ReduceSum", {g.node("Mul", {d, d}), g.ints({-1})}, {{"keepdims", int64_t(1)}});
  // T - 1 from the value's own shape, so the time axis stays dynamic.
  const std::string t = g.node("Gather", {g.node("Shape", {x}), g.scalar_i64(-1)}, {{"axis", int64_t(0)}});
  const std::string tm1 = g.node("Sub", {g.node("Cast", {t}, {{"to", int64_t(onnx::TensorProto::FLOAT)}}),
                                         g.scalar_f32(1.f)});
  return g.node("Div", {ss, tm1});
}

std::string temporal_stats(Graph& g, const std::string& x) {
  const std::string mu = mean_last(g, x);
  const std::string var = unbiased_var_last(g, x, mu);
  const std::string sd = g.node("Sqrt", {g.node("Add", {var, g.scalar_f32(1e-7f)})});
  const auto squeeze = [&](const std::string& v) { return g.node("Squeeze", {v, g.ints({2})}); };
  return g.node("Concat", {squeeze(mu), squeeze(sd)}, {{"axis", int64_t(1)}});
}

}  // namespace spk::onnx_export
