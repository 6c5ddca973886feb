// The per-model emitters, one per covered --model (used by the table in onnx_nets.cpp). Each mirrors its model's
// forward() (nets/*.cpp) in eval mode: feats (B, n_mels, T), or (B, 1, L) for the waveform models -> (B, nOut).
#pragma once
#include <string>

#include "apps/onnx/onnx_graph.h"
#include "nets/model.h"

namespace spk::onnx_export {

using ModelEmitter = std::string (*)(Graph& g, const SpeakerNet& model, const std::string& feats);

// onnx_nets_tdnn.cpp
std::string emit_ecapa_tdnn(Graph& g, const SpeakerNet& model, const std::string& feats);
std::string emit_wespeaker_resnet(Graph& g, const SpeakerNet& model, const std::string& feats);
// onnx_nets_waveform.cpp
std::string emit_sinc_tdnn(Graph& g, const SpeakerNet& model, const std::string& feats);
std::string emit_rawnet3(Graph& g, const SpeakerNet& model, const std::string& feats);

// The model as its class, or an error naming the model (a name/class mismatch would be a bug in nets/).
template <class M>
const M& as(const SpeakerNet& net) {
  const auto* m = dynamic_cast<const M*>(&net);
  SPK_CHECK(m != nullptr, "onnx export: model ", net.name(), " is not the class its name implies");
  return *m;
}

}  // namespace spk::onnx_export
