// PyTorch checkpoints (`torch.save` files: .model, .pt, .pth) read and written without Python.
//
// Reading: the zip format torch.save writes since 1.6 (`<prefix>/data.pkl` + `<prefix>/data/<key>`, stored
// entries, any archive prefix) and the legacy pre-1.6 format (a sequence of pickles followed by the raw
// storages). The pickle is run on a small, closed virtual machine that knows only the opcodes and classes a
// state_dict needs (torch._utils._rebuild_tensor_v2, _rebuild_parameter, collections.OrderedDict, the typed
// storages); any other opcode or class is an error naming it. Nothing from the file is ever executed, and
// every size a header claims is checked against the bytes actually present before anything is allocated.
//
// The pickled object is flattened into named tensors: nested dicts (and lists) join their keys with '.', so
// wespeaker's {'model': state_dict, 'optimizer': ...} gives "model.conv1.weight", ... Non-tensor leaves
// (epoch numbers, strings, floats, None) are kept as text in `values`. Tensors come back as contiguous CPU
// tensors with the storage's dtype (f32, f64, f16, bf16, i64, i32); views (offsets, strides) and storages
// shared by several tensors are materialised per tensor.
//
// Writing: the zip format of torch.save (protocol 2 pickle of an OrderedDict of tensors), so that a model
// trained with spk loads with torch.load / load_state_dict in the reference projects' Python code
// (voxceleb_trainer SpeakerNet.loadParameters, TaoRuijie/ECAPA-TDNN ECAPAModel.load_parameters).
#pragma once
#include <map>
#include <string>

#include "engine/module.h"

namespace spk::io {

struct TorchCheckpoint {
  NamedTensors tensors;                        // in pickle order, names flattened with '.'
  std::map<std::string, std::string> values;   // non-tensor leaves, e.g. {"epoch": "12"}
  std::string format;                          // "zip" or "legacy"
};

// True when the file starts like a torch.save file (zip local header, or the legacy pickle's magic number).
bool is_torch_checkpoint(const std::string& path);

// Reads and validates the whole file. Errors are spk::Error "torch checkpoint <path>: <what is wrong>".
TorchCheckpoint load_torch_checkpoint(const std::string& path);

// Writes `tensors` as an OrderedDict state_dict in torch.save's zip format (archive prefix "archive"),
// atomically (temporary file, fsync, rename). Tensors may be on any device, dtype f32/f64/f16/bf16/i32/i64.
void save_torch_checkpoint(const std::string& path, const NamedTensors& tensors);

}  // namespace spk::io
