// Fuzz target: training lists (engine/audio/lists.h, read_train_list) in every format, and the label map JSON
// that travels with a model (LabelMap::load), from the same bytes.
#include "engine/audio/lists.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const std::string path = fuzz::write_file("train_list.txt", {reinterpret_cast<const char*>(data), size});
  for (auto format : {audio::TrainListFormat::auto_detect, audio::TrainListFormat::voxceleb, audio::TrainListFormat::cel})
    fuzz::run_expecting_spk_errors(path, [&] {
      const audio::TrainList t = audio::read_train_list(path, "root", format);
      if (t.paths.size() != t.labels.size()) fuzz::finding("paths and labels differ in count");
      for (int64_t l : t.labels)
        if (l < 0 || l >= t.speakers.size()) fuzz::finding("label outside the label map");
    });
  fuzz::run_expecting_spk_errors(path, [&] {
    const audio::LabelMap m = audio::LabelMap::load(path);
    if (!(audio::LabelMap::from_json(m.to_json()) == m)) fuzz::finding("label map JSON does not round-trip");
  });
  return 0;
}
