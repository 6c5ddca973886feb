// Score normalisation against an imposter cohort, as wespeaker's score_norm.py does it
// (wespeaker wespeaker/bin/score_norm.py).
//
// Cohort (wespeaker's vector_mean.py + mean_vec): from the training list's per-utterance embeddings (N, D) and
// speaker labels: m = mean of all N embeddings; one row per speaker = mean of its embeddings − m, L2-normalised.
// The evaluation embeddings get the same m subtracted and are L2-normalised; the raw trial score is then the
// cosine of the two (cosine_scores with the cohort's mean).
//
// For every evaluation embedding e: its cosines with all cohort rows (one GEMM per block of `batch_rows`
// embeddings, so memory stays batch_rows × S), the top_n largest, and their mean μ and population std σ
// (numpy's np.std, ddof 0). AS-norm: top_n = N (300 in wespeaker's run.sh); S-norm: top_n = the whole cohort.
//   s' = ½ [ (s − μ_enrol) / σ_enrol + (s − μ_test) / σ_test ]
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/recipe/scoring.h"
#include "engine/tensor.h"

namespace spk::recipe {

struct Cohort {
  Tensor embeddings;                  // (S, D) speaker means minus `mean`, L2-normalised; rows follow `speakers`
  Tensor mean;                        // (D) mean over all utterances, to subtract from evaluation embeddings
  std::vector<std::string> speakers;  // sorted (wespeaker reads spk2utt, which Kaldi keeps sorted)
};

// embeddings (N, D), speakers[i] the label of row i. Runs on the embeddings' device.
Cohort build_cohort(const Tensor& embeddings, const std::vector<std::string>& speakers);

struct CohortStats {
  std::vector<double> mean, std;   // one per row of the embeddings they were computed for
};

// emb (M, D) (mean already subtracted, if wanted; rows are L2-normalised here), cohort (S, D) (normalised rows).
// top_n <= 0 or >= S uses the whole cohort (S-norm). σ = 0 (e.g. top_n 1) is an error naming the row.
CohortStats cohort_stats(const Tensor& emb, const Tensor& cohort, int64_t top_n, int64_t batch_rows = 1024);

// s' for each trial from raw scores and per-file stats (trial indices index both stat vectors).
std::vector<double> normalize_scores(const std::vector<double>& raw, const std::vector<TrialPair>& trials,
                                     const CohortStats& stats);

// The whole wespeaker pipeline on per-file embeddings utts (F, D): raw cosine scores after subtracting
// cohort.mean, and their AS-norm (top_n > 0) or S-norm (top_n <= 0) versions.
struct NormedScores {
  std::vector<double> raw, normed;
};
NormedScores cosine_scores_normed(const Tensor& utts, const std::vector<TrialPair>& trials, const Cohort& cohort,
                                  int64_t top_n, int64_t batch_rows = 1024);

}  // namespace spk::recipe
