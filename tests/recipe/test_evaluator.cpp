// The evaluator: embed_files against the model run by hand on the reader's crops (one file per pass, as
// voxceleb_trainer), batching and worker counts that must not change results, the model's mode, the scores of
// evaluate_trials against scoring.h on the same embeddings, and errors that name the file or setting.
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/recipe/evaluator.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/crop.h"
#include "engine/audio/fbank.h"
#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "nets/model.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;
using spk::test::expect_close;

namespace {

// A small stand-in for a SpeakerNet: [mean over time of relu(features), the first frame] (the features are
// instance-normalised, so a plain mean over time would be 0), then tanh(W x + b), doubled in training mode (so a
// forward in the wrong mode shows). Needs >= 5 frames, like a real net needs some.
class TinyNet : public SpeakerNet {
 public:
  TinyNet(int64_t n_mels, int64_t d) : SpeakerNet(n_mels, d) {
    Rng rng(7);
    w_ = register_parameter("w", Tensor::uniform({d, 2 * n_mels}, rng, -0.5, 0.5));
    b_ = register_parameter("b", Tensor::uniform({d}, rng, -0.1, 0.1));
  }
  Tensor forward(const Tensor& feats) override {
    check_input(feats, 5);
    ++calls;
    for (int64_t m = max_rows; m < feats.size(0) && !max_rows.compare_exchange_weak(m, feats.size(0));) {
    }
    if (is_training()) saw_training = true;
    if (grad_enabled()) saw_grad = true;
    Tensor x = concat({mean(relu(feats), {2}), squeeze(slice(feats, 2, 0, 1), 2)}, 1);   // (B, 2·n_mels)
    Tensor y = tanh(linear(x, w_, b_));
    return is_training() ? mul_scalar(y, 2) : y;
  }
  std::string name() const override { return "TinyNet"; }

  // Atomic: with --eval_jobs several threads run forward at once.
  std::atomic<int64_t> calls = 0, max_rows = 0;
  std::atomic<bool> saw_training = false, saw_grad = false;

 private:
  Tensor w_, b_;
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("spk_test_evaluator_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Noise-like test signal (a few sines of file-specific frequencies), so every crop differs.
std::vector<float> signal(int64_t n, int k) {
  std::vector<float> x(size_t(n), 0.f);
  for (int64_t i = 0; i < n; ++i)
    for (int h = 1; h <= 3; ++h)
      x[size_t(i)] += float(0.2 * std::sin(2 * M_PI * (110.0 * (k + 1) * h + 37 * i % 7) * double(i) / 16000.0));
  return x;
}

// Five files: 0.3 s, 0.9 s, 1.4 s, 2.5 s and 200 samples (shorter than any crop: wrap-padded).
struct Corpus {
  TempDir dir;
  std::vector<std::string> names{"a.wav", "sub/b.wav", "c.wav", "d.wav", "e.wav"};
  std::vector<std::string> paths;
  Corpus() {
    const int64_t lens[] = {4800, 14400, 22400, 40000, 200};
    std::filesystem::create_directories(dir.path / "sub");
    for (size_t i = 0; i < names.size(); ++i) {
      paths.push_back(dir.file(names[i]));
      audio::write_audio(paths.back(), signal(lens[i], int(i)), 16000);
    }
  }
};

FbankConfig tiny_fbank() { return fbank_preset("resnetse34l"); }   // 40 mels

// The model by hand on one file: the reader's crops (crop.h), the front end, one forward pass; (n, D).
Tensor by_hand(TinyNet& net, const std::string& path, int64_t eval_frames, int64_t num_eval) {
  NoGradGuard ng;
  const audio::EvalCrops c = audio::eval_crops(audio::read_audio(path, 16000), eval_frames, num_eval);
  return net.forward(fbank(Tensor::from_vector(c.data, {c.rows, c.cols}), tiny_fbank()));
}

EmbedSettings settings(int64_t eval_frames, int64_t num_eval, int64_t rows, int workers = 2) {
  EmbedSettings s;
  s.eval_frames = eval_frames;
  s.num_eval = num_eval;
  s.max_batch_rows = rows;
  s.num_workers = workers;
  return s;
}

}  // namespace

TEST_CASE("embed_files: shape and values equal the model run by hand on the reader's crops") {
  Corpus corpus;
  TinyNet net(40, 8);
  net.eval();
  Tensor e = embed_files(net, tiny_fbank(), corpus.paths, settings(20, 4, 64));
  REQUIRE(e.shape() == Shape{5, 4, 8});
  CHECK(e.dtype() == DType::f32);
  for (int64_t f = 0; f < 5; ++f)
    expect_close(slice(e, 0, f, f + 1), reshape(by_hand(net, corpus.paths[size_t(f)], 20, 4), {1, 4, 8}), 1e-6, 1e-6,
                 "file " + corpus.names[size_t(f)]);
  // 64 rows per pass: all 20 crops in one pass.
  CHECK(net.calls == 5 + 1);
  CHECK(net.max_rows == 20);
}

TEST_CASE("embed_files: batching across files and the worker count do not change the embeddings") {
  Corpus corpus;
  TinyNet net(40, 8);
  Tensor ref = embed_files(net, tiny_fbank(), corpus.paths, settings(20, 4, 1, 0));
  CHECK(net.max_rows == 1);
  CHECK(net.calls == 20);
  for (int64_t rows : {3, 4, 7, 64})
    for (int workers : {0, 1, 3}) {
      net.calls = 0, net.max_rows = 0;
      Tensor e = embed_files(net, tiny_fbank(), corpus.paths, settings(20, 4, rows, workers));
      CHECK(net.max_rows <= rows);
      expect_close(e, ref, 0, 0, "max_batch_rows " + std::to_string(rows) + ", workers " + std::to_string(workers));
    }
}

TEST_CASE("embed_files: eval_frames 0 embeds each whole file once; mean_over_crops keeps the crop mean") {
  Corpus corpus;
  TinyNet net(40, 8);
  net.eval();   // for by_hand
  // The 200-sample file gives too few frames for the net with eval_frames 0; leave it out here.
  std::vector<std::string> paths(corpus.paths.begin(), corpus.paths.begin() + 4);
  Tensor whole = embed_files(net, tiny_fbank(), paths, settings(0, 10, 64));
  REQUIRE(whole.shape() == Shape{4, 1, 8});
  for (int64_t f = 0; f < 4; ++f)
    expect_close(slice(whole, 0, f, f + 1), reshape(by_hand(net, paths[size_t(f)], 0, 10), {1, 1, 8}), 1e-6, 1e-6,
                 "whole file " + std::to_string(f));

  Tensor crops = embed_files(net, tiny_fbank(), corpus.paths, settings(20, 4, 6));
  EmbedSettings s = settings(20, 4, 6);
  s.mean_over_crops = true;
  Tensor means = embed_files(net, tiny_fbank(), corpus.paths, s);
  REQUIRE(means.shape() == Shape{5, 1, 8});
  expect_close(means, mean(crops, {1}, true), 1e-6, 1e-6, "mean over crops");
}

TEST_CASE("embed_files: eval mode and no autograd inside; the previous mode is restored, also on error") {
  Corpus corpus;
  TinyNet net(40, 8);
  net.train(true);
  Tensor e = embed_files(net, tiny_fbank(), corpus.paths, settings(20, 2, 64));
  CHECK(net.is_training());
  CHECK_FALSE(net.saw_training);
  CHECK_FALSE(net.saw_grad);
  CHECK(grad_enabled());
  CHECK_FALSE(e.requires_grad());

  net.eval();
  embed_files(net, tiny_fbank(), corpus.paths, settings(20, 2, 64));
  CHECK_FALSE(net.is_training());

  net.train(true);
  CHECK_THROWS_AS(embed_files(net, tiny_fbank(), {corpus.dir.file("nope.wav")}, settings(20, 2, 64)), Error);
  CHECK(net.is_training());
  CHECK(grad_enabled());
}

TEST_CASE("embed_files: progress is reported, in order, ending at (F, F)") {
  Corpus corpus;
  TinyNet net(40, 8);
  std::vector<std::pair<int64_t, int64_t>> calls;
  embed_files(net, tiny_fbank(), corpus.paths, settings(20, 4, 8),
              [&](int64_t done, int64_t total) { calls.emplace_back(done, total); });
  REQUIRE(calls.size() >= 2);
  for (size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first > calls[i - 1].first);
  CHECK(calls.back() == std::pair<int64_t, int64_t>{5, 5});
  // Empty list: an empty (0, n, D) tensor and no work.
  CHECK(embed_files(net, tiny_fbank(), {}, settings(20, 4, 8)).shape() == Shape{0, 4, 8});
}

TEST_CASE("embed_files: errors name the file or the setting") {
  Corpus corpus;
  TinyNet net(40, 8);
  std::vector<std::string> paths = corpus.paths;
  paths.insert(paths.begin() + 2, corpus.dir.file("missing.wav"));
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), paths, settings(20, 4, 64)), doctest::Contains("missing.wav"),
                       Error);
  // A corrupt file.
  { std::ofstream(corpus.dir.file("junk.wav")) << "not audio"; }
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), {corpus.dir.file("junk.wav")}, settings(20, 4, 64)),
                       doctest::Contains("junk.wav"), Error);
  // Whole-file evaluation of a 200-sample file: too few frames for the net; the message names the file.
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), {corpus.paths[4]}, settings(0, 1, 64)),
                       doctest::Contains("e.wav"), Error);
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), corpus.paths, settings(-1, 4, 64)),
                       doctest::Contains("--eval_frames"), Error);
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), corpus.paths, settings(20, 0, 64)),
                       doctest::Contains("num_eval"), Error);
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), corpus.paths, settings(20, 4, 0)),
                       doctest::Contains("max_batch_rows"), Error);
  TinyNet wide(64, 8);
  CHECK_THROWS_WITH_AS(embed_files(wide, tiny_fbank(), corpus.paths, settings(20, 4, 64)),
                       doctest::Contains("--n_mels 64"), Error);
}

TEST_CASE("evaluate_trials: scores equal vt_scores / cosine_scores on the embeddings; metrics from them") {
  Corpus corpus;
  const std::string list = corpus.dir.file("trials.txt");
  {
    std::ofstream o(list);
    o << "1 a.wav sub/b.wav\n0 a.wav c.wav\n1 c.wav d.wav\n0 d.wav sub/b.wav\n0 e.wav a.wav\n1 e.wav d.wav\n";
  }
  audio::TrialList trials = audio::read_trials(list);
  REQUIRE(trials.files.size() == 5);
  TinyNet net(40, 8);
  net.eval();   // for by_hand
  TrialEvalSettings s;
  s.embed = settings(20, 4, 64);

  for (bool norm : {true, false}) {
    s.test_normalize = norm;
    s.scoring = "vt";
    TrialEvalResult r = evaluate_trials(net, tiny_fbank(), trials, corpus.dir.path.string(), s);
    REQUIRE(r.crops.shape() == Shape{5, 4, 8});
    // The crops are those of trials.files joined to the test path, in that (sorted) order.
    std::vector<std::string> paths;
    for (const auto& f : trials.files) paths.push_back(audio::join_path(corpus.dir.path.string(), f));
    expect_close(r.crops, embed_files(net, tiny_fbank(), paths, s.embed), 0, 0, "crops");
    const std::vector<TrialPair> pairs = trial_pairs(trials);
    REQUIRE(pairs.size() == 6);
    // trials.files is sorted: a.wav, c.wav, d.wav, e.wav, sub/b.wav.
    CHECK(pairs[0].enrol == 0);
    CHECK(pairs[0].test == 4);
    const std::vector<double> ref = vt_scores(r.crops, pairs, norm);
    REQUIRE(r.scores.size() == 6);
    for (size_t i = 0; i < 6; ++i) CHECK(r.scores[i] == ref[i]);
    // And one by hand: the VT score of the first trial from the per-file crops.
    CHECK(r.scores[0] == doctest::Approx(vt_score(by_hand(net, paths[0], 20, 4), by_hand(net, paths[4], 20, 4), norm))
                             .epsilon(1e-5));
    CHECK(r.scores[0] < -0.01);   // the files differ
    REQUIRE(r.has_metrics);
    CHECK(r.labels == std::vector<int>{1, 0, 1, 0, 0, 1});
    const MetricsReport m = compute_metrics(ref, r.labels);
    CHECK(r.metrics.vt.eer == m.vt.eer);
    CHECK(r.metrics.interpolated.eer == m.interpolated.eer);
    CHECK(r.metrics.dcf_p05.min_dcf == m.dcf_p05.min_dcf);
    CHECK(r.metrics.dcf_p01.min_dcf == m.dcf_p01.min_dcf);
    CHECK(r.metrics.n_target == 3);
    CHECK(r.embed_seconds >= 0);
  }

  s.scoring = "cosine";
  TrialEvalResult c = evaluate_trials(net, tiny_fbank(), trials, corpus.dir.path.string(), s);
  const std::vector<double> ref = cosine_scores(mean(c.crops, {1}), trial_pairs(trials));
  for (size_t i = 0; i < 6; ++i) CHECK(c.scores[i] == ref[i]);
  // Trial 2 is c.wav (file 1) vs d.wav (file 2): the cosine of their mean crop embeddings.
  CHECK(c.scores[2] ==
        doctest::Approx(cosine_score(squeeze(slice(c.crops, 0, 1, 2), 0), squeeze(slice(c.crops, 0, 2, 3), 0)))
            .epsilon(1e-6));

  s.scoring = "plda";
  CHECK_THROWS_WITH_AS(evaluate_trials(net, tiny_fbank(), trials, corpus.dir.path.string(), s),
                       doctest::Contains("plda"), Error);
}

TEST_CASE("evaluate_trials: unlabelled lists give scores only; a missing file is named") {
  Corpus corpus;
  const std::string list = corpus.dir.file("unlabelled.txt");
  { std::ofstream(list) << "a.wav sub/b.wav\nc.wav d.wav\n"; }
  audio::TrialOptions opts;
  opts.allow_unlabelled = true;
  audio::TrialList trials = audio::read_trials(list, opts);
  TinyNet net(40, 8);
  TrialEvalSettings s;
  s.embed = settings(20, 2, 64);
  TrialEvalResult r = evaluate_trials(net, tiny_fbank(), trials, corpus.dir.path.string(), s);
  CHECK_FALSE(r.has_metrics);
  CHECK(r.scores.size() == 2);
  CHECK(r.labels == std::vector<int>{-1, -1});

  const std::string bad = corpus.dir.file("bad.txt");
  { std::ofstream(bad) << "1 a.wav gone.wav\n0 a.wav c.wav\n"; }
  CHECK_THROWS_WITH_AS(evaluate_trials(net, tiny_fbank(), audio::read_trials(bad), corpus.dir.path.string(), s),
                       doctest::Contains("gone.wav"), Error);
}

TEST_CASE("metrics_json: every figure of the report under its documented key") {
  const std::vector<double> scores{0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.75, 0.4};
  const std::vector<int> labels{1, 1, 1, 0, 0, 0, 0, 1};
  const MetricsReport m = compute_metrics(scores, labels);
  const nlohmann::json j = metrics_json(m);
  CHECK(j["n_target"] == 4);
  CHECK(j["n_nontarget"] == 4);
  CHECK(j["vt_eer"].get<double>() == m.vt.eer);
  CHECK(j["vt_eer_threshold"].get<double>() == m.vt.at_eer.threshold);
  CHECK(j["vt_eer_fpr"].get<double>() == m.vt.at_eer.fpr);
  CHECK(j["vt_eer_fnr"].get<double>() == m.vt.at_eer.fnr);
  CHECK(j["vt_threshold_at_far"]["0.01"]["fpr"].get<double>() == m.vt.at_far[0].fpr);
  CHECK(j["vt_threshold_at_far"]["0.001"]["fnr"].get<double>() == m.vt.at_far[1].fnr);
  CHECK(std::isinf(m.vt.at_far[0].threshold));   // no finite threshold has FAR nearer 1 % here
  CHECK(j["vt_threshold_at_far"]["0.01"]["threshold"].is_null());
  CHECK(j["interpolated_eer"].get<double>() == m.interpolated.eer);
  CHECK(j["interpolated_eer_threshold"].get<double>() == m.interpolated.threshold);
  CHECK(j["min_dcf_p0.05"]["min_dcf"].get<double>() == m.dcf_p05.min_dcf);
  CHECK(j["min_dcf_p0.05"]["p_target"].get<double>() == 0.05);
  CHECK(j["min_dcf_p0.01"]["min_dcf"].get<double>() == m.dcf_p01.min_dcf);
  CHECK(j["min_dcf_p0.01"]["threshold"].get<double>() == m.dcf_p01.threshold);
  // Round trip through text: the dump is valid JSON (an infinite threshold becomes null, not "inf").
  CHECK(nlohmann::json::parse(j.dump()) == j);
}

TEST_CASE("embed_files: eval_jobs embeds on several threads with the same embeddings; errors still name the file") {
  Corpus corpus;
  TinyNet net(40, 8);
  std::vector<std::string> many;   // 20 files, so every worker gets several groups
  for (int r = 0; r < 4; ++r) many.insert(many.end(), corpus.paths.begin(), corpus.paths.end());
  std::vector<std::string> whole(corpus.paths.begin(), corpus.paths.begin() + 4);   // e.wav: too short whole
  for (const int64_t eval_frames : {int64_t(20), int64_t(0)}) {
    const std::vector<std::string>& paths = eval_frames == 0 ? whole : many;
    const int64_t F = int64_t(paths.size());
    Tensor ref = embed_files(net, tiny_fbank(), paths, settings(eval_frames, 4, 3));
    for (const int jobs : {2, 3, 8}) {
      EmbedSettings s = settings(eval_frames, 4, 3);
      s.jobs = jobs;
      std::vector<std::pair<int64_t, int64_t>> calls;
      Tensor e = embed_files(net, tiny_fbank(), paths, s,
                             [&](int64_t done, int64_t total) { calls.emplace_back(done, total); });
      const std::string what = "eval_frames " + std::to_string(eval_frames) + ", jobs " + std::to_string(jobs);
      expect_close(e, ref, 1e-6, 1e-6, what);
      CHECK_FALSE(net.saw_training);
      CHECK_FALSE(net.saw_grad);
      REQUIRE_FALSE(calls.empty());
      for (size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first > calls[i - 1].first);
      CHECK(calls.back() == std::pair<int64_t, int64_t>{F, F});
    }
  }
  CHECK(grad_enabled());   // the workers' NoGradGuards were their own

  EmbedSettings s = settings(20, 4, 3);
  s.jobs = 3;
  std::vector<std::string> bad = many;
  bad.insert(bad.begin() + 11, corpus.dir.file("missing.wav"));
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), bad, s), doctest::Contains("missing.wav"), Error);
  EmbedSettings w = settings(0, 1, 64);   // a forward pass that fails on a worker: e.wav is too short whole
  w.jobs = 2;
  std::vector<std::string> with_short = many;
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), with_short, w), doctest::Contains("e.wav"), Error);
  s.jobs = 0;
  CHECK_THROWS_WITH_AS(embed_files(net, tiny_fbank(), many, s), doctest::Contains("--eval_jobs"), Error);
}

// spk_eval --mixedprec (EmbedSettings::autocast): the model's forward under autocast on each embedding thread, the
// front end in fp32, nothing left switched on afterwards. ResNetSE34L, so that convs and the SAP's products are
// rounded: the embeddings move by bf16 rounding (~1e-2 relative at most here, cosine > 0.999) but are not the
// fp32 ones, on one thread and on three.
TEST_CASE("embed_files: --mixedprec bf16 runs the model under autocast, per thread") {
  Corpus corpus;
  Rng rng(3);
  ModelConfig mc;
  mc.n_mels = 40;
  mc.nOut = 16;
  mc.encoder_type = "SAP";
  auto net = make_model("ResNetSE34L", mc, rng);
  std::vector<std::string> paths(corpus.paths.begin(), corpus.paths.begin() + 4);
  const Tensor ref = embed_files(*net, tiny_fbank(), paths, settings(20, 2, 4));
  for (const int jobs : {1, 3}) {
    EmbedSettings s = settings(20, 2, 4);
    s.autocast = DType::bf16;
    s.jobs = jobs;
    const Tensor e = embed_files(*net, tiny_fbank(), paths, s);
    CAPTURE(jobs);
    const std::vector<float> a = e.to_vector<float>(), b = ref.to_vector<float>();
    REQUIRE(a.size() == b.size());
    double dot = 0, na = 0, nb = 0, worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      dot += double(a[i]) * b[i];
      na += double(a[i]) * a[i];
      nb += double(b[i]) * b[i];
      worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
    }
    CHECK(worst > 0);                                  // rounded, not the fp32 run
    CHECK(dot / std::sqrt(na * nb) > 0.999);           // and only by rounding
    CHECK_FALSE(autocast_type().has_value());
  }
}
