// The evaluator: files -> crop embeddings -> trial scores -> EER/minDCF. Shared by the trainer (its every
// test_interval evaluation) and spk_eval.
//
// Embedding (voxceleb_trainer SpeakerNet.py evaluateFromList): each file gives num_eval evenly spaced crops of
// eval_frames·160 + 240 samples (engine/audio/crop.h), or the whole file as one crop with eval_frames 0; the
// front end (fbank or MFCC) and the model run on the model's device, in eval mode, without autograd. VT feeds one file
// per forward pass; we batch the crops of consecutive files of equal crop length up to max_batch_rows rows per
// pass. In eval mode every row is computed independently (BatchNorm uses running statistics, the front end's
// normalisation is per row), so batching changes only the speed (and the last bits, where a kernel's summation
// order depends on the batch size); the tests compare 1 vs up to 64 rows per pass.
//
// Scoring: "vt" is VT's −mean Euclidean distance over all crop pairs (L2-normalised crops unless the loss's
// test_normalize is false); "cosine" is the cosine of the mean-over-crops utterance embeddings (scoring.h).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/recipe/frontend.h"
#include "apps/recipe/scoring.h"
#include <nlohmann/json.hpp>

#include "engine/audio/fbank.h"
#include "engine/audio/lists.h"
#include "engine/tensor.h"
#include "losses/verification.h"
#include "nets/model.h"

namespace spk::recipe {

// progress(done_files, total_files); called after each forward pass and once at the end. May be empty.
using EvalProgress = std::function<void(int64_t, int64_t)>;

struct EmbedSettings {
  int64_t eval_frames = 300, num_eval = 10;   // VT: 10 evenly spaced crops; eval_frames 0 = whole file, 1 crop
  int num_workers = 2;                         // EvalReader threads (0: decode on the calling thread)
  int64_t max_batch_rows = 64;                 // crops per forward pass (files of equal crop length batched)
  int sample_rate = 16000;                     // files at other rates are resampled on reading
  // Keep only each file's mean crop embedding (the utterance embedding cosine scoring uses): (F, 1, D). Saves
  // memory when embedding a large list (a score-normalisation cohort).
  bool mean_over_crops = false;
  // Files embedded at once on the CPU (spk_eval --eval_jobs), each on one thread; 1: one file at a time, its
  // kernels split across cpu_threads(). Ignored on a CUDA model. Changes only the speed and the last bits.
  int jobs = 1;
  // spk_eval --mixedprec: the model's forward under autocast (engine/autocast.h; the front end stays fp32, as in
  // training). bf16 on a CPU with AVX512-BF16/AMX runs the convs on oneDNN's bf16 kernels.
  std::optional<DType> autocast;
};

// Checks the settings (and that the front end gives the model's n_mels); an spk::Error names the setting.
void check_embed_settings(const EmbedSettings& s, const FrontEnd& frontend, const SpeakerNet& model);

// Crop embeddings of every file, in order: (F, n, D) f32 on the model's device (n = num_eval, or 1 with
// eval_frames 0 or mean_over_crops). Puts the model in eval mode under NoGradGuard for the duration and
// restores its previous training mode, also on error. Errors name the file (decoding, or a forward pass that
// fails, e.g. a file too short for the model with eval_frames 0).
Tensor embed_files(SpeakerNet& model, const FrontEnd& frontend, const std::vector<std::string>& paths,
                   const EmbedSettings& s, const EvalProgress& progress = {});

// The model's device (that of its first parameter or buffer; the CPU for a model without tensors).
Device model_device(const SpeakerNet& model);

// A trial list as row indices into its sorted file list (trials.files) and its labels (-1 where unlabelled).
std::vector<TrialPair> trial_pairs(const audio::TrialList& trials);
std::vector<int> trial_labels(const audio::TrialList& trials);

// "vt" | "cosine" (anything else is an error naming the value). crops (F, n, D) as embed_files gives them.
std::vector<double> score_trials(const Tensor& crops, const std::vector<TrialPair>& pairs, const std::string& scoring,
                                 bool test_normalize);

// How the files of a trial list become crop embeddings: embed_files, or (spk_train --distributed) a share of the
// files on each rank, gathered (distributed.h).
using EmbedFn = std::function<Tensor(SpeakerNet&, const FrontEnd&, const std::vector<std::string>&,
                                     const EmbedSettings&, const EvalProgress&)>;

struct TrialEvalSettings {
  EmbedSettings embed;
  EmbedFn embed_fn;             // empty: embed_files
  bool test_normalize = true;   // the loss's test_normalize (false for proto); VT scoring only
  std::string scoring = "vt";   // vt | cosine
};

struct TrialEvalResult {
  std::vector<double> scores;   // one per trial, in list order
  std::vector<int> labels;      // one per trial (-1 unlabelled)
  bool has_metrics = false;     // metrics are computed when every trial is labelled
  MetricsReport metrics;
  Tensor crops;                 // (F, n, D) on the model's device; row f is trials.files[f]
  double embed_seconds = 0, score_seconds = 0;
};

// The files of `trials` (keys joined to test_path), embedded and scored; metrics when the list is labelled.
TrialEvalResult evaluate_trials(SpeakerNet& model, const FrontEnd& frontend, const audio::TrialList& trials,
                                const std::string& test_path, const TrialEvalSettings& s,
                                const EvalProgress& progress = {});
// The same with an explicit path for each of trials.files (e.g. Kaldi utterance ids resolved through wav.scp).
TrialEvalResult evaluate_trials_at(SpeakerNet& model, const FrontEnd& frontend, const audio::TrialList& trials,
                                   const std::vector<std::string>& paths, const TrialEvalSettings& s,
                                   const EvalProgress& progress = {});

// Every figure of a MetricsReport as JSON (for spk_eval --json and the trainer's checkpoint metadata):
//   n_target, n_nontarget,
//   vt_eer (percent), vt_eer_threshold, vt_eer_fpr, vt_eer_fnr (fractions),
//   vt_threshold_at_far {"0.01": {threshold, fpr, fnr}, "0.001": {...}},
//   interpolated_eer (percent), interpolated_eer_threshold,
//   min_dcf_p0.05 / min_dcf_p0.01 {min_dcf, threshold, p_target, c_miss, c_fa}.
// A threshold that is infinite (sklearn's first ROC threshold, picked when no finite one is nearer a target FAR)
// is written as null: JSON has no infinities. Extra operating points (another --dcf_p_target): min_dcf_json.
nlohmann::json metrics_json(const MetricsReport& m);
nlohmann::json min_dcf_json(const MinDcf& d);

}  // namespace spk::recipe
