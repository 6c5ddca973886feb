// spk_eval's evaluation protocols (--eval_protocol; docs/evaluation.md "Evaluation protocols"): how each file
// is cut into the rows the model embeds, how a file's row embeddings are reduced, and how two files are scored.
//
//   voxceleb_trainer  (the default; evaluator.h) num_eval crops of eval_frames (or the whole file), VT's
//                     −mean crop-pair distance and/or the cosine of the mean over crops.
//   taoruijie         TaoRuijie/ECAPA-TDNN ECAPAModel.py eval_network: the whole file plus 5 crops of
//                     max_audio = 300·160 + 240 = 48 240 samples (here eval_frames·160 + 240 and --num_eval crops
//                     when given, else 5) at int(numpy.linspace(0, len' − max_audio, 5)), where a file of
//                     len <= max_audio is first numpy.pad(..., (0, max_audio − len), 'wrap')ed to len' = max_audio
//                     (so all its crops start at 0; unlike voxceleb_trainer's loadWAV, which pads to max_audio + 1).
//                     Every embedding is L2-normalised (F.normalize); a trial's score is
//                       ( mean(full_a · full_bᵀ) + mean(crops_a · crops_bᵀ) ) / 2,
//                     the second term being the mean of the n×n crop dot products (= the dot product of the two
//                     files' mean normalised crops, which is how it is computed here).
//   sliding           pyannote.audio 1.x (Pretrained / Model.slide, validated with speaker_embedding.py's
//                     get_embedding): windows of --window_duration every --window_step over the file
//                     (pyannote.core SlidingWindow(...)(Segment(0, len), align_last=True): starts 0, step, 2·step,
//                     ... while the window fits, plus one window ending exactly at the end of the file when the
//                     last regular one does not); a file shorter than one window is one window of the whole file
//                     (Model.slide: `if support.duration < sliding_window.duration: chunks = [support]`). The
//                     file's embedding is the plain mean of its window embeddings, not normalised before
//                     averaging (np.mean of the raw embeddings); trials are scored by the cosine of the means
//                     (pyannote's cdist metric "cosine" = 1 − cosine, a distance; here the similarity).
//
// The planning functions are pure (sample positions from a length), the reductions and scores run on the host
// in double; embed_protocol_files (eval_protocol_embed.cpp) runs the model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/recipe/evaluator.h"
#include "apps/recipe/scoring.h"
#include "engine/audio/crop.h"
#include "engine/tensor.h"

namespace spk::recipe {

enum class EvalProtocol { voxceleb_trainer, taoruijie, sliding };

// "voxceleb_trainer" | "taoruijie" | "sliding"; anything else is an Error naming --eval_protocol.
EvalProtocol parse_eval_protocol(const std::string& word);
const char* eval_protocol_name(EvalProtocol p);

// Seconds to samples, rounded to the nearest sample.
int64_t seconds_to_samples(double seconds, int sample_rate);

// TaoRuijie's crop starts: int(linspace(0, len' − max_audio, num)[i]) with len' = max(len, max_audio).
std::vector<int64_t> taoruijie_crop_starts(int64_t len, int64_t max_audio, int64_t num);

// pyannote's window starts over [0, len) (see above); {0} when len <= window (then the one window is the whole
// file: sliding_window_length). window, step >= 1.
std::vector<int64_t> sliding_window_starts(int64_t len, int64_t window, int64_t step);
inline int64_t sliding_window_length(int64_t len, int64_t window) { return len < window ? len : window; }

struct ProtocolSettings {
  EvalProtocol protocol = EvalProtocol::voxceleb_trainer;
  int64_t crop_samples = 48240;   // taoruijie: eval_frames·160 + 240
  int64_t num_crops = 5;          // taoruijie
  int64_t window_samples = 48000, step_samples = 1600;   // sliding: 3 s every 0.1 s at 16 kHz
};

// Which rows of a file are kept.
enum class ProtocolRows {
  utterance,   // one per file, the one cosine scoring, --score_norm and plain embed mode use: taoruijie's
               // normalised whole-utterance embedding (its crops are not even computed), sliding's window mean
  scoring,     // what the protocol's score needs: taoruijie 1 + num_crops normalised rows; sliding the mean
  all,         // every row: taoruijie as scoring; sliding every window embedding (embed --embed_crops)
};

// The rows to embed for one decoded file, as groups of equal length in protocol order: taoruijie the whole file
// (one row) then, unless only the utterance is wanted, the crops; sliding the windows.
std::vector<audio::EvalCrops> plan_segments(const std::vector<float>& audio, const ProtocolSettings& s,
                                            ProtocolRows rows);

// One file's row embeddings (r, D) row-major, reduced as the protocol and `rows` say (in place).
void reduce_file_rows(std::vector<float>& emb, int64_t dim, EvalProtocol protocol, ProtocolRows rows);

// Every file's reduced rows: file f's are rows [offsets[f], offsets[f + 1]) of data (N, dim), on the host.
struct FileEmbeddings {
  int64_t dim = 0;
  int64_t rows_embedded = 0;   // the rows the model embedded, before reduction (for the record)
  std::vector<int64_t> offsets{0};
  std::vector<float> data;
  int64_t files() const { return int64_t(offsets.size()) - 1; }
  int64_t rows(int64_t f) const { return offsets[size_t(f) + 1] - offsets[size_t(f)]; }
  const float* row(int64_t f, int64_t i) const { return &data[size_t((offsets[size_t(f)] + i) * dim)]; }
  // (F, k, D) f32 when every file has k rows (an Error otherwise), on `device`.
  Tensor uniform(Device device = Device::cpu()) const;
  // (F, D): row 0 of every file (the utterance embedding of ProtocolRows utterance / scoring), on `device`.
  Tensor first_rows(Device device = Device::cpu()) const;
};

// TaoRuijie's fused score of each trial from rows as ProtocolRows::scoring gives them (row 0 the whole
// utterance, then the crops; all normalised).
std::vector<double> taoruijie_scores(const FileEmbeddings& e, const std::vector<TrialPair>& pairs);

// Embeds every file under a taoruijie or sliding protocol (see eval_protocol_embed.cpp). Uses the settings'
// workers, batch rows and sample rate (not eval_frames / num_eval: those are in ps). Errors name the file.
FileEmbeddings embed_protocol_files(SpeakerNet& model, const FrontEnd& frontend, const std::vector<std::string>& paths,
                                    const ProtocolSettings& ps, const EmbedSettings& es, ProtocolRows rows,
                                    const EvalProgress& progress = {});

// The settings' own checks (an Error naming the flag) and that the model's front end takes a crop / window.
void check_protocol_settings(const ProtocolSettings& ps, const FrontEnd& frontend);

}  // namespace spk::recipe
