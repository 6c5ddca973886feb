// The covered models' forward()s as ONNX nodes (nets/*.cpp, eval mode), and the dispatch by model type.
// Each function mirrors its model's forward() line by line; a model not listed here is refused by name.
#include <functional>
#include <map>

#include "apps/onnx/onnx_export.h"
#include "apps/onnx/onnx_layers.h"
#include "apps/onnx/onnx_nets.h"
#include "nets/resnet_se34l.h"
#include "nets/resnet_se34v2.h"
#include "nets/tdnn.h"
#include "nets/vggvox.h"
#include "nets/wespeaker_resnet.h"

namespace spk::onnx_export {

namespace {

template <class Block>
std::string stage(Graph& g, const Stage<Block>& s, std::string x,
                  std::string (*block)(Graph&, const Block&, const std::string&)) {
  for (size_t i = 0; i < s.size(); ++i) x = block(g, s.template at<Block>(i), x);
  return x;
}

std::string se_stages(Graph& g, const Stage<SEBasicBlock>* const (&layers)[4], std::string x) {
  for (const auto* l : layers) x = stage(g, *l, x, &se_basic_block);
  return x;
}

std::string resnet_se34l(Graph& g, const ResNetSE34L& m, const std::string& feats) {
  std::string x = g.node("Unsqueeze", {feats, g.ints({1})});                                     // (B, 1, F, T)
  x = relu(g, batch_norm(g, *m.bn1, conv2d(g, *m.conv1, x)));
  x = se_stages(g, {m.layer1.get(), m.layer2.get(), m.layer3.get(), m.layer4.get()}, x);
  x = g.node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{2}}, {"keepdims", int64_t(0)}});  // (B, C, T')
  x = g.node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}});                       // (B, T', C)
  return linear(g, *m.fc, self_attentive_pool(g, *m.sap_linear, m.attention, m.asp, x), 2);
}

std::string resnet_se34v2(Graph& g, const ResNetSE34V2& m, const std::string& feats) {
  std::string x = g.node("Unsqueeze", {feats, g.ints({1})});
  x = batch_norm(g, *m.bn1, relu(g, conv2d(g, *m.conv1, x)));
  x = se_stages(g, {m.layer1.get(), m.layer2.get(), m.layer3.get(), m.layer4.get()}, x);
  // (B, 256, F'', T'') -> (B, 256·F'', T''): the product is the attention's input width; time stays dynamic.
  x = g.node("Reshape", {x, g.ints({0, m.att_conv0->weight.size(1), -1})});
  std::string w = conv1d(g, *m.att_conv3, batch_norm(g, *m.att_bn2, relu(g, conv1d(g, *m.att_conv0, x))));
  w = g.node("Softmax", {w}, {{"axis", int64_t(2)}});
  return linear(g, *m.fc, attentive_stats(g, x, w, m.asp, 1e-5f), 2);
}

std::string max_pool(Graph& g, const std::string& x, std::vector<int64_t> kernel, std::vector<int64_t> stride) {
  return g.node("MaxPool", {x}, {{"kernel_shape", kernel}, {"strides", stride}});
}

std::string vggvox(Graph& g, const VGGVox& m, const std::string& feats) {
  std::string x = g.node("Unsqueeze", {feats, g.ints({1})});
  for (size_t i = 0; i < 6; ++i) {
    x = relu(g, batch_norm(g, *m.bns[i], conv2d(g, *m.convs[i], x)));
    if (i == 0) x = max_pool(g, x, {1, 3}, {1, 2});
    if (i == 1 || i == 4) x = max_pool(g, x, {3, 3}, {2, 2});
  }
  x = g.node("Squeeze", {x, g.ints({2})});                                                         // (B, 512, T')
  std::string e;
  if (m.encoder == "MAX") e = g.node("ReduceMax", {x}, {{"axes", std::vector<int64_t>{2}}, {"keepdims", int64_t(0)}});
  else if (m.encoder == "TAP") e = g.node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{2}}, {"keepdims", int64_t(0)}});
  else e = self_attentive_pool(g, *m.sap_linear, m.attention, false,
                               g.node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}}));
  return linear(g, *m.fc, e, 2);
}

std::string tdnn_layer(Graph& g, const TdnnLayer& l, const std::string& x) {
  return batch_norm(g, *l.bn, relu(g, conv1d(g, *l.conv_1d, x)));
}

std::string xvector_tdnn(Graph& g, const XVectorTdnn& m, const std::string& feats) {
  std::string x = feats;
  for (const auto* l : {m.frame_1.get(), m.frame_2.get(), m.frame_3.get(), m.frame_4.get(), m.frame_5.get()})
    x = tdnn_layer(g, *l, x);
  return linear(g, *m.seg_1, temporal_stats(g, x), 2);
}

// Calls fn with the model as M when it is one (dynamic_cast), for the table below.
template <class M>
std::function<std::string(Graph&, const SpeakerNet&, const std::string&)> typed(
    std::string (*fn)(Graph&, const M&, const std::string&)) {
  return [fn](Graph& g, const SpeakerNet& net, const std::string& x) {
    const auto* m = dynamic_cast<const M*>(&net);
    SPK_CHECK(m != nullptr, "onnx export: model ", net.name(), " is not the class its name implies");
    return fn(g, *m, x);
  };
}

using Emitter = std::function<std::string(Graph&, const SpeakerNet&, const std::string&)>;

std::map<std::string, Emitter> make_emitters() {
  std::map<std::string, Emitter> t = {
      {"ResNetSE34L", typed(&resnet_se34l)},
      {"ResNetSE34V2", typed(&resnet_se34v2)},
      {"VGGVox", typed(&vggvox)},
      {"TDNN", typed(&xvector_tdnn)},
      {"ECAPA_TDNN", &emit_ecapa_tdnn},
      {"ECAPA_TDNN_HardNeg", &emit_ecapa_tdnn},
      {"SincTDNN", &emit_sinc_tdnn},
      {"RawNet3", &emit_rawnet3},
  };
  // wespeaker's ResNets with any of their poolings, and the HardNeg seed's ResNets (MHASTP).
  for (const auto& d : wespeaker_resnet_depths()) t.emplace(d.name, &emit_wespeaker_resnet);
  for (const char* n : {"ResNet18_HardNeg", "ResNet34_HardNeg"}) t.emplace(n, &emit_wespeaker_resnet);
  return t;
}

const std::map<std::string, Emitter>& emitters() {
  static const std::map<std::string, Emitter> table = make_emitters();
  return table;
}

}  // namespace

const std::vector<std::string>& exported_models() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, fn] : emitters()) n.push_back(name);
    return n;
  }();
  return names;
}

void check_covered(const std::string& model_name) {
  if (emitters().count(model_name)) return;
  std::string names;
  for (const auto& n : exported_models()) names += (names.empty() ? "" : ", ") + n;
  throw ExportRefused("model " + model_name + " is not covered by the ONNX exporter yet (covered: " + names + ")");
}

std::string emit_model(Graph& g, const SpeakerNet& model, const std::string& feats) {
  check_covered(model.name());
  return emitters().at(model.name())(g, model, feats);
}

}  // namespace spk::onnx_export
