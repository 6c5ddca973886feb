// Fuzz target: a Kaldi data directory (engine/audio/lists.h): wav.scp alone (read_wav_scp) and wav.scp +
// utt2spk (+ segments when there is a third part) (read_kaldi_train). The input is the files separated by
// "----" lines.
#include "engine/audio/lists.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const auto parts = fuzz::split_parts({reinterpret_cast<const char*>(data), size}, 3);
  const std::string scp = fuzz::write_file("data/wav.scp", parts[0]);
  const std::string u2s = fuzz::write_file("data/utt2spk", parts[1]);
  const std::string seg = parts[2].empty() ? "" : fuzz::write_file("data/segments", parts[2]);
  fuzz::run_expecting_spk_errors(scp, [&] { audio::read_wav_scp(scp, "/corpus"); });
  // Any file may be the one at fault; the message names one of them.
  try {
    const audio::TrainList t = audio::read_kaldi_train(scp, u2s, "", seg);
    if (t.paths.size() != t.labels.size()) fuzz::finding("paths and labels differ in count");
    if (!seg.empty() && t.segments.size() != t.paths.size()) fuzz::finding("paths and segments differ in count");
    for (const audio::Segment& s : t.segments)
      if (!(s.end > s.start && s.start >= 0)) fuzz::finding("a segment with end <= start or start < 0 was accepted");
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.find(scp) == std::string::npos && m.find(u2s) == std::string::npos &&
        (seg.empty() || m.find(seg) == std::string::npos))
      fuzz::finding("error names no file: " + m);
  }
  return 0;
}
