// Speaker-balanced epoch plan with re-queueing; the algorithm is described in sampler.h.
#include "engine/audio/sampler.h"

#include <algorithm>
#include <list>
#include <numeric>

#include "engine/check.h"
#include "engine/rng.h"

namespace spk::audio {
namespace {

// Fisher-Yates with the epoch's Rng (torch.randperm's role; the draws are ours, not torch's).
std::vector<int64_t> permutation(int64_t n, Rng& rng) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t(0));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[size_t(i)], p[size_t(rng.randint(0, i + 1))]);
  return p;
}

}  // namespace

EpochPlan plan_epoch(const std::vector<int64_t>& labels, const SamplerConfig& cfg, int64_t epoch) {
  const int64_t rank_bs = cfg.batch_size, m = cfg.n_per_speaker;
  SPK_CHECK(rank_bs >= 1, "sampler: --batch_size must be >= 1, got ", rank_bs);
  SPK_CHECK(m >= 1, "sampler: --nPerSpeaker must be >= 1, got ", m);
  SPK_CHECK(cfg.max_seg_per_spk >= m, "sampler: --max_seg_per_spk ", cfg.max_seg_per_spk,
            " is smaller than --nPerSpeaker ", m, ": no speaker can form a group");
  SPK_CHECK(cfg.world_size >= 1 && cfg.rank >= 0 && cfg.rank < cfg.world_size, "sampler: rank ", cfg.rank,
            " outside world size ", cfg.world_size);
  SPK_CHECK(!labels.empty(), "sampler: the training list is empty");
  const int64_t bs = cfg.global_batches ? rank_bs * cfg.world_size : rank_bs;   // the batches step 3 fills
  int64_t num_classes = 0;
  for (int64_t l : labels) {
    SPK_CHECK(l >= 0, "sampler: negative label ", l);
    num_classes = std::max(num_classes, l + 1);
  }

  Rng rng(cfg.seed + uint64_t(epoch));
  // 1. Permute utterances and bucket per speaker in permuted order.
  const std::vector<int64_t> perm = permutation(int64_t(labels.size()), rng);
  std::vector<std::vector<int64_t>> per_spk(static_cast<size_t>(num_classes));
  for (int64_t u : perm) per_spk[size_t(labels[size_t(u)])].push_back(u);

  // 2. Groups of m consecutive (permuted) utterances, at most max_seg_per_spk utterances per speaker.
  std::vector<SamplerItem> groups;
  int64_t speakers_present = 0, eligible_speakers = 0;
  for (int64_t s = 0; s < num_classes; ++s) {
    const auto& us = per_spk[size_t(s)];
    if (us.empty()) continue;
    ++speakers_present;
    const int64_t n_seg = std::min<int64_t>(int64_t(us.size()), cfg.max_seg_per_spk) / m * m;
    if (n_seg > 0) ++eligible_speakers;
    for (int64_t i = 0; i < n_seg; i += m) groups.push_back({s, std::vector<int64_t>(us.begin() + i, us.begin() + i + m)});
  }
  if (eligible_speakers < bs && !cfg.global_batches)
    SPK_FAIL("sampler: only ", eligible_speakers, " of the ", speakers_present, " speakers have at least --nPerSpeaker ",
             m, " utterances, but --batch_size ", bs, " needs that many distinct speakers per batch; use --batch_size <= ",
             eligible_speakers, " or a smaller --nPerSpeaker");
  if (eligible_speakers < bs)
    SPK_FAIL("sampler: only ", eligible_speakers, " of the ", speakers_present, " speakers have at least --nPerSpeaker ",
             m, " utterances, but --batch_size ", rank_bs, " on each of ", cfg.world_size, " ranks (--distributed) needs ",
             bs, " distinct speakers per step; use --batch_size <= ", eligible_speakers / cfg.world_size,
             " or a smaller --nPerSpeaker");

  // 3. Permute groups; fill batches with distinct speakers, deferring (not dropping) clashing groups.
  const std::vector<int64_t> mix = permutation(int64_t(groups.size()), rng);
  std::vector<int64_t> placed;
  placed.reserve(groups.size());
  std::list<int64_t> deferred;
  std::vector<char> in_batch(size_t(num_classes), 0);
  std::vector<int64_t> batch;
  size_t next = 0;
  for (;;) {
    for (int64_t g : batch) in_batch[size_t(groups[size_t(g)].label)] = 0;
    batch.clear();
    auto take = [&](int64_t g) {
      in_batch[size_t(groups[size_t(g)].label)] = 1;
      batch.push_back(g);
    };
    for (auto it = deferred.begin(); it != deferred.end() && int64_t(batch.size()) < bs;) {
      if (in_batch[size_t(groups[size_t(*it)].label)]) { ++it; continue; }
      take(*it);
      it = deferred.erase(it);
    }
    while (int64_t(batch.size()) < bs && next < mix.size()) {
      const int64_t g = mix[next++];
      if (in_batch[size_t(groups[size_t(g)].label)]) deferred.push_back(g);
      else take(g);
    }
    if (int64_t(batch.size()) < bs) break;   // stream and deferred groups cannot fill another batch
    placed.insert(placed.end(), batch.begin(), batch.end());
  }

  // 4. Truncate to whole batches on every rank; this rank's contiguous slice.
  EpochPlan plan;
  plan.eligible_groups = int64_t(groups.size());
  plan.placed_groups = int64_t(placed.size());
  plan.unplaceable_groups = plan.eligible_groups - plan.placed_groups;
  const int64_t step = rank_bs * cfg.world_size;   // items of one step over all ranks
  const int64_t total = plan.placed_groups / step * step;
  plan.truncated_groups = plan.placed_groups - total;
  SPK_CHECK(total > 0, "sampler: ", plan.placed_groups / rank_bs, " full batches of --batch_size ", rank_bs,
            " cannot give each of the ", cfg.world_size, " ranks one batch");
  const int64_t shard = total / cfg.world_size;
  plan.first_item = cfg.global_batches ? cfg.rank * rank_bs : cfg.rank * shard;
  plan.items.reserve(size_t(shard));
  plan.positions.reserve(size_t(shard));
  for (int64_t i = 0; i < shard; ++i) {
    const int64_t g = cfg.global_batches ? i / rank_bs * step + cfg.rank * rank_bs + i % rank_bs : plan.first_item + i;
    plan.positions.push_back(g);
    plan.items.push_back(std::move(groups[size_t(placed[size_t(g)])]));
  }
  plan.num_batches = shard / rank_bs;
  return plan;
}

}  // namespace spk::audio
