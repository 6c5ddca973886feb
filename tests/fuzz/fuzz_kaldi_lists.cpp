// Fuzz target: a Kaldi data directory (engine/audio/lists.h): wav.scp alone (read_wav_scp) and wav.scp +
// utt2spk (read_kaldi_train). The input is the two files separated by a "----" line.
#include "engine/audio/lists.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const auto parts = fuzz::split_parts({reinterpret_cast<const char*>(data), size}, 2);
  const std::string scp = fuzz::write_file("data/wav.scp", parts[0]);
  const std::string u2s = fuzz::write_file("data/utt2spk", parts[1]);
  fuzz::run_expecting_spk_errors(scp, [&] { audio::read_wav_scp(scp, "/corpus"); });
  // Either file may be the one at fault; the message names both when it is about their combination.
  try {
    const audio::TrainList t = audio::read_kaldi_train(scp, u2s, "");
    if (t.paths.size() != t.labels.size()) fuzz::finding("paths and labels differ in count");
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.find(scp) == std::string::npos && m.find(u2s) == std::string::npos)
      fuzz::finding("error names neither file: " + m);
  }
  return 0;
}
