// Two views per utterance for self-supervised training; the plan is described in view_sampler.h.
#include "engine/audio/view_sampler.h"

#include <algorithm>
#include <numeric>

#include "engine/audio/crop.h"
#include "engine/check.h"
#include "engine/rng.h"

namespace spk::audio {

namespace {

// A bad list or setting: a plain message that starts with the flag (no file:line or condition, unlike SPK_CHECK),
// which the recipe shows as is.
template <class... Parts>
void require(bool ok, const Parts&... parts) {
  if (!ok) throw Error(detail::cat(parts...));
}

}  // namespace

int64_t view_positions(int64_t len, int64_t max_audio) {
  return std::max(len, max_audio + 1) - max_audio;
}

int64_t view_min_samples(int64_t max_audio, bool split) { return (split ? 2 * max_audio : max_audio) + 2; }

int64_t ViewSampler::max_audio() const { return max_audio_samples(cfg_.max_frames); }

ViewSampler::ViewSampler(std::vector<int64_t> lengths, ViewSamplerConfig cfg)
    : cfg_(cfg), lengths_(std::move(lengths)) {
  SPK_CHECK(cfg_.batch_size >= 1, "view sampler: --batch_size must be >= 1, got ", cfg_.batch_size);
  SPK_CHECK(cfg_.local_views >= 0, "view sampler: --ssl_local_views must be >= 0, got ", cfg_.local_views);
  SPK_CHECK(cfg_.max_frames >= 1, "view sampler: --max_frames must be >= 1, got ", cfg_.max_frames);
  SPK_CHECK(cfg_.world_size >= 1 && cfg_.rank >= 0 && cfg_.rank < cfg_.world_size, "view sampler: rank ", cfg_.rank,
            " outside world size ", cfg_.world_size);
  const int64_t L = max_audio();
  for (int64_t i = 0; i < int64_t(lengths_.size()); ++i) {
    const int64_t len = lengths_[size_t(i)];
    if (len < 0) ++unreadable_;
    else if (len >= view_min_samples(L, cfg_.split)) usable_.push_back(i);
    else short_.push_back(i);
  }
  require(usable_.size() >= 2, "--train_list: self-supervised training needs at least two files with two ",
            cfg_.split ? "non-overlapping" : "distinct", " crops of --max_frames ", cfg_.max_frames, " (",
            view_min_samples(L, cfg_.split), " samples or more), but the list has ", usable_.size(),
            " of ", lengths_.size(), " files (", short_.size(), " too short, ", unreadable_, " unreadable)");
  const int64_t unit = cfg_.batch_size * cfg_.world_size;
  require(int64_t(usable_.size()) >= unit, "--batch_size: ", cfg_.batch_size, " utterances per batch",
            cfg_.world_size > 1 ? " on each rank" : "", ", but only ", usable_.size(),
            " files of --train_list have two ", cfg_.split ? "non-overlapping" : "distinct", " crops of --max_frames ",
            cfg_.max_frames,
            "; use --batch_size <= ", int64_t(usable_.size()) / cfg_.world_size);
  num_batches_ = int64_t(usable_.size()) / unit;
}

ViewEpochPlan ViewSampler::plan_epoch(int64_t epoch) const {
  const int64_t L = max_audio();
  Rng rng(cfg_.seed + uint64_t(epoch));
  // 1. Fisher-Yates over the usable utterances.
  std::vector<int64_t> order = usable_;
  for (int64_t i = int64_t(order.size()) - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.randint(0, i + 1))]);
  // 2. Two distinct starts per utterance, in permuted order (so the draws do not depend on the rank).
  std::vector<ViewItem> all(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t len = lengths_[size_t(order[k])];
    ViewItem& it = all[k];
    it.utterance = order[k];
    // Two distinct values of [0, n), uniform over the ordered pairs.
    const int64_t n = cfg_.split ? len - 2 * L : view_positions(len, L);
    int64_t a = rng.randint(0, n), b = rng.randint(0, n - 1);
    if (b >= a) ++b;
    if (cfg_.split) {   // loadWAVSplit: sorted, the second moved past the first view, then shuffled
      if (a > b) std::swap(a, b);
      b += L;
      if (rng.randint(0, 2) == 1) std::swap(a, b);
    }
    it.start = {a, b};
    for (int64_t j = 0; j < cfg_.local_views; ++j) it.start.push_back(rng.randint(0, view_positions(len, L)));
  }
  // 3. Whole batches on every rank; this rank's contiguous slice, or its slice of every global batch.
  ViewEpochPlan plan;
  const int64_t unit = cfg_.batch_size * cfg_.world_size;
  const int64_t total = int64_t(all.size()) / unit * unit;
  plan.truncated = int64_t(all.size()) - total;
  const int64_t shard = total / cfg_.world_size, bs = cfg_.batch_size;
  plan.first_item = cfg_.global_batches ? cfg_.rank * bs : cfg_.rank * shard;
  for (int64_t i = 0; i < shard; ++i) {
    const int64_t g = cfg_.global_batches ? i / bs * unit + cfg_.rank * bs + i % bs : plan.first_item + i;
    plan.positions.push_back(g);
    plan.items.push_back(all[size_t(g)]);
  }
  plan.num_batches = shard / bs;
  return plan;
}

}  // namespace spk::audio
