// Parsers for training and trial lists; formats and error policy in lists.h.
#include "engine/audio/lists.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/audio/audio_file.h"
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

namespace {

// One keyed file of a data dir (wav.scp, utt2spk, segments): key -> (line, fields), in file order.
struct KeyedLine {
  int64_t line = 0;
  std::vector<std::string> fields;
};
struct KeyedFile {
  std::vector<std::string> order;
  std::map<std::string, KeyedLine> rows;
};

KeyedFile read_keyed(const std::string& path, const char* kind, size_t columns, const char* layout) {
  KeyedFile k;
  for_each_line(path, kind, [&](const Line& l) {
    if (kind == std::string("wav.scp") && l.fields.back().back() == '|')
      bad_line(path, l, "piped commands are not supported (spk reads audio files and runs no commands); "
                        "write the command's output to a file and list that");
    if (l.fields.size() != columns)
      bad_line(path, l, "expected " + std::to_string(columns) + " columns `" + layout + "`, got " +
                            std::to_string(l.fields.size()));
    if (!k.rows.emplace(l.fields[0], KeyedLine{l.number, l.fields}).second)
      bad_line(path, l, "id '" + l.fields[0] + "' appears twice (first on line " +
                            std::to_string(k.rows[l.fields[0]].line) + ")");
    k.order.push_back(l.fields[0]);
  });
  SPK_CHECK(!k.order.empty(), kind, " '", path, "' has no entries");
  return k;
}

constexpr double kMaxSegmentSeconds = 1e6;

double segment_time(const std::string& path, const KeyedLine& row, size_t column, const char* what) {
  const std::string& f = row.fields[column];
  char* end = nullptr;
  const double v = std::strtod(f.c_str(), &end);
  // The cap keeps time * sample rate far inside int64 (a day is 86 400 s; no recording is ten days long).
  if (f.empty() || end != f.c_str() + f.size() || !std::isfinite(v) || v < 0 || v > kMaxSegmentSeconds)
    SPK_FAIL(path, ":", row.line, ": ", what, " time '", f, "' is not a number of seconds in [0, ", kMaxSegmentSeconds, "]");
  return v;
}

}  // namespace

TrainList read_kaldi_train(const std::string& wav_scp, const std::string& utt2spk, const std::string& root,
                           const std::string& segments_file) {
  const KeyedFile wavs = read_keyed(wav_scp, "wav.scp", 2, segments_file.empty() ? "utterance_id path" : "recording_id path");
  const KeyedFile spk = read_keyed(utt2spk, "utt2spk", 2, "utterance_id speaker_id");
  KeyedFile segs;
  if (!segments_file.empty()) segs = read_keyed(segments_file, "segments", 4, "utterance_id recording_id start end");
  // The file that lists the utterances besides utt2spk: segments when there is one, else wav.scp.
  const KeyedFile& utts = segments_file.empty() ? wavs : segs;
  const std::string& utts_file = segments_file.empty() ? wav_scp : segments_file;
  for (const std::string& utt : spk.order)
    if (!utts.rows.count(utt))
      SPK_FAIL(utt2spk, ":", spk.rows.at(utt).line, ": utterance '", utt, "' is not in ", utts_file);
  for (const std::string& utt : utts.order)
    if (!spk.rows.count(utt))
      SPK_FAIL(utts_file, ":", utts.rows.at(utt).line, ": utterance '", utt, "' has no speaker in ", utt2spk);
  TrainList t;
  std::vector<std::string> paths, ids;
  for (const std::string& utt : spk.order) {
    ids.push_back(spk.rows.at(utt).fields[1]);
    if (segments_file.empty()) {
      paths.push_back(join_path(root, wavs.rows.at(utt).fields[1]));
      continue;
    }
    const KeyedLine& seg = segs.rows.at(utt);
    auto rec = wavs.rows.find(seg.fields[1]);
    if (rec == wavs.rows.end())
      SPK_FAIL(segments_file, ":", seg.line, ": recording '", seg.fields[1], "' of utterance '", utt, "' is not in ",
               wav_scp);
    Segment s{segment_time(segments_file, seg, 2, "start"), segment_time(segments_file, seg, 3, "end"), seg.line};
    if (!(s.end > s.start))
      SPK_FAIL(segments_file, ":", seg.line, ": segment of utterance '", utt, "' ends at ", seg.fields[3],
               " s, not after its start ", seg.fields[2], " s");
    paths.push_back(join_path(root, rec->second.fields[1]));
    t.segments.push_back(s);
  }
  std::string source = "'" + wav_scp + "' + '" + utt2spk + "'" + (segments_file.empty() ? "" : " + '" + segments_file + "'");
  TrainList made = make_train_list(std::move(paths), ids, false, std::move(source));
  made.segments = std::move(t.segments);
  made.segments_file = segments_file;
  return made;
}

TrainList read_kaldi_dir(const std::string& dir, const std::string& root) {
  namespace fs = std::filesystem;
  SPK_CHECK(fs::is_directory(dir), "Kaldi data dir '", dir, "' is not a directory");
  const std::string wav_scp = (fs::path(dir) / "wav.scp").string(), utt2spk = (fs::path(dir) / "utt2spk").string(),
                    segments = (fs::path(dir) / "segments").string();
  for (const std::string& f : {wav_scp, utt2spk})
    SPK_CHECK(fs::is_regular_file(f), "Kaldi data dir '", dir, "': no file '", f,
              "' (a training dir needs wav.scp and utt2spk, and may have segments)");
  return read_kaldi_train(wav_scp, utt2spk, root, fs::exists(segments) ? segments : "");
}

std::pair<int64_t, int64_t> segment_frames(const Segment& s, int sample_rate) {
  return {std::llround(s.start * sample_rate), std::llround(s.end * sample_rate)};
}

void check_segments(const TrainList& list, bool skip_unreadable) {
  std::map<std::string, AudioInfo> infos;
  for (size_t i = 0; i < list.segments.size(); ++i) {
    const std::string& path = list.paths[i];
    auto it = infos.find(path);
    if (it == infos.end()) {
      try {
        it = infos.emplace(path, audio_info(path)).first;
      } catch (const Error&) {
        if (skip_unreadable) continue;
        throw;
      }
    }
    const Segment& s = list.segments[i];
    const auto [first, last] = segment_frames(s, it->second.sample_rate);
    if (last > it->second.frames)
      SPK_FAIL(list.segments_file, ":", s.line, ": segment [", s.start, ", ", s.end, ") s ends past the end of '",
               path, "' (", double(it->second.frames) / it->second.sample_rate, " s)");
    if (last <= first)
      SPK_FAIL(list.segments_file, ":", s.line, ": segment [", s.start, ", ", s.end, ") s holds no sample of '",
               path, "' at ", it->second.sample_rate, " Hz");
  }
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
