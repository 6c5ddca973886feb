// Cohort construction and AS-/S-norm (see score_norm.h).
//
// The cohort is accumulated on the host in double, streaming the embeddings over in blocks of rows: a
// VoxCeleb2 training list has ~1.1 M utterances, and a (speakers × utterances) averaging matrix would not fit
// anywhere. The cohort cosines are one GEMM per block of evaluation embeddings on their device; the top-N
// selection and the statistics are done on the host in double (the engine has no top-k op).
#include "apps/recipe/score_norm.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace spk::recipe {

Cohort build_cohort(const Tensor& embeddings, const std::vector<std::string>& speakers) {
  SPK_CHECK(embeddings.defined() && embeddings.dim() == 2 && embeddings.size(0) > 0 && embeddings.size(1) > 0,
            "build_cohort: expected embeddings (N, D), got ", embeddings.defined() ? embeddings.str() : "undefined");
  const int64_t N = embeddings.size(0), D = embeddings.size(1);
  SPK_CHECK(int64_t(speakers.size()) == N, "build_cohort: ", N, " embeddings but ", speakers.size(), " speaker labels");
  std::map<std::string, int64_t> spk_index;   // sorted speaker -> row
  for (size_t i = 0; i < speakers.size(); ++i) {
    SPK_CHECK(!speakers[i].empty(), "build_cohort: embedding ", i, " has an empty speaker label");
    spk_index.emplace(speakers[i], 0);
  }
  Cohort c;
  for (auto& [name, row] : spk_index) {
    row = int64_t(c.speakers.size());
    c.speakers.push_back(name);
  }
  const int64_t S = int64_t(c.speakers.size());
  std::vector<double> sums(size_t(S * D), 0.0), total(size_t(D), 0.0);
  std::vector<int64_t> counts(size_t(S), 0);
  std::vector<int64_t> row_spk(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) row_spk[size_t(i)] = spk_index.at(speakers[size_t(i)]);
  NoGradGuard ng;
  const int64_t block = 4096;
  for (int64_t r0 = 0; r0 < N; r0 += block) {
    const int64_t r1 = std::min(N, r0 + block);
    const std::vector<double> v = slice(embeddings, 0, r0, r1).to_double();
    for (int64_t i = r0; i < r1; ++i) {
      const double* x = &v[size_t((i - r0) * D)];
      const int64_t s = row_spk[size_t(i)];
      counts[size_t(s)]++;
      for (int64_t k = 0; k < D; ++k) {
        SPK_CHECK(std::isfinite(x[k]), "build_cohort: embedding ", i, " has a non-finite value at ", k);
        sums[size_t(s * D + k)] += x[k];
        total[size_t(k)] += x[k];
      }
    }
  }
  std::vector<double> mean(static_cast<size_t>(D)), rows(static_cast<size_t>(S * D));
  for (int64_t k = 0; k < D; ++k) mean[size_t(k)] = total[size_t(k)] / double(N);
  for (int64_t s = 0; s < S; ++s) {
    double* r = &rows[size_t(s * D)];
    double nrm = 0;
    for (int64_t k = 0; k < D; ++k) {
      r[k] = sums[size_t(s * D + k)] / double(counts[size_t(s)]) - mean[size_t(k)];
      nrm += r[k] * r[k];
    }
    nrm = std::max(std::sqrt(nrm), 1e-12);   // F.normalize's eps: a speaker at the global mean stays 0
    for (int64_t k = 0; k < D; ++k) r[k] /= nrm;
  }
  c.embeddings = Tensor::from_vector(rows, {S, D}, embeddings.dtype(), embeddings.device());
  c.mean = Tensor::from_vector(mean, {D}, embeddings.dtype(), embeddings.device());
  return c;
}

CohortStats cohort_stats(const Tensor& emb, const Tensor& cohort, int64_t top_n, int64_t batch_rows) {
  SPK_CHECK(emb.defined() && cohort.defined() && emb.dim() == 2 && cohort.dim() == 2 && emb.size(1) == cohort.size(1) &&
                cohort.size(0) > 0,
            "cohort_stats: expected embeddings (M, D) and a non-empty cohort (S, D), got ",
            emb.defined() ? emb.str() : "undefined", " and ", cohort.defined() ? cohort.str() : "undefined");
  SPK_CHECK(batch_rows > 0, "cohort_stats: batch_rows must be positive, got ", batch_rows);
  const int64_t M = emb.size(0), S = cohort.size(0);
  const int64_t n = (top_n <= 0 || top_n >= S) ? S : top_n;
  NoGradGuard ng;
  Tensor cohort_t = transpose(l2_normalize(cohort, 1), 0, 1);   // (D, S)
  CohortStats st;
  st.mean.resize(size_t(M));
  st.std.resize(size_t(M));
  std::vector<double> row;
  for (int64_t r0 = 0; r0 < M; r0 += batch_rows) {
    const int64_t r1 = std::min(M, r0 + batch_rows);
    const std::vector<double> sc = matmul(l2_normalize(slice(emb, 0, r0, r1), 1), cohort_t).to_double();   // (B, S)
    for (int64_t i = r0; i < r1; ++i) {
      row.assign(sc.begin() + (i - r0) * S, sc.begin() + (i - r0 + 1) * S);
      std::nth_element(row.begin(), row.begin() + (n - 1), row.end(), std::greater<double>());
      double mu = 0;
      for (int64_t k = 0; k < n; ++k) mu += row[size_t(k)];
      mu /= double(n);
      double var = 0;
      for (int64_t k = 0; k < n; ++k) var += (row[size_t(k)] - mu) * (row[size_t(k)] - mu);
      const double sd = std::sqrt(var / double(n));
      SPK_CHECK(std::isfinite(mu) && sd > 0, "cohort_stats: embedding ", i, " has top-", n,
                " cohort scores with mean ", mu, " and std ", sd, " (need a finite mean and std > 0; top_n >= 2?)");
      st.mean[size_t(i)] = mu;
      st.std[size_t(i)] = sd;
    }
  }
  return st;
}

std::vector<double> normalize_scores(const std::vector<double>& raw, const std::vector<TrialPair>& trials,
                                     const CohortStats& stats) {
  SPK_CHECK(raw.size() == trials.size(), "normalize_scores: ", raw.size(), " scores but ", trials.size(), " trials");
  SPK_CHECK(stats.mean.size() == stats.std.size(), "normalize_scores: stats have ", stats.mean.size(), " means but ",
            stats.std.size(), " stds");
  const int64_t F = int64_t(stats.mean.size());
  std::vector<double> out(raw.size());
  for (size_t t = 0; t < trials.size(); ++t) {
    const int64_t e = trials[t].enrol, s = trials[t].test;
    SPK_CHECK(e >= 0 && e < F && s >= 0 && s < F, "normalize_scores: trial ", t, " refers to files (", e, ", ", s,
              ") but stats cover ", F, " files");
    const double v = raw[t];
    out[t] = 0.5 * ((v - stats.mean[size_t(e)]) / stats.std[size_t(e)] + (v - stats.mean[size_t(s)]) / stats.std[size_t(s)]);
  }
  return out;
}

NormedScores cosine_scores_normed(const Tensor& utts, const std::vector<TrialPair>& trials, const Cohort& cohort,
                                  int64_t top_n, int64_t batch_rows) {
  SPK_CHECK(utts.defined() && utts.dim() == 2, "cosine_scores_normed: expected utterance embeddings (F, D), got ",
            utts.defined() ? utts.str() : "undefined");
  SPK_CHECK(cohort.embeddings.defined() && cohort.mean.defined() && cohort.mean.dim() == 1 &&
                cohort.mean.size(0) == utts.size(1),
            "cosine_scores_normed: cohort does not match embeddings ", utts.str());
  Tensor u;
  {
    NoGradGuard ng;
    u = sub(utts, cohort.mean);
  }
  NormedScores out;
  out.raw = cosine_scores(u, trials);
  out.normed = normalize_scores(out.raw, trials, cohort_stats(u, cohort.embeddings, top_n, batch_rows));
  return out;
}

}  // namespace spk::recipe
