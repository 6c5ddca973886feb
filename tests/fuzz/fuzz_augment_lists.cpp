// Fuzz target: the MUSAN and RIR sources of augmentation (engine/audio/augment.h, Augmenter). The input is four
// parts separated by "----" lines:
//   1. a MUSAN list file (`category path` or `path` lines)     2. an RIR list file (one path per line)
//   3. a folder layout: relative paths of files to create under aug/ (musan/<category>/..., rir/...)
//   4. the bytes every created file holds (audio, or not)
// The lists are parsed (their paths are not opened: they could name any file on this machine). The folders are
// scanned as MUSAN and RIR directories and, when that succeeds, every augmentation type is applied to a crop,
// which decodes the created files.
#include <filesystem>

#include "engine/audio/augment.h"
#include "fuzz_support.h"

namespace {

// A relative path that stays below its folder: no absolute paths, no "..", bounded depth and length.
bool safe_relative(const std::string& p) {
  if (p.empty() || p.size() > 200 || p[0] == '/' || p.back() == '/') return false;
  int depth = 0;
  for (const auto& part : std::filesystem::path(p)) {
    if (part == ".." || part == "." || part.empty() || ++depth > 6) return false;
  }
  return p.find('\0') == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const auto parts = fuzz::split_parts({reinterpret_cast<const char*>(data), size}, 4);
  const std::string musan = fuzz::write_file("lists/musan.txt", parts[0]);
  const std::string rir = fuzz::write_file("lists/rir.txt", parts[1]);
  fuzz::run_expecting_spk_errors(fuzz::scratch_dir() + "/lists/", [&] { audio::Augmenter a(musan, rir); });

  fuzz::remove_path("aug");
  fuzz::write_file("aug/musan/.keep", "");
  fuzz::write_file("aug/rir/.keep", "");
  size_t created = 0, start = 0;
  const std::string_view layout = parts[2];
  while (start < layout.size() && created < 16) {
    size_t end = layout.find('\n', start);
    if (end == std::string_view::npos) end = layout.size();
    const std::string rel(layout.substr(start, end - start));
    start = end + 1;
    if (!safe_relative(rel) || (rel.rfind("musan/", 0) != 0 && rel.rfind("rir/", 0) != 0)) continue;
    std::error_code ec;
    if (std::filesystem::is_directory(fuzz::scratch_dir() + "/aug/" + rel, ec)) continue;
    try {
      fuzz::write_file("aug/" + rel, parts[3]);
      ++created;
    } catch (const std::filesystem::filesystem_error&) {   // a file where the layout wants a folder: skip the line
    }
  }
  const std::string dir = fuzz::scratch_dir() + "/aug/";
  fuzz::run_expecting_spk_errors(dir, [&] {
    audio::Augmenter a(dir + "musan", dir + "rir");
    for (auto type : {audio::AugType::reverb, audio::AugType::music, audio::AugType::speech, audio::AugType::noise}) {
      Rng rng(11);
      std::vector<float> x(1600, 0.25f);
      fuzz::run_expecting_spk_errors(dir, [&] { a.apply(type, x.data(), int64_t(x.size()), rng); });
    }
  });
  return 0;
}
