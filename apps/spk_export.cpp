// spk_export: write a trained model, with its front end, as an ONNX graph (docs/onnx.md).
//
//   spk_export --onnx model.onnx --initial_model exps/ap/model/last.safetensors [--model ... | --config YAML]
//
// The graph takes wav (batch, samples) f32 at 16 kHz and gives embedding (batch, nOut): spk_eval --mode embed's
// whole-utterance embedding, before any L2 normalisation. The steps live in apps/onnx/export_app.cpp.
// Exit status: 0 written; 2 a mistake in the call (missing file, unknown flag, a model not covered, an unwritable
// output), reported before anything is written; 1 any other error.
#include "apps/onnx/export_app.h"
#include "apps/recipe/recipe_parts.h"

int main(int argc, char** argv) {
  return spk::recipe::run_app(spk::onnx_export::kApp, [&] { return spk::onnx_export::run_spk_export(argc, argv); });
}
