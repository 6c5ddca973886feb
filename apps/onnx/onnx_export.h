// ONNX export of a speaker-embedding model with its front end (spk_export --onnx, docs/onnx.md).
//
// The graph: input "wav" f32 (batch, samples), both axes dynamic; output "embedding" f32 (batch, nOut): what
// spk_eval --mode embed writes for a whole utterance (--eval_frames 0): the model's output, NOT L2-normalised (spk_eval
// normalises only when scoring). Opset 17, IR 8 (ONNX 1.12). Parameters and batch-norm statistics are initializers
// under their state() names with the checkpoint's bits. The model runs as in eval mode (running statistics).
//
// A model or front end the exporter does not cover is refused with ExportRefused naming it, never exported wrong.
#pragma once
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "apps/recipe/frontend.h"
#include "engine/check.h"
#include "nets/model.h"

namespace spk::onnx_export {

// What the exporter cannot express (a model, an encoder, a front end): the message names it.
class ExportRefused : public spk::Error {
 public:
  explicit ExportRefused(const std::string& what) : spk::Error(what) {}
};

// The --model names the exporter covers; check_covered throws ExportRefused naming any other.
const std::vector<std::string>& exported_models();
void check_covered(const std::string& model_name);

// The whole graph: front end + model. Throws ExportRefused for what is not covered.
onnx::ModelProto export_onnx(const SpeakerNet& model, const recipe::FrontEnd& frontend);

// The model's nodes alone: feats (B, n_mels, T) (or (B, 1, L)) -> (B, nOut). One per covered model (onnx_nets*.cpp).
std::string emit_model(class Graph& g, const SpeakerNet& model, const std::string& feats);

}  // namespace spk::onnx_export
