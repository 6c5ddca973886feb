// Embedding and score files that other tools read (docs/evaluation.md explains the choice of formats).
//
// Embeddings, two interchangeable forms:
//   NumPy  <name>.npy: format version 1.0, dtype '<f4', C order, shape (n, D); plus an index text file with the
//          n keys (utterance paths), one per line, in row order. numpy.load / np.memmap read it directly.
//   Kaldi  text archive "key [ v1 v2 ... vD ]" one embedding per line, as `copy-vector ark:x.ark ark,t:-` prints
//          and as Kaldi (copy-vector, ivector-*) and kaldiio.load_ark read it. Values are written with the
//          shortest text that reads back to the same float.
// Scores:
//   VT     "score path1 path2" per line (voxceleb_trainer's saved score file; it used '%.4f').
//   Kaldi  "utt1 utt2 score" per line, optionally a 4th column target|nontarget (wespeaker's *.score files).
//
// Keys may not contain whitespace (both formats split on it) and may not be empty. Every error names the file,
// and readers give the 1-based line number of the offending line.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace spk::recipe {

struct Embeddings {
  std::vector<std::string> keys;
  Tensor matrix;   // (n, D) f32 on the CPU after reading; any float tensor on any device for writing
};

void write_npy(const std::string& path, const Tensor& matrix);   // (n, D) -> '<f4'
// (n, D) f32 on the CPU. Reads format versions 1.0–3.0, dtype '<f4' or '<f8' (converted), C order, 2-D only.
Tensor read_npy(const std::string& path);

void write_index(const std::string& path, const std::vector<std::string>& keys);
std::vector<std::string> read_index(const std::string& path);   // one key per line; blank lines are errors

void write_embeddings_npy(const std::string& npy_path, const std::string& index_path, const Embeddings& e);
Embeddings read_embeddings_npy(const std::string& npy_path, const std::string& index_path);   // counts must agree

void write_kaldi_text_ark(const std::string& path, const Embeddings& e);
Embeddings read_kaldi_text_ark(const std::string& path);   // all vectors must have the same length

struct ScoreLine {
  std::string enrol, test;
  double score = 0;
  int label = -1;   // 1 target, 0 non-target, -1 unknown
};

// decimals < 0: the shortest text that reads back to the same double; otherwise fixed with that many decimals.
void write_scores_vt(const std::string& path, const std::vector<ScoreLine>& lines, int decimals = -1);
std::vector<ScoreLine> read_scores_vt(const std::string& path);
// Writes the 4th column when every line has a label (all or none: a mixed list is an error).
void write_scores_kaldi(const std::string& path, const std::vector<ScoreLine>& lines, int decimals = -1);
std::vector<ScoreLine> read_scores_kaldi(const std::string& path);

}  // namespace spk::recipe
