// Trial scores from embeddings, on whatever device the embeddings live (engine ops only; no autograd needed,
// callers run under NoGradGuard).
//
// voxceleb_trainer (SpeakerNet.py evaluateFromList): each test file gives crop embeddings E (n, D)
// (n = num_eval = 10 crops, or 1 whole utterance with eval_frames 0). With test_normalize (every loss but proto) each crop is
// L2-normalised (F.normalize, eps 1e-12). score = −mean over all n_a·n_b pairs of ||E_a[i] − E_b[j]||₂
// (torch.cdist, whose direct-difference path these crop counts take), so scores are negative and higher is
// better. Not the cosine of the mean over crops.
//
// Cosine scoring (wespeaker, 3D-Speaker, SpeechBrain): one embedding per utterance (the mean over crops, or the
// single embedding), optionally minus a global mean vector (wespeaker subtracts the vox2_dev mean), then the
// cosine of the two: dot(u_a / ||u_a||, u_b / ||u_b||).
//
// The batched forms take all files' embeddings at once plus the trial list as index pairs, and process
// `batch` trials per step, so memory stays O(batch · n² · D) whatever the list length.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace spk::recipe {

// One trial as row indices into a per-file embedding tensor: enrol (first path) and test (second path).
struct TrialPair {
  int64_t enrol = 0, test = 0;
};

// VT's score of one trial. e_a (n_a, D), e_b (n_b, D) on the same device and dtype.
double vt_score(const Tensor& e_a, const Tensor& e_b, bool test_normalize);

// VT's scores of many trials. crops (F, n, D): n crop embeddings of each of F files (all files the same n).
std::vector<double> vt_scores(const Tensor& crops, const std::vector<TrialPair>& trials, bool test_normalize,
                              int64_t batch = 256);

// The whole-utterance embedding: e (n, D) -> mean over crops (D); e (D) -> e.
Tensor utterance_embedding(const Tensor& e);

// Cosine of two utterances given as (n, D) crops or (D) embeddings; mean (D) is subtracted first if defined.
double cosine_score(const Tensor& e_a, const Tensor& e_b, const Tensor& mean = Tensor());

// Cosine scores of many trials. utts (F, D): one embedding per file; mean (D) subtracted first if defined.
std::vector<double> cosine_scores(const Tensor& utts, const std::vector<TrialPair>& trials,
                                  const Tensor& mean = Tensor(), int64_t batch = 8192);

}  // namespace spk::recipe
