// Training lists without speaker labels, for self-supervised training (spk_train --ssl, docs/ssl.md).
//
// One utterance per non-blank line, whitespace-separated, in any of three shapes:
//   `path`              a plain list of files
//   `key path`          a Kaldi wav.scp (piped `cmd |` entries are rejected), or a voxceleb_trainer list
//                       `speaker path` whose speaker column is ignored
//   `path label`        a CEL list, its label ignored
// Every line must have the first line's number of columns. For two columns the path column is decided on the
// first line, as read_train_list decides it: the second unless only the first looks like an audio path (has a
// '/' or an audio extension). A path listed twice is kept once (two copies of a file in a batch would be
// positives scored as negatives) and counted in `duplicates`. Paths are joined to root (os.path.join).
// Errors name file:line and quote the line.
#pragma once
#include <cstdint>
#include <string>

#include "engine/audio/lists.h"

namespace spk::audio {

struct UnlabelledList {
  TrainList list;            // paths; labels[i] = i (each utterance its own class); no speakers
  int64_t columns = 0;       // 1 or 2
  int64_t path_column = 0;   // 0 or 1
  int64_t duplicates = 0;    // lines whose path an earlier line already had
};

UnlabelledList read_unlabelled_list(const std::string& list_path, const std::string& root = "");

}  // namespace spk::audio
