// spk_export's steps (apps/spk_export.cpp is its main): flags, the checkpoint and its model, the export, the file.
#pragma once

namespace spk::onnx_export {

inline constexpr const char* kApp = "spk_export";

// Parses argv and writes --onnx; returns the exit status. Mistakes in the call (a missing flag or file, a checkpoint
// that does not fit the model flags, a model the exporter does not cover, an output that cannot be written) throw
// recipe::UsageError before the file is written; run_app turns them into "spk_export: error: ..." and status 2.
int run_spk_export(int argc, char** argv);

}  // namespace spk::onnx_export
