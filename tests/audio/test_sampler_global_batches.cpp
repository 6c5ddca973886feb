// The sampler's global_batches sharding (spk_train --distributed, engine/audio/sampler.h): W ranks with batch b
// take, step by step, exactly the items (and the global positions, so the crops) of one process with batch b·W.
#include <doctest/doctest.h>

#include <cstddef>
#include <set>

#include "engine/audio/sampler.h"
#include "engine/audio/view_sampler.h"
#include "engine/check.h"

using namespace spk::audio;

namespace {

std::vector<int64_t> labels_of(int64_t speakers) {   // speaker s has 3 + (5s mod 11) utterances
  std::vector<int64_t> l;
  for (int64_t s = 0; s < speakers; ++s)
    for (int64_t i = 0; i < 3 + (s * 5) % 11; ++i) l.push_back(s);
  return l;
}

}  // namespace

TEST_CASE("sampler global_batches: the ranks' batches of a step are the single process's batch of b x W") {
  const std::vector<int64_t> labels = labels_of(24);
  for (int64_t world : {1, 2, 3}) {
    for (int64_t m : {1, 2}) {
      CAPTURE(world);
      CAPTURE(m);
      SamplerConfig one;
      one.batch_size = 4 * world;
      one.n_per_speaker = m;
      one.seed = 7;
      const EpochPlan whole = plan_epoch(labels, one, 3);
      SamplerConfig cfg = one;
      cfg.batch_size = 4;
      cfg.world_size = world;
      cfg.global_batches = true;
      std::set<int64_t> seen;
      for (int64_t r = 0; r < world; ++r) {
        cfg.rank = r;
        const EpochPlan p = plan_epoch(labels, cfg, 3);
        REQUIRE(p.num_batches == whole.num_batches);   // the same number of steps
        REQUIRE(p.items.size() == p.positions.size());
        for (int64_t b = 0; b < p.num_batches; ++b) {
          std::set<int64_t> speakers;
          for (int64_t j = 0; j < 4; ++j) {
            const int64_t i = b * 4 + j;
            const int64_t g = b * 4 * world + r * 4 + j;   // rank r's slice of global batch b
            CHECK(p.positions[std::size_t(i)] == g);
            CHECK(p.items[std::size_t(i)].utterances == whole.items[std::size_t(g)].utterances);
            CHECK(p.items[std::size_t(i)].label == whole.items[std::size_t(g)].label);
            CHECK(speakers.insert(p.items[std::size_t(i)].label).second);
            CHECK(seen.insert(g).second);
          }
        }
      }
      CHECK(int64_t(seen.size()) == whole.num_batches * 4 * world);   // every item of the plan, once
      CHECK(whole.positions.front() == 0);
    }
  }
}

TEST_CASE("sampler global_batches: a step needs b x W distinct speakers; the error names the ranks") {
  SamplerConfig cfg;
  cfg.batch_size = 4;
  cfg.world_size = 2;
  cfg.global_batches = true;
  CHECK_THROWS_WITH_AS(plan_epoch(labels_of(7), cfg, 1),
                       doctest::Contains("--batch_size 4 on each of 2 ranks (--distributed) needs 8 distinct speakers "
                                         "per step; use --batch_size <= 3"),
                       spk::Error);
}

TEST_CASE("view sampler global_batches (--distributed --ssl): W ranks x b take, step by step, 1 process x b·W") {
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < 53; ++i) lengths.push_back(4000 + 137 * i);   // every one long enough for two views
  for (const int64_t W : {1, 2, 3}) {
    CAPTURE(W);
    const int64_t b = 4;
    ViewSamplerConfig one;
    one.batch_size = b * W;
    one.max_frames = 20;
    one.local_views = 1;
    const ViewEpochPlan whole = ViewSampler(lengths, one).plan_epoch(3);
    for (int64_t r = 0; r < W; ++r) {
      ViewSamplerConfig c = one;
      c.batch_size = b;
      c.world_size = W;
      c.rank = r;
      c.global_batches = true;
      const ViewEpochPlan p = ViewSampler(lengths, c).plan_epoch(3);
      REQUIRE(p.num_batches == whole.num_batches);
      REQUIRE(p.positions.size() == p.items.size());
      for (int64_t k = 0; k < p.num_batches; ++k)
        for (int64_t n = 0; n < b; ++n) {
          const size_t mine = size_t(k * b + n), theirs = size_t(k * b * W + r * b + n);
          CHECK(p.items[mine].utterance == whole.items[theirs].utterance);
          CHECK(p.items[mine].start == whole.items[theirs].start);
          CHECK(p.positions[mine] == whole.positions[theirs]);
          CHECK(whole.positions[theirs] == int64_t(theirs));
        }
    }
  }
}
