// The speaker-balanced sampler's guarantees: distinct speakers per batch, groups of one speaker, every eligible
// utterance at most once (exactly once when batches can be completed, thanks to re-queueing), determinism,
// rank shards, and clear errors.
#include <map>
#include <set>

#include "engine/audio/sampler.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;

namespace {

// Speaker s gets counts[s] utterances; utterances of different speakers are interleaved.
std::vector<int64_t> make_labels(const std::vector<int64_t>& counts) {
  std::vector<int64_t> labels;
  int64_t most = 0;
  for (int64_t c : counts) most = std::max(most, c);
  for (int64_t i = 0; i < most; ++i)
    for (size_t s = 0; s < counts.size(); ++s)
      if (i < counts[s]) labels.push_back(int64_t(s));
  return labels;
}

void check_batches(const EpochPlan& p, const std::vector<int64_t>& labels, const SamplerConfig& cfg) {
  REQUIRE(int64_t(p.items.size()) == p.num_batches * cfg.batch_size);
  for (int64_t b = 0; b < p.num_batches; ++b) {
    std::set<int64_t> spk;
    for (int64_t i = b * cfg.batch_size; i < (b + 1) * cfg.batch_size; ++i) {
      const auto& it = p.items[size_t(i)];
      CHECK(spk.insert(it.label).second);   // no speaker twice in a batch
      REQUIRE(int64_t(it.utterances.size()) == cfg.n_per_speaker);
      for (int64_t u : it.utterances) CHECK(labels[size_t(u)] == it.label);
    }
  }
}

int64_t eligible_utterances(const std::vector<int64_t>& counts, const SamplerConfig& cfg) {
  int64_t e = 0;
  for (int64_t c : counts) e += std::min(c, cfg.max_seg_per_spk) / cfg.n_per_speaker * cfg.n_per_speaker;
  return e;
}

}  // namespace

TEST_CASE("sampler: distinct speakers per batch, each utterance at most once, accounting adds up") {
  std::vector<int64_t> counts;
  for (int64_t s = 0; s < 37; ++s) counts.push_back(1 + (s * 7) % 30);
  const auto labels = make_labels(counts);
  for (int64_t m : {1, 2, 3}) {
    SUBCASE(("nPerSpeaker " + std::to_string(m)).c_str()) {
      SamplerConfig cfg;
      cfg.batch_size = 8;
      cfg.n_per_speaker = m;
      cfg.max_seg_per_spk = 20;
      const auto p = plan_epoch(labels, cfg, 3);
      check_batches(p, labels, cfg);
      std::set<int64_t> used;
      for (const auto& it : p.items)
        for (int64_t u : it.utterances) CHECK(used.insert(u).second);
      CHECK(p.eligible_groups * m == eligible_utterances(counts, cfg));
      CHECK(p.placed_groups + p.unplaceable_groups == p.eligible_groups);
      CHECK(int64_t(p.items.size()) == p.placed_groups - p.truncated_groups);
      CHECK(p.truncated_groups < cfg.batch_size);
      // Re-queueing leaves only what cannot form a batch of 8 distinct speakers (VT would drop far more).
      CHECK(p.unplaceable_groups < 8 * 20);
      // max_seg_per_spk caps each speaker.
      std::map<int64_t, int64_t> per_spk;
      for (const auto& it : p.items) per_spk[it.label] += m;
      for (auto [s, n] : per_spk) CHECK(n <= cfg.max_seg_per_spk);
    }
  }
}

TEST_CASE("sampler: with re-queueing every eligible utterance is used exactly once when batches can be completed") {
  // 8 speakers, batch_size 8: every batch must hold one group of each speaker. Dropping clashing groups (VT)
  // would lose most of the data; re-queueing places all of it.
  const std::vector<int64_t> counts(8, 10);
  const auto labels = make_labels(counts);
  SamplerConfig cfg;
  cfg.batch_size = 8;
  cfg.n_per_speaker = 2;
  for (int64_t epoch : {0, 1, 2}) {
    const auto p = plan_epoch(labels, cfg, epoch);
    check_batches(p, labels, cfg);
    std::multiset<int64_t> used;
    for (const auto& it : p.items) used.insert(it.utterances.begin(), it.utterances.end());
    CHECK(used.size() == labels.size());
    for (int64_t u = 0; u < int64_t(labels.size()); ++u) CHECK(used.count(u) == 1);
    CHECK(p.num_batches == 5);
    CHECK(p.unplaceable_groups == 0);
    CHECK(p.truncated_groups == 0);
  }
}

TEST_CASE("sampler: deterministic for a seed; different for another epoch or seed") {
  std::vector<int64_t> counts;
  for (int64_t s = 0; s < 20; ++s) counts.push_back(5 + s % 6);
  const auto labels = make_labels(counts);
  SamplerConfig cfg;
  cfg.batch_size = 6;
  cfg.n_per_speaker = 2;
  auto flat = [](const EpochPlan& p) {
    std::vector<int64_t> v;
    for (const auto& it : p.items) v.insert(v.end(), it.utterances.begin(), it.utterances.end());
    return v;
  };
  const auto a = flat(plan_epoch(labels, cfg, 4));
  CHECK(a == flat(plan_epoch(labels, cfg, 4)));
  CHECK(a != flat(plan_epoch(labels, cfg, 5)));
  cfg.seed = 11;
  CHECK(a != flat(plan_epoch(labels, cfg, 4)));
  // voxceleb_trainer seeds each epoch with seed + epoch: (seed 11, epoch 3) is (seed 10, epoch 4).
  CHECK(a == flat(plan_epoch(labels, cfg, 3)));
}

TEST_CASE("sampler: ranks get disjoint contiguous shards covering the truncated plan") {
  std::vector<int64_t> counts;
  for (int64_t s = 0; s < 30; ++s) counts.push_back(3 + (s * 5) % 17);
  const auto labels = make_labels(counts);
  SamplerConfig cfg;
  cfg.batch_size = 5;
  cfg.n_per_speaker = 1;
  const auto whole = plan_epoch(labels, cfg, 0);
  for (int64_t world : {2, 3, 4}) {
    CAPTURE(world);
    cfg.world_size = world;
    std::vector<int64_t> concat;
    int64_t batches = -1;
    for (int64_t r = 0; r < world; ++r) {
      cfg.rank = r;
      const auto p = plan_epoch(labels, cfg, 0);
      check_batches(p, labels, cfg);
      if (batches < 0) batches = p.num_batches;
      CHECK(p.num_batches == batches);   // every rank runs the same number of steps
      CHECK(p.first_item == r * p.num_batches * cfg.batch_size);
      for (const auto& it : p.items) concat.push_back(it.utterances[0]);
    }
    const int64_t total = whole.placed_groups / (cfg.batch_size * world) * (cfg.batch_size * world);
    REQUIRE(int64_t(concat.size()) == total);
    for (int64_t i = 0; i < total; ++i) CHECK(concat[size_t(i)] == whole.items[size_t(i)].utterances[0]);
    CHECK(std::set<int64_t>(concat.begin(), concat.end()).size() == concat.size());
  }
}

TEST_CASE("sampler: clear errors") {
  SamplerConfig cfg;
  cfg.batch_size = 8;
  cfg.n_per_speaker = 2;
  SUBCASE("fewer eligible speakers than batch_size") {
    // 6 speakers, one of them with a single utterance (not eligible for nPerSpeaker 2).
    const auto labels = make_labels({4, 4, 4, 4, 4, 1});
    CHECK_THROWS_WITH_AS(plan_epoch(labels, cfg, 0),
                         doctest::Contains("only 5 of the 6 speakers have at least --nPerSpeaker 2 utterances, but "
                                           "--batch_size 8 needs that many distinct speakers per batch; use "
                                           "--batch_size <= 5 or a smaller --nPerSpeaker"),
                         spk::Error);
  }
  SUBCASE("too few batches for the ranks") {
    const auto labels = make_labels(std::vector<int64_t>(8, 2));   // exactly one batch
    cfg.world_size = 2;
    CHECK_THROWS_WITH_AS(plan_epoch(labels, cfg, 0), doctest::Contains("1 full batches of --batch_size 8 cannot give each of the 2 ranks"),
                         spk::Error);
  }
  SUBCASE("bad settings") {
    const auto labels = make_labels(std::vector<int64_t>(8, 2));
    cfg.max_seg_per_spk = 1;
    CHECK_THROWS_WITH_AS(plan_epoch(labels, cfg, 0), doctest::Contains("--max_seg_per_spk 1 is smaller than --nPerSpeaker 2"),
                         spk::Error);
    cfg.max_seg_per_spk = 500;
    cfg.batch_size = 0;
    CHECK_THROWS_WITH_AS(plan_epoch(labels, cfg, 0), doctest::Contains("--batch_size must be >= 1"), spk::Error);
  }
}
