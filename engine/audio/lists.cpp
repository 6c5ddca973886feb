// Parsers for training and trial lists; formats and error policy in lists.h.
#include "engine/audio/lists.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/check.h"

namespace spk::audio {
namespace {

struct Line {
  int64_t number = 0;
  std::string text;                  // without the trailing newline / CR
  std::vector<std::string> fields;   // whitespace-split
};

// Calls fn for every non-blank line of a list file.
void for_each_line(const std::string& path, const char* kind, const std::function<void(const Line&)>& fn) {
  std::ifstream in(path);
  if (!in) SPK_FAIL("cannot open ", kind, " '", path, "'");
  Line l;
  std::string raw;
  while (read_list_line(in, raw, path, l.number + 1)) {
    ++l.number;
    if (l.number == 1 && raw.rfind("\xEF\xBB\xBF", 0) == 0) raw.erase(0, 3);   // UTF-8 byte order mark
    l.fields.clear();
    size_t i = 0;
    while (i < raw.size()) {
      while (i < raw.size() && std::isspace(static_cast<unsigned char>(raw[i]))) ++i;
      size_t j = i;
      while (j < raw.size() && !std::isspace(static_cast<unsigned char>(raw[j]))) ++j;
      if (j > i) l.fields.emplace_back(raw, i, j - i);
      i = j;
    }
    if (l.fields.empty()) continue;
    l.text = raw;
    fn(l);
  }
}

}  // namespace

bool read_list_line(std::istream& in, std::string& line, const std::string& path, int64_t line_no) {
  line.clear();
  std::streambuf* sb = in.rdbuf();
  if (!sb) return false;
  bool any = false;
  for (int c; (c = sb->sbumpc()) != std::char_traits<char>::eof();) {
    any = true;
    if (c == '\n') break;
    // A NUL byte means a binary file, and would cut every message that quotes the line (what() is a C string).
    if (c == '\0') SPK_FAIL(path, ":", line_no, ": NUL byte at column ", line.size() + 1, " (not a text file?)");
    if (line.size() == kMaxListLineBytes)
      SPK_FAIL(path, ":", line_no, ": line longer than ", kMaxListLineBytes, " bytes (not a list file?)");
    line.push_back(char(c));
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return any;
}

namespace {

[[noreturn]] void bad_line(const std::string& path, const Line& l, const std::string& what) {
  SPK_FAIL(path, ":", l.number, ": ", what, ": \"", l.text, "\"");
}

bool is_integer(const std::string& s) {
  int64_t v;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool looks_like_audio_path(const std::string& s) {
  if (s.find('/') != std::string::npos) return true;
  auto dot = s.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = s.substr(dot + 1);
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == "wav" || ext == "flac" || ext == "ogg" || ext == "m4a" || ext == "mp3" || ext == "opus";
}

const char* format_name(TrainListFormat f) {
  switch (f) {
    case TrainListFormat::voxceleb: return "`speaker_id path`";
    case TrainListFormat::cel: return "`path label`";
    default: return "`speaker_id path` or `path label`";
  }
}

TrainList make_train_list(std::vector<std::string> paths, const std::vector<std::string>& ids, bool numeric,
                          std::string source) {
  SPK_CHECK(!paths.empty(), "training list ", source, " has no utterances");
  TrainList t;
  t.speakers = LabelMap::from_ids(ids, numeric);
  t.labels.reserve(ids.size());
  for (const auto& id : ids) t.labels.push_back(t.speakers.index(id));
  t.paths = std::move(paths);
  t.source = std::move(source);
  return t;
}

}  // namespace

// ---- LabelMap ----

LabelMap LabelMap::from_ids(std::vector<std::string> ids, bool numeric_sort) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (numeric_sort && std::all_of(ids.begin(), ids.end(), is_integer)) {
    std::stable_sort(ids.begin(), ids.end(),
                     [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  }
  LabelMap m;
  m.names_ = std::move(ids);
  for (size_t i = 0; i < m.names_.size(); ++i) m.index_.emplace(m.names_[i], int64_t(i));
  return m;
}

const std::string& LabelMap::name(int64_t index) const {
  SPK_CHECK(index >= 0 && index < size(), "label map: class index ", index, " outside [0, ", size(), ")");
  return names_[size_t(index)];
}

int64_t LabelMap::index(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) SPK_FAIL("label map: unknown speaker id '", name, "' (", size(), " speakers known)");
  return it->second;
}

std::string LabelMap::to_json() const {
  nlohmann::json j;
  j["format"] = "spk-labels-1";
  j["speakers"] = names_;
  return j.dump(1);
}

LabelMap LabelMap::from_json(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    SPK_FAIL(what, ": not valid JSON: ", e.what());
  }
  // Accept the full object or the bare array kept in safetensors metadata.
  const nlohmann::json* arr = &j;
  if (j.is_object()) {
    SPK_CHECK(j.contains("speakers"), what, ": JSON object has no \"speakers\" array");
    arr = &j["speakers"];
  }
  SPK_CHECK(arr->is_array(), what, ": \"speakers\" must be an array of strings");
  LabelMap m;
  for (const auto& v : *arr) {
    SPK_CHECK(v.is_string(), what, ": speaker entry ", v.dump(), " is not a string");
    std::string s = v.get<std::string>();
    SPK_CHECK(!m.index_.count(s), what, ": speaker id '", s, "' appears twice");
    m.index_.emplace(s, int64_t(m.names_.size()));
    m.names_.push_back(std::move(s));
  }
  return m;
}

void LabelMap::save(const std::string& path) const {
  std::ofstream out(path);
  SPK_CHECK(bool(out), "label map: cannot write '", path, "'");
  out << to_json() << "\n";
  SPK_CHECK(bool(out), "label map: write to '", path, "' failed");
}

LabelMap LabelMap::load(const std::string& path) {
  std::ifstream in(path);
  SPK_CHECK(bool(in), "label map: cannot open '", path, "'");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return from_json(text, "label map '" + path + "'");
}

std::map<std::string, std::string> LabelMap::to_metadata() const {
  return {{kMetadataKey, nlohmann::json(names_).dump()}};
}

LabelMap LabelMap::from_metadata(const std::map<std::string, std::string>& meta) {
  auto it = meta.find(kMetadataKey);
  SPK_CHECK(it != meta.end(), "label map: metadata has no '", kMetadataKey, "' entry");
  return from_json(it->second, std::string("metadata '") + kMetadataKey + "'");
}

// ---- training lists ----

std::string join_path(const std::string& root, const std::string& rel) {
  if (root.empty() || (!rel.empty() && rel[0] == '/')) return rel;
  return root.back() == '/' ? root + rel : root + "/" + rel;
}

TrainList read_train_list(const std::string& list_path, const std::string& root, TrainListFormat format) {
  std::vector<std::string> paths, ids;
  for_each_line(list_path, "training list", [&](const Line& l) {
    if (l.fields.size() != 2)
      bad_line(list_path, l, "expected 2 columns (" + std::string(format_name(format)) + "), got " +
                                 std::to_string(l.fields.size()));
    if (format == TrainListFormat::auto_detect) {
      // Decided on the first line: the column that looks like a path is the path.
      bool p0 = looks_like_audio_path(l.fields[0]), p1 = looks_like_audio_path(l.fields[1]);
      format = (p0 && !p1) ? TrainListFormat::cel : TrainListFormat::voxceleb;
    }
    const bool vox = format == TrainListFormat::voxceleb;
    ids.push_back(l.fields[vox ? 0 : 1]);
    paths.push_back(join_path(root, l.fields[vox ? 1 : 0]));
  });
  return make_train_list(std::move(paths), ids, format == TrainListFormat::cel, "'" + list_path + "'");
}

std::map<std::string, std::string> read_wav_scp(const std::string& wav_scp, const std::string& root) {
  std::map<std::string, std::string> m;
  for_each_line(wav_scp, "wav.scp", [&](const Line& l) {
    if (l.fields.size() < 2) bad_line(wav_scp, l, "expected `utterance_id path`");
    if (l.fields.back() == "|" || l.fields.back().back() == '|')
      bad_line(wav_scp, l, "piped commands are not supported; convert the audio to files first");
    if (l.fields.size() != 2) bad_line(wav_scp, l, "expected 2 columns `utterance_id path`, got " + std::to_string(l.fields.size()));
    if (!m.emplace(l.fields[0], join_path(root, l.fields[1])).second)
      bad_line(wav_scp, l, "utterance id '" + l.fields[0] + "' appears twice");
  });
  SPK_CHECK(!m.empty(), "wav.scp '", wav_scp, "' has no entries");
  return m;
}

TrainList read_kaldi_train(const std::string& wav_scp, const std::string& utt2spk, const std::string& root) {
  const auto wavs = read_wav_scp(wav_scp, root);
  std::map<std::string, std::string> spk;
  for_each_line(utt2spk, "utt2spk", [&](const Line& l) {
    if (l.fields.size() != 2) bad_line(utt2spk, l, "expected 2 columns `utterance_id speaker_id`, got " + std::to_string(l.fields.size()));
    if (!wavs.count(l.fields[0])) bad_line(utt2spk, l, "utterance '" + l.fields[0] + "' is not in " + wav_scp);
    if (!spk.emplace(l.fields[0], l.fields[1]).second)
      bad_line(utt2spk, l, "utterance id '" + l.fields[0] + "' appears twice");
  });
  std::vector<std::string> paths, ids;
  for (const auto& [utt, path] : wavs) {
    auto it = spk.find(utt);
    SPK_CHECK(it != spk.end(), "utterance '", utt, "' of ", wav_scp, " has no speaker in ", utt2spk);
    paths.push_back(path);
    ids.push_back(it->second);
  }
  return make_train_list(std::move(paths), ids, false, "'" + wav_scp + "' + '" + utt2spk + "'");
}

// ---- trials ----

bool TrialList::labelled() const {
  return std::all_of(trials.begin(), trials.end(), [](const Trial& t) { return t.label >= 0; });
}

TrialList read_trials(const std::string& path, const TrialOptions& opts) {
  TrialList tl;
  tl.source = path;
  TrialFormat format = opts.format;
  std::set<std::string> files;
  for_each_line(path, "trial list", [&](const Line& l) {
    const auto& f = l.fields;
    if (format == TrialFormat::auto_detect)
      format = (f.size() == 3 && (f[2] == "target" || f[2] == "nontarget")) ? TrialFormat::kaldi : TrialFormat::voxceleb;
    Trial t;
    if (format == TrialFormat::kaldi) {
      if (f.size() != 3) bad_line(path, l, "expected 3 columns `utt1 utt2 target|nontarget`, got " + std::to_string(f.size()));
      if (f[2] != "target" && f[2] != "nontarget")
        bad_line(path, l, "third column must be 'target' or 'nontarget', got '" + f[2] + "'");
      t = {f[2] == "target" ? 1 : 0, f[0], f[1]};
    } else if (f.size() == 3) {
      if (f[0] != "0" && f[0] != "1") bad_line(path, l, "label must be 1 (target) or 0 (non-target), got '" + f[0] + "'");
      t = {f[0] == "1" ? 1 : 0, f[1], f[2]};
    } else if (f.size() == 2) {
      if (!opts.allow_unlabelled)
        bad_line(path, l, "trial has no label (expected `label path1 path2`; allow unlabelled trials to score it)");
      t = {-1, f[0], f[1]};
    } else {
      bad_line(path, l, "expected 3 columns `label path1 path2`, got " + std::to_string(f.size()));
    }
    files.insert(t.enroll);
    files.insert(t.test);
    tl.trials.push_back(std::move(t));
  });
  SPK_CHECK(!tl.trials.empty(), "trial list '", path, "' has no trials");
  tl.files.assign(files.begin(), files.end());
  return tl;
}

}  // namespace spk::audio
