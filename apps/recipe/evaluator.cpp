// The evaluator (see evaluator.h).
//
// Files arrive in list order from the EvalReader's worker threads. Consecutive files whose crops have the same
// length are collected until the next one would take the group past max_batch_rows rows; the group's crops are
// then one (R, L) waveform batch. A single file with more crops than max_batch_rows is split into passes of
// max_batch_rows rows. Because the reader keeps list order, a group's rows are contiguous in the flattened
// (F·n, D) output, so each pass copies its embeddings straight into place.
#include "apps/recipe/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "engine/audio/crop.h"
#include "engine/audio/fbank.h"
#include "engine/audio/loader.h"
#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/check.h"
#include "engine/cpu_threads.h"
#include "engine/ops.h"

namespace spk::recipe {

namespace {

// Files in [first, last) of paths, for messages: one name, or the first and a count.
std::string name_files(const std::vector<std::string>& paths, int64_t first, int64_t last) {
  if (last - first == 1) return "file '" + paths[size_t(first)] + "'";
  return detail::cat("files '", paths[size_t(first)], "' ... '", paths[size_t(last - 1)], "' (", last - first,
                     " files)");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Device model_device(const SpeakerNet& model) {
  for (const auto& [name, t] : model.state()) return t.device();
  return Device::cpu();
}

void check_embed_settings(const EmbedSettings& s, const FrontEnd& frontend, const SpeakerNet& model) {
  SPK_CHECK(s.eval_frames >= 0, "--eval_frames must be >= 0 (0 = the whole file), got ", s.eval_frames);
  SPK_CHECK(s.num_eval >= 1, "--num_eval must be >= 1, got ", s.num_eval);
  SPK_CHECK(s.num_workers >= 0, "--nDataLoaderThread must be >= 0, got ", s.num_workers);
  SPK_CHECK(s.jobs >= 1, "--eval_jobs must be >= 1, got ", s.jobs);
  SPK_CHECK(s.max_batch_rows >= 1, "evaluation batch (max_batch_rows) must be >= 1, got ", s.max_batch_rows);
  SPK_CHECK(s.sample_rate > 0, "sample rate must be positive, got ", s.sample_rate);
  const FbankConfig& fbank = frontend.fbank;
  const std::string err = frontend.error();
  SPK_CHECK(err.empty(), "front end: ", err);
  SPK_CHECK(frontend.width() == model.n_mels(), "front end gives ", frontend.width(),
            frontend.is_mfcc ? " cepstra (--n_ceps)" : " mel bands", " but model ", model.name(),
            " expects --n_mels ", model.n_mels());
  SPK_CHECK(double(s.sample_rate) == fbank.sample_rate, "front end is configured for ", fbank.sample_rate,
            " Hz but files are read at ", s.sample_rate, " Hz");
  if (s.eval_frames > 0) {
    const std::string len_err = fbank_length_error(fbank, audio::max_audio_samples(s.eval_frames));
    SPK_CHECK(len_err.empty(), "--eval_frames ", s.eval_frames, ": ", len_err);
  }
}

namespace {

// Consecutive files whose crops share one length: one (R, L) waveform batch.
struct Group {
  int64_t first = 0, rows = 0;
  std::vector<Tensor> wavs;   // per file (rows, L), cpu
};

// The group's embeddings, one forward pass per max_batch_rows rows, copied into out's rows [first, first + k):
// rows of different groups never overlap, so concurrent calls write disjoint memory.
void embed_group(SpeakerNet& model, const FrontEnd& frontend, const EmbedSettings& s,
                 const std::vector<std::string>& paths, const Group& g, Tensor& out) {
  const int64_t k = int64_t(g.wavs.size()), n = out.size(1), D = out.size(2);
  try {
    Tensor wav = k == 1 ? g.wavs[0] : concat(g.wavs, 0);   // (R, L) cpu
    wav = wav.to(out.device());
    std::vector<Tensor> parts;
    for (int64_t r0 = 0; r0 < g.rows; r0 += s.max_batch_rows) {
      const int64_t r1 = std::min(g.rows, r0 + s.max_batch_rows);
      Tensor rows = (r0 == 0 && r1 == g.rows) ? wav : slice(wav, 0, r0, r1);
      Tensor feats = frontend.features(rows.contiguous());
      const AutocastGuard autocast(s.autocast);   // per thread, as the grad mode
      parts.push_back(model.forward(feats));   // (r, D)
    }
    Tensor emb = parts.size() == 1 ? parts[0] : concat(parts, 0);   // (R, D)
    SPK_CHECK(emb.dim() == 2 && emb.size(0) == g.rows && emb.size(1) == D, "model ", model.name(), " returned ",
              emb.str(), " for ", g.rows, " crops; expected (", g.rows, ", ", D, ")");
    if (s.mean_over_crops && s.eval_frames > 0) emb = mean(reshape(emb, {k, s.num_eval, D}), {1});   // (k, D)
    Tensor dst = slice(out, 0, g.first, g.first + k);   // (k, n, D), contiguous
    dst.copy_(reshape(emb, {k, n, D}));
  } catch (const Error& e) {
    throw Error(detail::cat("embedding ", name_files(paths, g.first, g.first + k), ": ", e.what()));
  }
}

// Reads every file in list order and hands out groups: a file joins the current group while its crops have the
// group's length and the group stays within max_batch_rows rows. emit(Group&&) returns false to stop reading.
template <class Emit>
void read_groups(const std::vector<std::string>& paths, const EmbedSettings& s, Emit emit) {
  audio::EvalConfig rc;
  rc.eval_frames = s.eval_frames;
  rc.num_eval = s.num_eval;
  rc.sample_rate = s.sample_rate;
  rc.num_workers = s.num_workers;
  audio::EvalReader reader(paths, rc);
  Group group;
  audio::EvalItem item;
  while (true) {
    bool more;
    try {
      more = reader.next(item);
    } catch (const Error& e) {
      throw Error(detail::cat("embed_files: ", e.what()));   // the reader's message names the file
    }
    if (!more) break;
    const int64_t rows = item.wav.size(0);
    const bool fits = group.wavs.empty() ||
                      (item.wav.size(1) == group.wavs[0].size(1) && group.rows + rows <= s.max_batch_rows);
    if (!fits) {
      if (!emit(std::move(group))) return;
      group = Group{};
    }
    if (group.wavs.empty()) group.first = item.index;
    group.wavs.push_back(item.wav);
    group.rows += rows;
  }
  if (!group.wavs.empty()) emit(std::move(group));
}

// spk_eval --eval_jobs: `jobs` threads embed the groups this thread reads. Each worker runs its kernels on its own
// thread alone (SingleThreadScope), so the cores split by file, which scales where one whole utterance's convs
// are too small to split well. A worker's error stops the reading and the other workers; the first one is
// rethrown here after every thread has joined. Returns the number of files embedded.
template <class Read, class Embed>
int64_t embed_groups_parallel(int jobs, int64_t F, const EvalProgress& progress, Read read, Embed embed) {
  std::mutex mu;
  std::condition_variable can_pop, can_push;
  std::deque<Group> queue;
  const size_t cap = size_t(2 * jobs);   // decoded files waiting: bounded, as the reader's own queue is
  bool read_all = false, failed = false;
  std::exception_ptr error;
  int64_t done = 0;
  auto fail = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error = e;
    failed = true;
    can_pop.notify_all();
    can_push.notify_all();
  };
  auto worker = [&] {
    SingleThreadScope one_thread;
    NoGradGuard no_grad;   // the grad mode is per thread
    while (true) {
      Group g;
      {
        std::unique_lock<std::mutex> lock(mu);
        can_pop.wait(lock, [&] { return failed || read_all || !queue.empty(); });
        if (failed || queue.empty()) return;
        g = std::move(queue.front());
        queue.pop_front();
      }
      can_push.notify_one();
      try {
        embed(g);
      } catch (...) {
        fail(std::current_exception());
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      done += int64_t(g.wavs.size());
      if (progress) progress(done, F);
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  try {
    read([&](Group&& g) {
      std::unique_lock<std::mutex> lock(mu);
      can_push.wait(lock, [&] { return failed || queue.size() < cap; });
      if (failed) return false;
      queue.push_back(std::move(g));
      can_pop.notify_one();
      return true;
    });
  } catch (...) {
    fail(std::current_exception());
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    read_all = true;
  }
  can_pop.notify_all();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return done;
}

}  // namespace

Tensor embed_files(SpeakerNet& model, const FrontEnd& frontend, const std::vector<std::string>& paths,
                   const EmbedSettings& s, const EvalProgress& progress) {
  check_embed_settings(s, frontend, model);
  const int64_t F = int64_t(paths.size());
  const int64_t n = (s.eval_frames == 0 || s.mean_over_crops) ? 1 : s.num_eval;
  const Device device = model_device(model);
  Tensor out = Tensor::empty({F, n, model.embedding_dim()}, DType::f32, device);
  if (F == 0) return out;

  EvalModeGuard mode(model);
  int64_t done = 0;
  if (s.jobs > 1 && device.is_cpu()) {
    done = embed_groups_parallel(s.jobs, F, progress, [&](auto emit) { read_groups(paths, s, emit); },
                                 [&](const Group& g) { embed_group(model, frontend, s, paths, g, out); });
  } else {
    NoGradGuard no_grad;
    read_groups(paths, s, [&](Group&& g) {
      embed_group(model, frontend, s, paths, g, out);
      done = g.first + int64_t(g.wavs.size());
      if (progress) progress(done, F);
      return true;
    });
  }
  SPK_CHECK(done == F, "embed_files: the reader gave ", done, " of ", F, " files");
  return out;
}

std::vector<TrialPair> trial_pairs(const audio::TrialList& trials) {
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < trials.files.size(); ++i) index.emplace(trials.files[i], int64_t(i));
  std::vector<TrialPair> pairs;
  pairs.reserve(trials.trials.size());
  for (const audio::Trial& t : trials.trials) {
    auto a = index.find(t.enroll), b = index.find(t.test);
    SPK_CHECK(a != index.end() && b != index.end(), "trial list ", trials.source, ": '", t.enroll, "' or '", t.test,
              "' is missing from its file list");
    pairs.push_back({a->second, b->second});
  }
  return pairs;
}

std::vector<int> trial_labels(const audio::TrialList& trials) {
  std::vector<int> labels;
  labels.reserve(trials.trials.size());
  for (const audio::Trial& t : trials.trials) labels.push_back(t.label);
  return labels;
}

std::vector<double> score_trials(const Tensor& crops, const std::vector<TrialPair>& pairs, const std::string& scoring,
                                 bool test_normalize) {
  SPK_CHECK(crops.defined() && crops.dim() == 3, "score_trials: expected crop embeddings (F, n, D), got ",
            crops.defined() ? crops.str() : "undefined");
  if (scoring == "vt") return vt_scores(crops, pairs, test_normalize);
  if (scoring == "cosine") {
    NoGradGuard ng;
    return cosine_scores(mean(crops, {1}), pairs);   // the mean over crops: utterance_embedding per file
  }
  SPK_FAIL("scoring must be vt or cosine, got '", scoring, "'");
}

TrialEvalResult evaluate_trials_at(SpeakerNet& model, const FrontEnd& frontend, const audio::TrialList& trials,
                                   const std::vector<std::string>& paths, const TrialEvalSettings& s,
                                   const EvalProgress& progress) {
  SPK_CHECK(s.scoring == "vt" || s.scoring == "cosine", "scoring must be vt or cosine, got '", s.scoring, "'");
  SPK_CHECK(paths.size() == trials.files.size(), "evaluate_trials: ", paths.size(), " paths for ",
            trials.files.size(), " files of trial list ", trials.source);
  SPK_CHECK(!trials.trials.empty(), "trial list ", trials.source, " has no trials");
  check_embed_settings(s.embed, frontend, model);
  TrialEvalResult r;
  const std::vector<TrialPair> pairs = trial_pairs(trials);
  r.labels = trial_labels(trials);

  auto t0 = std::chrono::steady_clock::now();
  r.crops = s.embed_fn ? s.embed_fn(model, frontend, paths, s.embed, progress)
                       : embed_files(model, frontend, paths, s.embed, progress);
  r.embed_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  r.scores = score_trials(r.crops, pairs, s.scoring, s.test_normalize);
  r.has_metrics = trials.labelled();
  if (r.has_metrics) r.metrics = compute_metrics(r.scores, r.labels);
  r.score_seconds = seconds_since(t0);
  return r;
}

namespace {
// JSON has no infinities: sklearn's first ROC threshold (+inf) is written as null.
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

nlohmann::json min_dcf_json(const MinDcf& d) {
  return {{"min_dcf", d.min_dcf}, {"threshold", num(d.threshold)}, {"p_target", d.p_target}, {"c_miss", d.c_miss},
          {"c_fa", d.c_fa}};
}

nlohmann::json metrics_json(const MetricsReport& m) {
  nlohmann::json j;
  j["n_target"] = m.n_target;
  j["n_nontarget"] = m.n_nontarget;
  j["vt_eer"] = m.vt.eer;
  j["vt_eer_threshold"] = num(m.vt.at_eer.threshold);
  j["vt_eer_fpr"] = m.vt.at_eer.fpr;
  j["vt_eer_fnr"] = m.vt.at_eer.fnr;
  // The thresholds at FAR 1 % and 0.1 % (vt_eer's default targets), keyed by the target rate.
  const char* far_keys[] = {"0.01", "0.001"};
  nlohmann::json far = nlohmann::json::object();
  for (size_t i = 0; i < m.vt.at_far.size() && i < 2; ++i)
    far[far_keys[i]] = {{"threshold", num(m.vt.at_far[i].threshold)}, {"fpr", m.vt.at_far[i].fpr},
                        {"fnr", m.vt.at_far[i].fnr}};
  j["vt_threshold_at_far"] = far;
  j["interpolated_eer"] = m.interpolated.eer;
  j["interpolated_eer_threshold"] = num(m.interpolated.threshold);
  j["min_dcf_p0.05"] = min_dcf_json(m.dcf_p05);
  j["min_dcf_p0.01"] = min_dcf_json(m.dcf_p01);
  return j;
}

TrialEvalResult evaluate_trials(SpeakerNet& model, const FrontEnd& frontend, const audio::TrialList& trials,
                                const std::string& test_path, const TrialEvalSettings& s,
                                const EvalProgress& progress) {
  std::vector<std::string> paths;
  paths.reserve(trials.files.size());
  for (const std::string& key : trials.files) paths.push_back(audio::join_path(test_path, key));
  return evaluate_trials_at(model, frontend, trials, paths, s, progress);
}

}  // namespace spk::recipe
