// pyannote's chunk sampler; the algorithm and its differences from pyannote are in chunk_sampler.h.
#include "engine/audio/chunk_sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "engine/audio/audio_file.h"
#include "engine/check.h"
#include "engine/rng.h"

namespace spk::audio {

namespace {

// A bad setting: a plain message that starts with the flag (no file:line or condition, unlike SPK_CHECK), which
// the recipe shows as is.
template <class... Parts>
void require(bool ok, const Parts&... parts) {
  if (!ok) throw Error(detail::cat(parts...));
}

int64_t to_samples(double seconds, int rate) { return int64_t(std::llround(seconds * double(rate))); }

double effective_min(const ChunkSamplerConfig& c) { return c.min_duration > 0 ? c.min_duration : c.duration; }

void shuffle(std::vector<int64_t>& v, Rng& rng) {
  for (int64_t i = int64_t(v.size()) - 1; i > 0; --i) std::swap(v[size_t(i)], v[size_t(rng.randint(0, i + 1))]);
}

}  // namespace

void check_chunk_config(const ChunkSamplerConfig& c) {
  require(std::isfinite(c.duration) && c.duration > 0, "--chunk_duration must be positive, got ", c.duration, " s");
  require(std::isfinite(c.min_duration) && c.min_duration >= 0, "--chunk_min_duration must be 0 (= --chunk_duration) "
            "or positive, got ", c.min_duration, " s");
  require(c.min_duration <= c.duration, "--chunk_min_duration ", c.min_duration,
            " s is longer than --chunk_duration ", c.duration, " s: the duration range is empty");
  SPK_CHECK(c.sample_rate > 0, "chunk sampler: sample rate must be positive, got ", c.sample_rate);
  require(to_samples(effective_min(c), c.sample_rate) >= 1, "--chunk_min_duration ", effective_min(c),
            " s is shorter than one sample at ", c.sample_rate, " Hz");
  require(c.per_label >= 1, "--per_label must be at least 1, got ", c.per_label);
  require(c.per_fold >= 1, "--per_fold must be at least 1, got ", c.per_fold);
  require(std::isfinite(c.per_epoch) && c.per_epoch >= 0, "--per_epoch must be 0 (the whole data) or a positive "
            "number of days, got ", c.per_epoch);
  require(std::isfinite(c.label_min_duration) && c.label_min_duration >= 0,
            "--label_min_duration must be 0 or more seconds, got ", c.label_min_duration);
}

ChunkSampler::ChunkSampler(const std::vector<int64_t>& labels, const std::vector<int64_t>& lengths,
                           ChunkSamplerConfig cfg)
    : cfg_(cfg), lengths_(lengths) {
  check_chunk_config(cfg_);
  SPK_CHECK(labels.size() == lengths.size(), "chunk sampler: ", labels.size(), " labels but ", lengths.size(),
            " lengths");
  SPK_CHECK(!labels.empty(), "chunk sampler: the training list is empty");
  max_samples_ = to_samples(cfg_.duration, cfg_.sample_rate);
  min_samples_ = to_samples(effective_min(cfg_), cfg_.sample_rate);
  int64_t num_classes = 0, longest = 0;
  for (int64_t l : labels) {
    SPK_CHECK(l >= 0, "chunk sampler: negative label ", l);
    num_classes = std::max(num_classes, l + 1);
  }
  // Files longer than the longest chunk (pyannote: segments with s.duration > duration), per speaker.
  std::vector<Speaker> all(static_cast<size_t>(num_classes));
  for (size_t u = 0; u < labels.size(); ++u) {
    longest = std::max(longest, lengths[u]);
    if (lengths[u] < 0) continue;
    if (lengths[u] <= max_samples_) {
      ++short_files_;
      continue;
    }
    Speaker& s = all[size_t(labels[u])];
    s.cumlen.push_back((s.cumlen.empty() ? 0 : s.cumlen.back()) + lengths[u]);
    s.files.push_back(int64_t(u));
  }
  require(longest > max_samples_, "--chunk_duration ", cfg_.duration,
            " s is not shorter than any file of the training list (the longest has ", double(longest) / cfg_.sample_rate,
            " s); chunks are cut from files longer than --chunk_duration");
  int64_t with_files = 0;
  for (int64_t k = 0; k < num_classes; ++k) {
    Speaker& s = all[size_t(k)];
    if (s.files.empty()) continue;
    ++with_files;
    const double seconds = double(s.cumlen.back()) / cfg_.sample_rate;
    if (seconds < cfg_.label_min_duration) {
      ++dropped_speakers_;
      continue;
    }
    kept_files_ += int64_t(s.files.size());
    kept_seconds_ += seconds;
    speakers_.push_back(k);
    data_.push_back(std::move(s));
  }
  require(int64_t(speakers_.size()) >= cfg_.per_fold, "--per_fold ", cfg_.per_fold, " needs that many speakers in "
            "every batch, but only ", speakers_.size(), " speakers qualify (", with_files, " have files longer than "
            "--chunk_duration ", cfg_.duration, " s, ", dropped_speakers_, " of them with less than --label_min_duration ",
            cfg_.label_min_duration, " s of such audio); ",
            speakers_.empty() ? std::string("lower --label_min_duration or --chunk_duration")
                              : "use --per_fold <= " + std::to_string(speakers_.size()) +
                                    " or lower --label_min_duration");
  const double per_epoch_s = cfg_.per_epoch > 0 ? cfg_.per_epoch * 24 * 60 * 60 : kept_seconds_;
  const double per_batch_s = 0.5 * (effective_min(cfg_) + cfg_.duration) * double(cfg_.per_fold * cfg_.per_label);
  num_batches_ = std::max<int64_t>(1, int64_t(std::ceil(per_epoch_s / per_batch_s)));
}

ChunkEpochPlan ChunkSampler::plan_epoch(int64_t epoch) const {
  Rng rng = Rng(cfg_.seed).fork(uint64_t(epoch)).fork(kChunkPlanStream);
  const int64_t S = int64_t(speakers_.size());
  std::vector<int64_t> order(static_cast<size_t>(S));   // positions into speakers_ / data_
  std::iota(order.begin(), order.end(), int64_t(0));
  shuffle(order, rng);
  size_t pos = 0;
  std::vector<char> in_batch(static_cast<size_t>(S), 0);
  ChunkEpochPlan plan;
  plan.batches.resize(size_t(num_batches_));
  for (ChunkBatch& batch : plan.batches) {
    batch.samples = min_samples_ + int64_t(std::floor(rng.uniform() * double(max_samples_ - min_samples_ + 1)));
    batch.samples = std::min(batch.samples, max_samples_);
    std::vector<int64_t> chosen;
    while (int64_t(chosen.size()) < cfg_.per_fold) {
      if (pos == order.size()) {
        // A new walk: reshuffle; the speakers already in this batch go last (stable), so none comes twice.
        shuffle(order, rng);
        std::stable_partition(order.begin(), order.end(), [&](int64_t s) { return !in_batch[size_t(s)]; });
        pos = 0;
      }
      const int64_t s = order[pos++];
      in_batch[size_t(s)] = 1;
      chosen.push_back(s);
    }
    for (int64_t s : chosen) in_batch[size_t(s)] = 0;
    batch.items.resize(chosen.size());
    for (size_t i = 0; i < chosen.size(); ++i) {
      const Speaker& sp = data_[size_t(chosen[i])];
      ChunkItem& item = batch.items[i];
      item.label = speakers_[size_t(chosen[i])];
      item.chunks.resize(size_t(cfg_.per_label));
      for (ChunkPick& pick : item.chunks) {
        // A file with probability proportional to its length, then a uniform start inside it.
        const int64_t r = rng.randint(0, sp.cumlen.back());
        const size_t f = size_t(std::upper_bound(sp.cumlen.begin(), sp.cumlen.end(), r) - sp.cumlen.begin());
        pick.utterance = sp.files[f];
        pick.start = rng.randint(0, lengths_[size_t(pick.utterance)] - batch.samples + 1);
      }
    }
  }
  return plan;
}

std::vector<int64_t> utterance_lengths(const std::vector<std::string>& paths, int sample_rate, bool skip_bad) {
  std::vector<int64_t> out(paths.size(), -1);
  for (size_t i = 0; i < paths.size(); ++i) {
    try {
      const AudioInfo info = audio_info(paths[i]);
      out[i] = info.sample_rate == sample_rate
                   ? info.frames
                   : int64_t(double(info.frames) * double(sample_rate) / double(info.sample_rate));
    } catch (const Error& e) {
      if (!skip_bad) SPK_FAIL("chunk sampler: training file '", paths[i], "': ", e.what());
    }
  }
  return out;
}

std::vector<int64_t> utterance_lengths(const TrainList& list, int sample_rate, bool skip_bad) {
  if (list.segments.empty()) return utterance_lengths(list.paths, sample_rate, skip_bad);
  std::vector<int64_t> out(list.paths.size(), -1);
  std::map<std::string, AudioInfo> infos;
  for (size_t i = 0; i < list.paths.size(); ++i) {
    auto it = infos.find(list.paths[i]);
    if (it == infos.end()) {
      try {
        it = infos.emplace(list.paths[i], audio_info(list.paths[i])).first;
      } catch (const Error& e) {
        if (!skip_bad) SPK_FAIL("chunk sampler: training file '", list.paths[i], "': ", e.what());
        continue;
      }
    }
    const AudioInfo& info = it->second;
    const auto [first, last] = segment_frames(list.segments[i], info.sample_rate);
    const int64_t frames = last - first;
    out[i] = info.sample_rate == sample_rate ? frames
                                             : int64_t(double(frames) * double(sample_rate) / double(info.sample_rate));
  }
  return out;
}

void read_segment_chunk(const std::string& path, const Segment& seg, int64_t start, int64_t count, int sample_rate,
                        float* out) {
  AudioReader in(path);
  const auto [first, last] = segment_frames(seg, in.sample_rate());
  SPK_CHECK(first >= 0 && last > first && last <= in.frames(), "audio file '", path, "': segment [", seg.start, ", ",
            seg.end, ") s is frames [", first, ", ", last, ") of a file of ", in.frames(), " frames");
  if (in.sample_rate() == sample_rate) {
    SPK_CHECK(start >= 0 && start + count <= last - first, "audio file '", path, "': chunk [", start, ", ",
              start + count, ") outside its segment of ", last - first, " samples");
    in.read_mono(first + start, count, out);
    return;
  }
  std::vector<float> x(static_cast<size_t>(last - first));
  in.read_mono(first, last - first, x.data());
  x = resample(x.data(), last - first, in.sample_rate(), sample_rate);
  SPK_CHECK(int64_t(x.size()) >= count, "audio file '", path, "': segment of ", x.size(), " samples after resampling to ",
            sample_rate, " Hz, fewer than the chunk's ", count);
  const int64_t s = std::min(start, int64_t(x.size()) - count);
  std::copy(x.begin() + s, x.begin() + s + count, out);
}

void read_chunk(const std::string& path, int64_t start, int64_t count, int sample_rate, float* out) {
  AudioReader in(path);
  if (in.sample_rate() == sample_rate) {
    in.read_mono(start, count, out);
    return;
  }
  const std::vector<float> x = in.read_all(sample_rate);
  SPK_CHECK(int64_t(x.size()) >= count, "audio file '", path, "': ", x.size(), " samples after resampling to ",
            sample_rate, " Hz, fewer than the chunk's ", count);
  const int64_t s = std::min(start, int64_t(x.size()) - count);
  std::copy(x.begin() + s, x.begin() + s + count, out);
}

}  // namespace spk::audio
