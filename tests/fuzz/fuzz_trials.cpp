// Fuzz target: trial lists (engine/audio/lists.h, read_trials): VoxCeleb `label path1 path2` and Kaldi
// `utt1 utt2 target|nontarget`, detected or forced, with and without unlabelled trials.
#include "engine/audio/lists.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const std::string path = fuzz::write_file("trials.txt", {reinterpret_cast<const char*>(data), size});
  for (auto format : {audio::TrialFormat::auto_detect, audio::TrialFormat::voxceleb, audio::TrialFormat::kaldi})
    for (bool unlabelled : {false, true})
      fuzz::run_expecting_spk_errors(path, [&] {
        const audio::TrialList t = audio::read_trials(path, {format, unlabelled});
        for (const auto& tr : t.trials)
          if (tr.label < -1 || tr.label > 1 || (!unlabelled && tr.label < 0)) fuzz::finding("bad trial label");
      });
  return 0;
}
