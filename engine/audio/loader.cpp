// Training batches and evaluation crops on worker threads; layout, determinism and error policy in loader.h.
#include "engine/audio/loader.h"

#include <cstring>
#include <functional>

#include "engine/audio/chunk_sampler.h"
#include "engine/audio/crop.h"
#include "engine/check.h"
#include "engine/out_of_memory.h"
#include "engine/rng.h"

namespace spk::audio {

namespace {

// Labels, utterances and row order of a filled (M·N, L) batch; groups whose ok[n] is 0 (a bad file) are
// compacted away. label(n): group n's speaker; utterance(n, m): its crop m's training-list index.
template <class Label, class Utterance>
void pack_batch(Batch& batch, int64_t N, int64_t M, int64_t L, const std::vector<char>& ok, Label label,
                Utterance utterance) {
  const float* wav = batch.wav.data<float>();
  std::vector<int64_t> keep;
  for (int64_t n = 0; n < N; ++n)
    if (ok[size_t(n)]) keep.push_back(n);
  const int64_t K = int64_t(keep.size());
  batch.n = K;
  batch.skipped_groups = N - K;
  if (K < N) {
    Tensor packed = Tensor::empty({M * K, L}, DType::f32);
    float* dst = packed.data<float>();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k)
        std::memcpy(dst + (m * K + k) * L, wav + (m * N + keep[size_t(k)]) * L, size_t(L) * sizeof(float));
    batch.wav = packed;
  }
  std::vector<int64_t> labels(static_cast<size_t>(K));
  batch.utterances.resize(size_t(M * K));
  for (int64_t k = 0; k < K; ++k) {
    labels[size_t(k)] = label(keep[size_t(k)]);
    for (int64_t m = 0; m < M; ++m) batch.utterances[size_t(m * K + k)] = utterance(keep[size_t(k)], m);
  }
  batch.labels = Tensor::from_vector(labels, {K});
}

}  // namespace

TrainLoader::TrainLoader(TrainList list, LoaderConfig cfg) : list_(std::move(list)), cfg_(std::move(cfg)) {
  SPK_CHECK(cfg_.max_frames >= 1, "loader: --max_frames must be >= 1, got ", cfg_.max_frames);
  SPK_CHECK(cfg_.num_workers >= 0, "loader: --nDataLoaderThread must be >= 0, got ", cfg_.num_workers);
  SPK_CHECK(cfg_.sample_rate > 0, "loader: sample rate must be positive, got ", cfg_.sample_rate);
  SPK_CHECK(list_.paths.size() == list_.labels.size(), "loader: list has ", list_.paths.size(), " paths but ",
            list_.labels.size(), " labels");
  SPK_CHECK(list_.segments.empty() || list_.segments.size() == list_.paths.size(), "loader: list has ",
            list_.paths.size(), " paths but ", list_.segments.size(), " segments");
}

TrainLoader::~TrainLoader() { stop(); }

void TrainLoader::stop() {
  if (pipe_) pipe_->stop();
  pipe_.reset();
}

void TrainLoader::start_epoch(int64_t epoch) {
  stop();
  if (cfg_.chunks) chunk_plan_ = cfg_.chunks->plan_epoch(epoch);
  else if (cfg_.views) view_plan_ = cfg_.views->plan_epoch(epoch);
  else plan_ = plan_epoch(list_.labels, cfg_.sampler, epoch);
  const int64_t depth = cfg_.prefetch_batches > 0 ? cfg_.prefetch_batches : 2 * std::max(cfg_.num_workers, 1);
  pipe_ = std::make_unique<OrderedPipeline<Batch>>(num_batches(), cfg_.num_workers, depth, [this, epoch](int64_t b) {
    return cfg_.chunks ? make_chunk_batch(epoch, b) : cfg_.views ? make_view_batch(epoch, b) : make_batch(epoch, b);
  });
}

bool TrainLoader::next(Batch& out) {
  if (!pipe_) return false;
  while (pipe_->next(out)) {
    if (out.n > 0 || cfg_.keep_empty_batches) return true;   // else a batch whose every group was bad is skipped
  }
  return false;
}

void TrainLoader::note_bad(const std::string& what) {
  bad_count_.fetch_add(1);
  std::lock_guard<std::mutex> lock(bad_mutex_);
  if (bad_errors_.size() < 1000) bad_errors_.insert(what);
}

std::vector<std::string> TrainLoader::bad_file_errors() const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  return {bad_errors_.begin(), bad_errors_.end()};
}

bool TrainLoader::load_row(int64_t epoch, int64_t b, int64_t utterance, float* row, int64_t samples, Rng& rng,
                           const std::function<void()>& read) {
  try {
    read();
    if (cfg_.augment) cfg_.augment->augment(row, samples, rng);
    if (cfg_.noise) cfg_.noise->add(row, samples, rng);
    if (cfg_.view_augment) cfg_.view_augment->apply(row, samples, rng);
    return true;
  } catch (const OutOfMemoryError&) {
    throw;   // not the file's fault: never skipped, never reworded as a bad file
  } catch (const Error& e) {
    if (!cfg_.skip_bad_files)
      SPK_FAIL("loader: epoch ", epoch, " batch ", b, ", training utterance ", utterance, " '",
               list_.paths[size_t(utterance)], "': ", e.what());
    note_bad(e.what());
    return false;
  }
}

Tensor TrainLoader::acquire_buffer(const Shape& shape) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  for (const Tensor& t : pool_) {
    // Storage owned by the pool's handle alone: no batch, view or copy outside can still reach it, and nobody
    // can make a new one. Hand out a fresh handle (own autograd fields) on the same storage.
    if (t.impl().storage.use_count() == 1 && t.shape() == shape) return make_view(t, t.shape(), t.strides(), 0);
  }
  Tensor t = Tensor::empty(shape, DType::f32);
  const size_t cap = size_t(2 * std::max<int64_t>(cfg_.prefetch_batches, 2 * std::max(cfg_.num_workers, 1)) + 4);
  if (pool_.size() >= cap) return t;
  pool_.push_back(t);
  return make_view(t, t.shape(), t.strides(), 0);
}

Batch TrainLoader::assemble_batch(int64_t epoch, int64_t b, int64_t N, int64_t M, int64_t L, uint64_t seed,
                                  const std::function<uint64_t(int64_t)>& item_key,
                                  const std::function<int64_t(int64_t)>& label,
                                  const std::function<int64_t(int64_t, int64_t)>& utterance,
                                  const std::function<void(int64_t, int64_t, float*, Rng&)>& read) {
  Batch batch;
  batch.epoch = epoch;
  batch.index = b;
  batch.m = M;
  batch.samples = L;
  batch.wav = acquire_buffer({M * N, L});
  float* wav = batch.wav.data<float>();
  const Rng epoch_rng = Rng(seed).fork(uint64_t(epoch));
  std::vector<char> ok(size_t(N), 1);
  for (int64_t n = 0; n < N; ++n) {
    const Rng item_rng = epoch_rng.fork(item_key(n));
    for (int64_t m = 0; m < M; ++m) {
      float* row = wav + (m * N + n) * L;
      Rng rng = item_rng.fork(uint64_t(m));
      if (!load_row(epoch, b, utterance(n, m), row, L, rng, [&] { read(n, m, row, rng); })) {
        ok[size_t(n)] = 0;
        break;
      }
    }
  }
  pack_batch(batch, N, M, L, ok, label, utterance);
  return batch;
}

Batch TrainLoader::make_batch(int64_t epoch, int64_t b) {
  const int64_t N = cfg_.sampler.batch_size, L = max_audio_samples(cfg_.max_frames);
  auto item = [&](int64_t n) -> const SamplerItem& { return plan_.items[size_t(b * N + n)]; };
  auto utterance = [&](int64_t n, int64_t m) { return item(n).utterances[size_t(m)]; };
  return assemble_batch(
      epoch, b, N, cfg_.sampler.n_per_speaker, L, cfg_.sampler.seed,
      [&](int64_t n) { return uint64_t(plan_.positions[size_t(b * N + n)]); }, [&](int64_t n) { return item(n).label; },
      utterance, [&](int64_t n, int64_t m, float* row, Rng& rng) {
        const int64_t u = utterance(n, m);
        const std::string& path = list_.paths[size_t(u)];
        if (list_.segments.empty()) {
          train_crop_from_file(path, cfg_.max_frames, cfg_.sample_rate, rng, row);
        } else {
          const Segment& s = list_.segments[size_t(u)];
          random_crop_from_segment(path, s.start, s.end, L, cfg_.sample_rate, rng, row);
        }
      });
}

Batch TrainLoader::make_chunk_batch(int64_t epoch, int64_t b) {
  const int64_t g = b * chunk_shards() + (cfg_.sampler.global_batches ? cfg_.sampler.rank : 0);   // in the plan
  const ChunkBatch& cb = chunk_plan_.batches[size_t(g)];
  const int64_t N = int64_t(cb.items.size()), L = cb.samples;
  auto pick = [&](int64_t n, int64_t m) -> const ChunkPick& { return cb.items[size_t(n)].chunks[size_t(m)]; };
  return assemble_batch(
      epoch, b, N, cfg_.chunks->config().per_label, L, cfg_.chunks->config().seed,
      [&](int64_t n) { return uint64_t(g * N + n); }, [&](int64_t n) { return cb.items[size_t(n)].label; },
      [&](int64_t n, int64_t m) { return pick(n, m).utterance; }, [&](int64_t n, int64_t m, float* row, Rng&) {
        const ChunkPick& p = pick(n, m);
        const std::string& path = list_.paths[size_t(p.utterance)];
        if (list_.segments.empty()) read_chunk(path, p.start, L, cfg_.sample_rate, row);
        else read_segment_chunk(path, list_.segments[size_t(p.utterance)], p.start, L, cfg_.sample_rate, row);
      });
}

// --ssl: item n's views (two, then any local ones) are crops of one file at the planned starts, each augmented from
// its own stream.
Batch TrainLoader::make_view_batch(int64_t epoch, int64_t b) {
  const int64_t N = cfg_.views->config().batch_size, L = cfg_.views->max_audio();
  auto item = [&](int64_t n) -> const ViewItem& { return view_plan_.items[size_t(b * N + n)]; };
  Batch batch = assemble_batch(
      epoch, b, N, 2 + cfg_.views->config().local_views, L, cfg_.views->config().seed,
      [&](int64_t n) { return uint64_t(view_plan_.positions[size_t(b * N + n)]); }, [](int64_t n) { return n; },
      [&](int64_t n, int64_t) { return item(n).utterance; }, [&](int64_t n, int64_t m, float* row, Rng&) {
        // usable files are longer than L + 1: no padding
        read_chunk(list_.paths[size_t(item(n).utterance)], item(n).start[m], L, cfg_.sample_rate, row);
      });
  // Positional labels after any compaction: row k is utterance k of this batch (the pair losses' targets).
  std::vector<int64_t> pos(size_t(batch.n));
  for (int64_t k = 0; k < batch.n; ++k) pos[size_t(k)] = k;
  batch.labels = Tensor::from_vector(pos, {batch.n});
  return batch;
}

EvalReader::EvalReader(std::vector<std::string> paths, EvalConfig cfg) : paths_(std::move(paths)), cfg_(cfg) {
  SPK_CHECK(cfg_.eval_frames >= 0, "eval reader: --eval_frames must be >= 0, got ", cfg_.eval_frames);
  SPK_CHECK(cfg_.num_eval >= 1, "eval reader: num_eval must be >= 1, got ", cfg_.num_eval);
  SPK_CHECK(cfg_.num_workers >= 0, "eval reader: workers must be >= 0, got ", cfg_.num_workers);
  const int64_t depth = cfg_.prefetch > 0 ? cfg_.prefetch : 4 * std::max(cfg_.num_workers, 1);
  pipe_ = std::make_unique<OrderedPipeline<EvalItem>>(int64_t(paths_.size()), cfg_.num_workers, depth, [this](int64_t i) {
    EvalItem item;
    item.index = i;
    item.path = paths_[size_t(i)];
    const EvalCrops c = eval_crops(read_audio(item.path, cfg_.sample_rate), cfg_.eval_frames, cfg_.num_eval);
    item.wav = Tensor::from_vector(c.data, {c.rows, c.cols});
    return item;
  });
}

bool EvalReader::next(EvalItem& out) { return pipe_->next(out); }

}  // namespace spk::audio
