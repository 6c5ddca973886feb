// Trial scoring (see scoring.h).
//
// The crop distances are formed from differences, sqrt(Σ_k (a_ik − b_jk)²), not with euclidean_matrix's GEMM
// form sqrt(|a|² + |b|² − 2a·b): torch.cdist itself switches to the GEMM form only above 25 rows per side, so
// VT's 10×10 crops take the difference path, and the GEMM form has an absolute error of about sqrt(eps·|a|²)
// near zero distance (3e-4 in f32 for two identical crops, instead of 0). The batched version broadcasts
// (T, n_a, 1, D) − (T, 1, n_b, D), i.e. T·n²·D elements per step, which the default batch keeps near 50 MB
// for 10 crops of 512 dims.
#include "apps/recipe/scoring.h"

#include <functional>

#include "engine/autograd.h"
#include "engine/op_table.h"
#include "engine/ops.h"

namespace spk::recipe {

namespace {

// −mean over all crop pairs of ||a_i − b_j||; a (..., n_a, D), b (..., n_b, D) -> (...) one score per batch entry.
Tensor neg_mean_crop_distance(const Tensor& a, const Tensor& b) {
  const int64_t r = a.dim();
  Tensor diff = sub(unsqueeze(a, r - 1), unsqueeze(b, r - 2));                 // (..., n_a, n_b, D)
  Tensor dist = sqrt(sum(mul(diff, diff), {r}));                               // (..., n_a, n_b)
  return neg(mean(dist, {r - 2, r - 1}));
}

void check_trial_indices(const char* what, const std::vector<TrialPair>& trials, int64_t n_files) {
  for (size_t t = 0; t < trials.size(); ++t) {
    const TrialPair& p = trials[t];
    SPK_CHECK(p.enrol >= 0 && p.enrol < n_files && p.test >= 0 && p.test < n_files, what, ": trial ", t,
              " refers to files (", p.enrol, ", ", p.test, ") but there are ", n_files, " files");
  }
}

// Rows of x (dim 0) by host indices, on x's device. Where index_select has no kernel for that device yet,
// the rows are picked on the host (x copied there once) and the batch moved back.
class RowGather {
 public:
  explicit RowGather(const Tensor& x) : x_(x) {}
  Tensor rows(const std::vector<int64_t>& idx) {
    const Shape shape{int64_t(idx.size())};
    const bool host_only = op_info(OpId::index_select).cuda == OpCuda::CPU_ONLY;
    if (x_.device().is_cpu() || !host_only) return index_select(x_, 0, Tensor::from_vector(idx, shape, x_.device()));
    if (!host_.defined()) host_ = x_.to(Device::cpu());
    return index_select(host_, 0, Tensor::from_vector(idx, shape)).to(x_.device());
  }

 private:
  Tensor x_, host_;
};

}  // namespace

double vt_score(const Tensor& e_a, const Tensor& e_b, bool test_normalize) {
  SPK_CHECK(e_a.defined() && e_b.defined(), "vt_score: undefined embedding");
  SPK_CHECK(e_a.dim() == 2 && e_b.dim() == 2 && e_a.size(1) == e_b.size(1) && e_a.size(0) > 0 && e_b.size(0) > 0,
            "vt_score: expected crop embeddings (n_a, D) and (n_b, D), got ", e_a.str(), " and ", e_b.str());
  NoGradGuard ng;
  Tensor a = test_normalize ? l2_normalize(e_a, 1) : e_a;
  Tensor b = test_normalize ? l2_normalize(e_b, 1) : e_b;
  return neg_mean_crop_distance(a, b).item();
}

// Scores trials `batch` at a time: score(enrol rows, test rows) -> (T) scores, so memory stays bounded.
static std::vector<double> score_in_batches(
    const std::vector<TrialPair>& trials, int64_t batch,
    const std::function<Tensor(const std::vector<int64_t>&, const std::vector<int64_t>&)>& score) {
  std::vector<double> out;
  out.reserve(trials.size());
  for (size_t start = 0; start < trials.size(); start += size_t(batch)) {
    const size_t end = std::min(trials.size(), start + size_t(batch));
    std::vector<int64_t> ia, ib;
    for (size_t t = start; t < end; ++t) {
      ia.push_back(trials[t].enrol);
      ib.push_back(trials[t].test);
    }
    for (double v : score(ia, ib).to_double()) out.push_back(v);
  }
  return out;
}

std::vector<double> vt_scores(const Tensor& crops, const std::vector<TrialPair>& trials, bool test_normalize,
                              int64_t batch) {
  SPK_CHECK(crops.defined() && crops.dim() == 3 && crops.size(1) > 0 && crops.size(2) > 0,
            "vt_scores: expected crop embeddings (F, n, D), got ", crops.defined() ? crops.str() : "undefined");
  SPK_CHECK(batch > 0, "vt_scores: batch must be positive, got ", batch);
  check_trial_indices("vt_scores", trials, crops.size(0));
  NoGradGuard ng;
  RowGather gather(test_normalize ? l2_normalize(crops, 2) : crops);
  return score_in_batches(trials, batch, [&](const std::vector<int64_t>& ia, const std::vector<int64_t>& ib) {
    return neg_mean_crop_distance(gather.rows(ia), gather.rows(ib));   // (T)
  });
}

Tensor utterance_embedding(const Tensor& e) {
  SPK_CHECK(e.defined() && (e.dim() == 1 || e.dim() == 2) && e.numel() > 0,
            "utterance_embedding: expected (n, D) crops or a (D) embedding, got ", e.defined() ? e.str() : "undefined");
  NoGradGuard ng;
  return e.dim() == 2 ? mean(e, {0}) : e;
}

double cosine_score(const Tensor& e_a, const Tensor& e_b, const Tensor& mean_vec) {
  NoGradGuard ng;
  Tensor a = utterance_embedding(e_a), b = utterance_embedding(e_b);
  SPK_CHECK(a.size(0) == b.size(0), "cosine_score: embedding sizes differ: ", e_a.str(), " and ", e_b.str());
  if (mean_vec.defined()) {
    SPK_CHECK(mean_vec.dim() == 1 && mean_vec.size(0) == a.size(0), "cosine_score: mean ", mean_vec.str(),
              " does not match embeddings of size ", a.size(0));
    a = sub(a, mean_vec);
    b = sub(b, mean_vec);
  }
  return sum(mul(l2_normalize(a, 0), l2_normalize(b, 0))).item();
}

std::vector<double> cosine_scores(const Tensor& utts, const std::vector<TrialPair>& trials, const Tensor& mean_vec,
                                  int64_t batch) {
  SPK_CHECK(utts.defined() && utts.dim() == 2 && utts.size(1) > 0,
            "cosine_scores: expected utterance embeddings (F, D), got ", utts.defined() ? utts.str() : "undefined");
  SPK_CHECK(batch > 0, "cosine_scores: batch must be positive, got ", batch);
  check_trial_indices("cosine_scores", trials, utts.size(0));
  NoGradGuard ng;
  Tensor u = utts;
  if (mean_vec.defined()) {
    SPK_CHECK(mean_vec.dim() == 1 && mean_vec.size(0) == utts.size(1), "cosine_scores: mean ", mean_vec.str(),
              " does not match embeddings ", utts.str());
    u = sub(u, mean_vec);
  }
  RowGather gather(l2_normalize(u, 1));
  return score_in_batches(trials, batch, [&](const std::vector<int64_t>& ia, const std::vector<int64_t>& ib) {
    return sum(mul(gather.rows(ia), gather.rows(ib)), {1});   // (T)
  });
}

}  // namespace spk::recipe
