// spk_convert's logic: reading a state file of either format, choosing and renaming the tensors to export,
// and the --list listing. The app (apps/spk_convert.cpp) is the flags around it.
//
// Formats: a PyTorch checkpoint (torch.save: .model/.pt/.pth, recognised by its content) or safetensors
// (anything else that parses as one). An spk training checkpoint is a safetensors file whose metadata has
// spk.format; its names are voxceleb_trainer's ("__S__.<name>" model, "__L__.<name>" loss) plus the
// optimiser state ("optim.*"), which is never exported: a converted file holds weights only.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/module.h"

namespace spk::recipe {

struct StateFile {
  std::string path;
  std::string format;                          // "torch (zip)", "torch (legacy)", "safetensors", "spk checkpoint"
  NamedTensors tensors;                        // file order
  std::map<std::string, std::string> values;   // torch: non-tensor leaves; safetensors: the metadata
};

// Reads IN by content (io::is_torch_checkpoint, else safetensors). Errors: UsageError naming the file.
StateFile read_state_file(const std::string& path);

enum class OutputFormat { safetensors, torch };
// By extension: .safetensors, or .model/.pt/.pth. Anything else: UsageError naming `what` (e.g. "OUT").
OutputFormat output_format(const std::string& path, const std::string& what);

struct ConvertOptions {
  bool model_only = false;     // keep the model's entries ("__S__." or TaoRuijie's "speaker_encoder.")
  std::string strip_prefix;    // removed from the names that start with it (must match at least one)
  std::string add_prefix;      // put before every name, after stripping
};

struct Converted {
  NamedTensors tensors;
  std::vector<std::string> notes;   // what was left out and why, one line each
};
// The tensors to write: optimiser state of spk checkpoints dropped, then --model_only, --strip_prefix,
// --add_prefix in that order. Errors (UsageError naming the flag): a prefix or --model_only that matches
// nothing, names that collide after renaming, nothing left to write.
Converted select_tensors(const StateFile& in, const ConvertOptions& options);

// --list: "name dtype shape" per tensor, then "name = value" per non-tensor value, then a count line.
std::vector<std::string> list_lines(const StateFile& in);

}  // namespace spk::recipe
