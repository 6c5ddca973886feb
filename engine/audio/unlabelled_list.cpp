// Lists without labels; formats and error policy in unlabelled_list.h.
#include "engine/audio/unlabelled_list.h"

#include <cctype>
#include <fstream>
#include <set>
#include <vector>

#include "engine/check.h"

namespace spk::audio {
namespace {

std::vector<std::string> split_fields(const std::string& raw) {
  std::vector<std::string> f;
  size_t i = 0;
  while (i < raw.size()) {
    while (i < raw.size() && std::isspace(static_cast<unsigned char>(raw[i]))) ++i;
    size_t j = i;
    while (j < raw.size() && !std::isspace(static_cast<unsigned char>(raw[j]))) ++j;
    if (j > i) f.emplace_back(raw, i, j - i);
    i = j;
  }
  return f;
}

// The rule read_train_list uses to tell the path column from the label column.
bool looks_like_audio_path(const std::string& s) {
  if (s.find('/') != std::string::npos) return true;
  const auto dot = s.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = s.substr(dot + 1);
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == "wav" || ext == "flac" || ext == "ogg" || ext == "m4a" || ext == "mp3" || ext == "opus";
}

}  // namespace

UnlabelledList read_unlabelled_list(const std::string& list_path, const std::string& root) {
  std::ifstream in(list_path);
  if (!in.good()) throw Error("cannot open the training list '" + list_path + "'");
  UnlabelledList out;
  std::set<std::string> seen;
  std::string raw;
  for (int64_t line_no = 1; read_list_line(in, raw, list_path, line_no); ++line_no) {
    if (line_no == 1 && raw.rfind("\xEF\xBB\xBF", 0) == 0) raw.erase(0, 3);   // UTF-8 byte order mark
    const std::vector<std::string> f = split_fields(raw);
    if (f.empty()) continue;
    // Plain messages naming file:line (no source location): the recipe shows them as they are.
    auto bad = [&](const std::string& what) {
      throw Error(detail::cat(list_path, ":", line_no, ": ", what, ": \"", raw, "\""));
    };
    if (f.back().back() == '|') bad("piped wav.scp commands are not supported; convert the audio to files first");
    if (f.size() > 2)
      bad("expected `path`, `key path` (wav.scp, voxceleb_trainer) or `path label` (CEL), got " +
          std::to_string(f.size()) + " columns");
    if (out.columns == 0) {
      out.columns = int64_t(f.size());
      out.path_column = f.size() == 2 && looks_like_audio_path(f[0]) && !looks_like_audio_path(f[1]) ? 0 : int64_t(f.size()) - 1;
    } else if (int64_t(f.size()) != out.columns) {
      bad("expected " + std::to_string(out.columns) + " columns as on the list's first line, got " +
          std::to_string(f.size()));
    }
    std::string path = join_path(root, f[size_t(out.path_column)]);
    if (!seen.insert(path).second) {
      ++out.duplicates;
      continue;
    }
    out.list.paths.push_back(std::move(path));
  }
  out.list.labels.resize(out.list.paths.size());
  for (size_t i = 0; i < out.list.labels.size(); ++i) out.list.labels[i] = int64_t(i);
  out.list.source = "'" + list_path + "'";
  return out;
}

}  // namespace spk::audio
