// pyannote_triplet (pyannote's TripletLoss); see pyannote_triplet.h. Composed from engine ops; the sampling runs
// on the host from the detached distances.
#include "losses/pyannote_triplet.h"

#include <cmath>
#include <limits>
#include <set>

#include "engine/ops.h"

namespace spk {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

const char* sampling_name(TripletSampling s) {
  switch (s) {
    case TripletSampling::all: return "all";
    case TripletSampling::hard: return "hard";
    case TripletSampling::negative: return "negative";
    case TripletSampling::easy: return "easy";
  }
  return "?";
}

TripletClamp parse_clamp(const std::string& loss, const std::string& v) {
  if (v == "positive") return TripletClamp::positive;
  if (v == "softmargin") return TripletClamp::softmargin;
  if (v == "sigmoid") return TripletClamp::sigmoid;
  SPK_FAIL(loss, ": pyannote_triplet_clamp '", v, "' (positive, softmargin or sigmoid expected)");
}

TripletSampling parse_sampling(const std::string& loss, const std::string& v) {
  if (v == "all") return TripletSampling::all;
  if (v == "hard") return TripletSampling::hard;
  if (v == "negative") return TripletSampling::negative;
  if (v == "easy") return TripletSampling::easy;
  SPK_FAIL(loss, ": pyannote_triplet_sampling '", v, "' (all, hard, negative or easy expected)");
}

}  // namespace

std::vector<std::array<int64_t, 3>> sample_triplets(TripletSampling sampling, const std::vector<int64_t>& y,
                                                    const std::vector<double>& dist) {
  const int64_t b = int64_t(y.size());
  SPK_CHECK(int64_t(dist.size()) == b * b, "sample_triplets: needs a ", b, "×", b, " distance matrix, got ",
            dist.size(), " values");
  auto d = [&](int64_t i, int64_t j) { return dist[size_t(i * b + j)]; };
  std::vector<std::array<int64_t, 3>> out;
  for (int64_t a = 0; a < b; ++a) {
    std::vector<int64_t> pos, neg;
    for (int64_t k = 0; k < b; ++k) {
      if (y[size_t(k)] != y[size_t(a)]) neg.push_back(k);
      else if (k != a) pos.push_back(k);
    }
    if (pos.empty() || neg.empty()) continue;   // no valid triplet has this anchor
    int64_t nearest_neg = neg[0], farthest_pos = pos[0];
    for (int64_t n : neg)
      if (d(a, n) < d(a, nearest_neg)) nearest_neg = n;
    for (int64_t p : pos)
      if (d(a, p) > d(a, farthest_pos)) farthest_pos = p;
    switch (sampling) {
      case TripletSampling::hard: out.push_back({a, farthest_pos, nearest_neg}); break;
      case TripletSampling::negative:
        for (int64_t p : pos) out.push_back({a, p, nearest_neg});
        break;
      case TripletSampling::all:
      case TripletSampling::easy:
        for (int64_t p : pos)
          for (int64_t n : neg)
            if (sampling == TripletSampling::all || !(d(a, p) > d(a, n))) out.push_back({a, p, n});
        break;
    }
  }
  return out;
}

PyannoteTripletLoss::PyannoteTripletLoss(const LossConfig& c, Rng&)
    : PyannotePairwiseLoss("pyannote_triplet",
                           {.per_speaker = PerSpeaker::at_least_two, .test_normalize = true, .metric = MetricKind::eer}),
      clamp_(parse_clamp(name(), c.pyannote_triplet_clamp)),
      sampling_(parse_sampling(name(), c.pyannote_triplet_sampling)),
      margin_(c.pyannote_triplet_margin * kMaxDistance) {
  SPK_CHECK(std::isfinite(c.pyannote_triplet_margin), name(), ": pyannote_triplet_margin ", c.pyannote_triplet_margin,
            " must be finite");
}

LossOutput PyannoteTripletLoss::forward(const Tensor& x, const Tensor& labels) {
  Batch b = pairwise(x, labels);
  // Symmetric host distances read above the diagonal, so the sampling sees exactly the values the loss uses.
  std::vector<double> sym(b.host.size(), 0.0);
  for (int64_t i = 0; i < b.rows; ++i)
    for (int64_t j = 0; j < b.rows; ++j)
      if (i != j) sym[size_t(i * b.rows + j)] = b.at(i, j);
  const auto triplets = sample_triplets(sampling_, b.labels, sym);
  last_triplets_ = int64_t(triplets.size());
  LossOutput out{Tensor(), pair_eer(b), metric_kind()};
  if (triplets.empty()) {
    const std::set<int64_t> speakers(b.labels.begin(), b.labels.end());
    out.loss = mul_scalar(sum(b.dist), 0.0);   // 0, on the graph so that backward() runs and gives zeros
    out.warning = name() + ": sampling '" + sampling_name(sampling_) + "' found no valid triplet in this batch (" +
                  std::to_string(b.rows) + " embeddings of " + std::to_string(speakers.size()) +
                  " speakers); the step's loss is 0 with no gradient";
    return out;
  }
  std::vector<int64_t> anchor, positive, negative;
  for (const auto& t : triplets) {
    anchor.push_back(t[0]);
    positive.push_back(t[1]);
    negative.push_back(t[2]);
  }
  Tensor delta = sub(pick(b, anchor, positive), pick(b, anchor, negative));   // (T)
  Tensor per_triplet;
  switch (clamp_) {
    case TripletClamp::positive: per_triplet = spk::clamp(add_scalar(delta, margin_), 0.0, kInf); break;   // torch.clamp(min=0)
    case TripletClamp::softmargin: per_triplet = log(add_scalar(exp(delta), 1.0)); break;
    case TripletClamp::sigmoid: per_triplet = sigmoid(mul_scalar(add_scalar(delta, margin_), 10.0)); break;
  }
  out.loss = mean(per_triplet);
  return out;
}

}  // namespace spk
