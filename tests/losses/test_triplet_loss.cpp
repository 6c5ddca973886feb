// triplet: the deterministic hardest-negative case against plain loops (value, EER metric), the mining rules
// on hand-made similarity matrices (semi-hard window, rank window, never the positive itself), seeded
// reproducibility, a finite-difference check with the random choice fixed by resetting the seed, and errors.
#include <cmath>
#include <set>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/metrics.h"
#include "losses/triplet.h"
#include "ref.h"

using namespace spk;
using test::rand_input;

namespace {

LossConfig triplet_config(int64_t hard_rank, double hard_prob, double margin, uint64_t seed = 5) {
  LossConfig c = ref::f64_config(4, 2, 2);
  c.hard_rank = hard_rank;
  c.hard_prob = hard_prob;
  c.margin = margin;
  c.rng = std::make_shared<Rng>(seed);
  return c;
}

}  // namespace

TEST_CASE("triplet: hardest negative (hard_rank 0, hard_prob 1) against loops; EER metric") {
  Rng rng(301);
  TripletLoss loss(triplet_config(0, 1.0, 0.3), rng);
  CHECK(loss.metric_kind() == MetricKind::eer);
  CHECK(loss.test_normalize());
  Tensor x = rand_input({6, 2, 4}, rng);
  auto g = ref::groups(x);
  const size_t n = 6;
  double total = 0;
  std::vector<double> scores;
  std::vector<int> truth;
  ref::Vec negd;
  for (size_t i = 0; i < n; ++i) {
    ref::Vec a = ref::normalize(g[i][0]);
    size_t best = i == 0 ? 1 : 0;
    for (size_t k = 0; k < n; ++k)
      if (k != i && -ref::sq_dist(a, ref::normalize(g[k][1]), 1e-6) > -ref::sq_dist(a, ref::normalize(g[best][1]), 1e-6))
        best = k;
    double pos2 = ref::sq_dist(a, ref::normalize(g[i][1]), 1e-6), neg2 = ref::sq_dist(a, ref::normalize(g[best][1]), 1e-6);
    total += std::max(pos2 - neg2 + 0.3, 0.0);
    scores.push_back(-std::sqrt(pos2));
    truth.push_back(1);
    negd.push_back(-std::sqrt(neg2));
  }
  for (double v : negd) { scores.push_back(v); truth.push_back(0); }
  LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {total / double(n)}, 1e-13, 1e-12, "triplet loss");
  CHECK(out.metric == doctest::Approx(vt_eer(scores, truth).eer));

  // Separable: each positive next to its anchor, the speakers on distinct axes -> EER 0.
  std::vector<double> v;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 0; k < 4; ++k) v.push_back((k == i ? 1.0 : 0.0) + 0.05 * double(j) * double(k + 1));
  CHECK(loss.forward(Tensor::from_vector(v, {4, 2, 4}, DType::f64), Tensor()).metric == 0.0);
}

TEST_CASE("triplet mining: semi-hard window, rank window, uniform fallback") {
  Rng init(302);
  // Row 0: S_00 = 0, only k = 1 lies in (−0.1, 0). Row 1: only k = 0 lies in (−1.1, −1).
  // Row 2: nothing in (−0.1, 0) -> uniform over all 4 columns, itself included. Row 3: k ∈ {0, 2}.
  std::vector<double> s{0, -0.05, -0.5, -2,      //
                        -1.05, -1, -3, -0.2,     //
                        -0.5, -0.7, 0, -0.9,     //
                        -0.52, -3, -0.55, -0.5};
  TripletLoss semi(triplet_config(-1, 0.5, 0.1), init);
  std::set<int64_t> row2, row3;
  for (int rep = 0; rep < 200; ++rep) {
    auto neg = semi.mine_negatives(s, 4);
    CHECK(neg[0] == 1);
    CHECK(neg[1] == 0);
    row2.insert(neg[2]);
    row3.insert(neg[3]);
  }
  CHECK(row2 == std::set<int64_t>{0, 1, 2, 3});
  CHECK(row3 == std::set<int64_t>{0, 2});

  // Rank-based, always hard with hard_rank 1: one of the two most similar other columns.
  std::vector<double> r{0, -0.1, -0.2, -0.3, -0.4,   //
                        -0.5, 0, -0.1, -0.9, -0.2,   //
                        -0.3, -0.2, 0, -0.1, -0.6,   //
                        -0.1, -0.7, -0.2, 0, -0.8,   //
                        -0.9, -0.1, -0.8, -0.3, 0};
  const std::vector<std::set<int64_t>> top2{{1, 2}, {2, 4}, {3, 1}, {0, 2}, {1, 3}};
  TripletLoss hard(triplet_config(1, 1.0, 0.1), init);
  TripletLoss uniform(triplet_config(1, 0.0, 0.1), init);
  std::vector<std::set<int64_t>> seen(5);
  for (int rep = 0; rep < 300; ++rep) {
    auto h = hard.mine_negatives(r, 5), u = uniform.mine_negatives(r, 5);
    for (size_t i = 0; i < 5; ++i) {
      CHECK(top2[i].count(h[i]) == 1);
      CHECK(u[i] != int64_t(i));
      seen[i].insert(u[i]);
    }
  }
  for (size_t i = 0; i < 5; ++i) CHECK(seen[i].size() == 4);   // uniform draws reach every other column
}

TEST_CASE("triplet: seeded choices repeat; gradient with the choice fixed") {
  Rng init(303);
  auto cfg = triplet_config(2, 0.5, 0.4, 99);
  TripletLoss a(cfg, init);
  TripletLoss b(triplet_config(2, 0.5, 0.4, 99), init);
  Tensor x = rand_input({6, 2, 3}, init);
  CHECK(a.forward(x, Tensor()).loss.item() == b.forward(x, Tensor()).loss.item());
  std::vector<double> s(36);
  for (auto& v : s) v = init.uniform();
  a.rng().set_state(99, 0);
  auto first = a.mine_negatives(s, 6);
  a.rng().set_state(99, 0);
  CHECK(a.mine_negatives(s, 6) == first);
  ref::gradcheck_loss(a, x, Tensor(), [&] { a.rng().set_state(99, 0); });
}

TEST_CASE("triplet: errors") {
  Rng init(304);
  TripletLoss loss(triplet_config(10, 0.5, 0.1), init);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::ones({5, 2, 4}, DType::f64), Tensor()),
                       doctest::Contains("triplet: hard_rank 10 needs at least hard_rank + 2 = 12 speakers per batch, got 5"),
                       Error);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::ones({5, 3, 4}, DType::f64), Tensor()),
                       doctest::Contains("triplet: needs nPerSpeaker exactly 2"), Error);
  CHECK_THROWS_WITH_AS(TripletLoss(triplet_config(1, 1.5, 0.1), init), doctest::Contains("triplet: hard_prob 1.5"), Error);
}
