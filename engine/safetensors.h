// safetensors files (https://github.com/huggingface/safetensors) for checkpoints and exported models,
// and loading named tensors into a Module.
//
// Layout: an 8-byte little-endian u64 N, then N bytes of JSON header, then the data section.
//   {"__metadata__": {"key": "value", ...},
//    "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// Offsets are relative to the data section; the tensors tile it exactly (no gaps, no overlap), each
// tensor's bytes being its row-major little-endian values. dtypes: F32 F64 F16 BF16 I32 I64.
// Writing follows the reference writer: the header is padded with spaces to a multiple of 8 bytes and
// tensors are laid out by decreasing element size (ties keep the caller's order), so every tensor starts
// aligned to its element size and numpy/torch can view the bytes in place. The Python `safetensors`
// package reads these files (scripts/check_safetensors.py).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/module.h"

namespace spk {

using Metadata = std::map<std::string, std::string>;

// Writes atomically: to "<path>.tmp.<pid>" in the same directory, fsync, rename over path, fsync the
// directory. Tensors may be on any device and have any strides. Names are unique, non-empty and not
// "__metadata__". Throws spk::Error naming the file on any failure (the temporary file is removed).
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

struct SafetensorsFile {
  NamedTensors tensors;   // CPU tensors, in data-section order (the writer's order for files we wrote)
  Metadata metadata;
};

// Reads and validates the whole file: header length within the file, valid JSON with no duplicate keys,
// known dtypes, shapes that match their byte ranges, offsets in range that tile the data section exactly.
// Errors say "safetensors <path>: <what is wrong>".
SafetensorsFile load_safetensors(const std::string& path);

struct LoadOptions {
  bool allow_missing = false;      // module entries absent from the source are left as they are
  bool allow_unexpected = false;   // source entries the module lacks are skipped
  std::vector<std::string> ignore_prefixes;   // source keys to skip silently, e.g. {"optim."}
};

struct LoadResult {
  std::vector<std::string> missing;      // in the module, not in the source (module order)
  std::vector<std::string> unexpected;   // in the source, not in the module (source order)
};

// Copies named tensors into module.state() (parameters and buffers) by name, onto each entry's device.
// Every problem is reported in one error: missing and unexpected names (unless allowed), wrong shapes and
// wrong dtypes (never allowed, as PyTorch's load_state_dict(strict=False) still rejects size mismatches).
// Nothing is copied unless there is no problem. `source` names the origin in messages. A missing BatchNorm
// "*.num_batches_tracked" is not a problem (PyTorch accepts such state_dicts): it is listed in `missing` and
// the counter restarts at 0 (or is left as it is under allow_missing).
LoadResult load_state(Module& module, const NamedTensors& tensors, const LoadOptions& options = {},
                      const std::string& source = "state");
LoadResult load_safetensors_into(Module& module, const std::string& path, const LoadOptions& options = {});

}  // namespace spk
