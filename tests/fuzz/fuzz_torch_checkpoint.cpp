// Fuzz target: the PyTorch checkpoint reader (engine/io/torch_checkpoint.h): the zip container, the pickle VM,
// storages and tensor rebuilds, in the zip (torch >= 1.6) and legacy formats, from bytes in memory.
#include "engine/io/torch_load.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string where = "torch checkpoint fuzz.pt";
  fuzz::run_expecting_spk_errors(where, [&] {
    const io::TorchCheckpoint c = io::load_torch_checkpoint_bytes(bytes, where);
    if (c.format != "zip" && c.format != "legacy") fuzz::finding("unknown format " + c.format);
    for (const auto& [name, t] : c.tensors) {
      if (!t.defined() || !t.is_contiguous()) fuzz::finding("tensor " + name + " undefined or not contiguous");
      if (t.numel() > 0) t.to_double();   // every element readable
    }
  });
  return 0;
}
