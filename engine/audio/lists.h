// List files of the data pipeline: what to train on and what to score.
//
// Training lists (one utterance per line, whitespace-separated, blank lines skipped):
//   voxceleb   `speaker_id relative/path.wav`      voxceleb_trainer --train_list (path joined to --train_path)
//   cel        `relative/path.wav label`           CEL fine-tuning lists (makelist_post.py)
//   kaldi      a data directory: wav.scp `utt path` + utt2spk `utt speaker`, and optionally segments
//              `utt recording start end` (seconds in [0, 1e6]; wav.scp is then keyed by recording and each
//              utterance is [start, end) of its recording). Paths in wav.scp are joined to the root like list
//              paths. Utterances keep utt2spk's order. Refused, naming file:line: a piped wav.scp entry (`cmd |`:
//              spk reads files, it runs no commands; convert the audio first), duplicate ids, an utterance of
//              utt2spk missing from wav.scp (or segments) or one of wav.scp (or segments) missing from utt2spk,
//              a segment of an unknown recording or with end <= start; check_segments adds the files' lengths.
// Speaker labels are the index of the speaker id in the sorted set of ids (voxceleb_trainer's dictkeys). For
// cel lists whose labels are all integers the sort is numeric, so labels 0..K-1 keep their values (CEL's own
// loader sorts them as strings, which only permutes class indices).
//
// Trial lists:
//   voxceleb   `label path1 path2`, label 1 target / 0 non-target; a 2-column `path1 path2` line is an error
//              unless allow_unlabelled (label -1; voxceleb_trainer would draw a random label)
//   kaldi      `utt1 utt2 target|nontarget`
// The files to embed are the sorted set of the two key columns, as voxceleb_trainer's evaluateFromList.
//
// Every malformed line is an error naming file:line and quoting the line; lines are at most kMaxListLineBytes. Paths are joined to a root with
// os.path.join semantics (an absolute path ignores the root).
#pragma once
#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace spk::audio {

// Speaker id <-> class index. Saved as JSON {"format": "spk-labels-1", "speakers": [...]} (index = position),
// or as a safetensors metadata entry ("spk.speakers" -> the JSON array as a string).
class LabelMap {
 public:
  LabelMap() = default;
  // Sorted unique ids (numeric order when numeric_sort and every id is an integer).
  static LabelMap from_ids(std::vector<std::string> ids, bool numeric_sort = false);

  int64_t size() const { return int64_t(names_.size()); }
  const std::string& name(int64_t index) const;
  int64_t index(const std::string& name) const;     // throws naming the id when unknown
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const std::vector<std::string>& names() const { return names_; }

  std::string to_json() const;
  static LabelMap from_json(const std::string& text, const std::string& what = "label map");
  void save(const std::string& path) const;
  static LabelMap load(const std::string& path);
  static constexpr const char* kMetadataKey = "spk.speakers";
  std::map<std::string, std::string> to_metadata() const;
  static LabelMap from_metadata(const std::map<std::string, std::string>& meta);

  bool operator==(const LabelMap& o) const { return names_ == o.names_; }

 private:
  std::vector<std::string> names_;
  std::map<std::string, int64_t> index_;
};

enum class TrainListFormat { auto_detect, voxceleb, cel };

// A Kaldi segment: seconds [start, end) of the utterance's recording; line is its line in the segments file.
struct Segment {
  double start = 0, end = 0;
  int64_t line = 0;
};

struct TrainList {
  std::vector<std::string> paths;   // per utterance, joined to the root
  std::vector<Segment> segments;    // empty, or per utterance: the part of paths[i] that is the utterance
  std::string segments_file;        // where segments came from, for messages
  std::vector<int64_t> labels;      // per utterance, index into speakers
  LabelMap speakers;
  std::string source;               // the list file(s), for messages
  int64_t size() const { return int64_t(paths.size()); }
};

TrainList read_train_list(const std::string& list_path, const std::string& root = "",
                          TrainListFormat format = TrainListFormat::auto_detect);
// Kaldi data directory files. Piped wav.scp entries (`cmd |`) are rejected with a clear error. segments_file
// empty: wav.scp is keyed by utterance.
TrainList read_kaldi_train(const std::string& wav_scp, const std::string& utt2spk, const std::string& root = "",
                           const std::string& segments_file = "");
// dir/wav.scp + dir/utt2spk, with dir/segments when it exists; a missing wav.scp or utt2spk is an error naming it.
TrainList read_kaldi_dir(const std::string& dir, const std::string& root = "");
// Every segment against its file's header (no sample decoded): round(end · rate) past the file's frames is an
// error naming segments:line. Files that cannot be opened are skipped when skip_unreadable (--skip_bad_files).
void check_segments(const TrainList& list, bool skip_unreadable = false);
// A segment's frames [first, last) at sample_rate: round(start · rate), round(end · rate), as Kaldi's
// extract-segments.
std::pair<int64_t, int64_t> segment_frames(const Segment& s, int sample_rate);
// wav.scp alone: utterance id -> path joined to root (Kaldi trials are keyed by utterance id).
std::map<std::string, std::string> read_wav_scp(const std::string& wav_scp, const std::string& root = "");

enum class TrialFormat { auto_detect, voxceleb, kaldi };

struct Trial {
  int label = -1;         // 1 target, 0 non-target, -1 unlabelled
  std::string enroll, test;   // keys as written (relative paths or utterance ids)
};

struct TrialList {
  std::vector<Trial> trials;
  std::vector<std::string> files;   // sorted unique keys of both columns
  std::string source;
  bool labelled() const;            // every trial has a label
};

struct TrialOptions {
  TrialFormat format = TrialFormat::auto_detect;
  bool allow_unlabelled = false;
};
TrialList read_trials(const std::string& path, const TrialOptions& opts = {});

// The longest line a list file may have: 64 KiB, far past any path or trial. A longer line is an error naming
// file:line, found before more than the cap is held in memory (a list with no newline can be any size).
constexpr size_t kMaxListLineBytes = size_t(64) << 10;
// The next line of a list file into `line`, without its '\n' or "\r\n"; false at the end of the input.
// line_no is the number of that line, for the errors: a line past the cap, a NUL byte (a binary file).
bool read_list_line(std::istream& in, std::string& line, const std::string& path, int64_t line_no);

// os.path.join(root, rel): rel when root is empty or rel is absolute; otherwise root/rel.
std::string join_path(const std::string& root, const std::string& rel);

}  // namespace spk::audio
