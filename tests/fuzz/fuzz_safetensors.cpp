// Fuzz target: safetensors files (engine/safetensors.h, load_safetensors): header length, JSON header, dtypes,
// shapes, offsets and the data section; a file that loads must save and load again to the same tensors.
#include "engine/safetensors.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const std::string path = fuzz::write_file("input.safetensors", {reinterpret_cast<const char*>(data), size});
  fuzz::run_expecting_spk_errors(path, [&] {
    const SafetensorsFile f = load_safetensors(path);
    for (const auto& [name, t] : f.tensors)
      if (name.empty() || !t.defined()) fuzz::finding("loaded an unnamed or undefined tensor");
    const std::string again = fuzz::scratch_dir() + "/again.safetensors";
    try {
      save_safetensors(again, f.tensors, f.metadata);
    } catch (const Error& e) {
      // Names the reference writer refuses ("__metadata__" is impossible here, empty names are checked above).
      fuzz::finding(std::string("a loaded file does not save: ") + e.what());
    }
    const SafetensorsFile g = load_safetensors(again);
    if (g.metadata != f.metadata || g.tensors.size() != f.tensors.size())
      fuzz::finding("save + load changed the metadata or the tensor count");
  });
  return 0;
}
