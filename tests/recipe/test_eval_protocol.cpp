// spk_eval's evaluation protocols (apps/recipe/eval_protocol.h): crop and window positions against hand-computed
// ones (short-file padding included), TaoRuijie's fused score against an independent double loop, the
// reductions, the embedding engine against per-row forward passes, and the built spk_eval under each protocol
// (eval, AS-norm, embed, pair, bad flags) on synthetic WAVs with a freshly initialised small model.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/embeddings_io.h"
#include "apps/recipe/eval_protocol.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/scoring.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/crop.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "losses/loss.h"
#include "nets/model.h"
#include "recipe/app_run.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;
using json = nlohmann::json;
using V = std::vector<int64_t>;

TEST_CASE("eval_protocol: names and seconds") {
  CHECK(parse_eval_protocol("voxceleb_trainer") == EvalProtocol::voxceleb_trainer);
  CHECK(parse_eval_protocol("taoruijie") == EvalProtocol::taoruijie);
  CHECK(parse_eval_protocol("sliding") == EvalProtocol::sliding);
  CHECK(std::string(eval_protocol_name(EvalProtocol::sliding)) == "sliding");
  try {
    parse_eval_protocol("pyannote");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("--eval_protocol: 'pyannote' is not one of") != std::string::npos);
  }
  CHECK(seconds_to_samples(3.0, 16000) == 48000);
  CHECK(seconds_to_samples(0.1, 16000) == 1600);
  CHECK(seconds_to_samples(0.00004, 16000) == 1);   // 0.64 samples rounds to 1
}

TEST_CASE("eval_protocol: TaoRuijie's crop starts, int(linspace(0, len' - 48240, 5)), len' = max(len, 48240)") {
  // len 100003: stop 51763, step 12940.75 -> 0, 12940, 25881.5, 38822.25, 51763.
  CHECK(taoruijie_crop_starts(100003, 48240, 5) == V{0, 12940, 25881, 38822, 51763});
  CHECK(taoruijie_crop_starts(100000, 48240, 5) == V{0, 12940, 25880, 38820, 51760});
  // Padded to exactly max_audio (not max_audio + 1 as voxceleb_trainer's loadWAV): every crop starts at 0.
  CHECK(taoruijie_crop_starts(30000, 48240, 5) == V{0, 0, 0, 0, 0});
  CHECK(taoruijie_crop_starts(48240, 48240, 5) == V{0, 0, 0, 0, 0});
  CHECK(audio::eval_crop_starts(30000, 48240, 5) == V{0, 0, 0, 0, 1});   // the VT rule differs here
  CHECK(taoruijie_crop_starts(48241, 48240, 5) == V{0, 0, 0, 0, 1});
  CHECK(taoruijie_crop_starts(48250, 48240, 3) == V{0, 5, 10});
  CHECK(taoruijie_crop_starts(50000, 48240, 1) == V{0});
}

TEST_CASE("eval_protocol: TaoRuijie's segments, the whole file then wrap-padded crops") {
  ProtocolSettings s;
  s.protocol = EvalProtocol::taoruijie;
  s.crop_samples = 10;
  s.num_crops = 3;
  // A 7-sample file: the whole file (7), then 3 crops of numpy.pad(x, (0, 3), 'wrap') = 1..7,1,2,3.
  const std::vector<float> shortf{1, 2, 3, 4, 5, 6, 7};
  auto g = plan_segments(shortf, s, ProtocolRows::scoring);
  REQUIRE(g.size() == 2);
  CHECK(g[0].rows == 1);
  CHECK(g[0].cols == 7);
  CHECK(g[0].data == shortf);
  CHECK(g[1].rows == 3);
  CHECK(g[1].cols == 10);
  const std::vector<float> padded{1, 2, 3, 4, 5, 6, 7, 1, 2, 3};
  for (int r = 0; r < 3; ++r)
    CHECK(std::vector<float>(g[1].data.begin() + r * 10, g[1].data.begin() + r * 10 + 10) == padded);
  // A 25-sample file 0..24: starts int(linspace(0, 15, 3)) = 0, 7, 15.
  std::vector<float> longf(25);
  for (int i = 0; i < 25; ++i) longf[size_t(i)] = float(i);
  g = plan_segments(longf, s, ProtocolRows::scoring);
  REQUIRE(g.size() == 2);
  CHECK(g[0].cols == 25);
  CHECK(g[1].data[0] == 0);
  CHECK(g[1].data[10] == 7);
  CHECK(g[1].data[20] == 15);
  CHECK(g[1].data[29] == 24);
  // Only the utterance: the crops are not cut.
  g = plan_segments(longf, s, ProtocolRows::utterance);
  REQUIRE(g.size() == 1);
  CHECK(g[0].cols == 25);
}

TEST_CASE("eval_protocol: pyannote's sliding windows with align_last, a short file as one window") {
  CHECK(sliding_window_starts(100, 30, 20) == V{0, 20, 40, 60, 70});   // 60 + 30 = 90 < 100: one more ending at 100
  CHECK(sliding_window_starts(90, 30, 20) == V{0, 20, 40, 60});        // the last regular one ends at 90
  CHECK(sliding_window_starts(30, 30, 20) == V{0});
  CHECK(sliding_window_starts(20, 30, 20) == V{0});
  CHECK(sliding_window_length(20, 30) == 20);
  CHECK(sliding_window_length(100, 30) == 30);
  // 3 s every 0.1 s at 16 kHz: a 5 s file has 21 windows (the last ends at 5 s); 5.05 s adds one at 2.05 s.
  V five = sliding_window_starts(80000, 48000, 1600);
  REQUIRE(five.size() == 21);
  CHECK(five.back() == 32000);
  V more = sliding_window_starts(80800, 48000, 1600);
  REQUIRE(more.size() == 22);
  CHECK(more[20] == 32000);
  CHECK(more[21] == 32800);

  ProtocolSettings s;
  s.protocol = EvalProtocol::sliding;
  s.window_samples = 4;
  s.step_samples = 3;
  std::vector<float> x{0, 1, 2, 3, 4, 5, 6, 7, 8};   // starts 0, 3, then 5 (ends at 9)
  auto g = plan_segments(x, s, ProtocolRows::scoring);
  REQUIRE(g.size() == 1);
  CHECK(g[0].rows == 3);
  CHECK(g[0].cols == 4);
  CHECK(g[0].data == std::vector<float>{0, 1, 2, 3, 3, 4, 5, 6, 5, 6, 7, 8});
  g = plan_segments({1, 2, 3}, s, ProtocolRows::scoring);   // shorter than a window: the whole file
  REQUIRE(g.size() == 1);
  CHECK(g[0].rows == 1);
  CHECK(g[0].data == std::vector<float>{1, 2, 3});
}

TEST_CASE("eval_protocol: reductions: taoruijie normalises every row, sliding averages unnormalised rows") {
  std::vector<float> e{3, 4, 0, 0, 1, 0};
  reduce_file_rows(e, 2, EvalProtocol::taoruijie, ProtocolRows::scoring);
  CHECK(e == std::vector<float>{0.6f, 0.8f, 0, 0, 1, 0});   // the zero row stays zero (eps 1e-12)
  e = {1, 2, 3, 6};
  reduce_file_rows(e, 2, EvalProtocol::sliding, ProtocolRows::scoring);
  CHECK(e == std::vector<float>{2, 4});
  e = {1, 2, 3, 6};
  reduce_file_rows(e, 2, EvalProtocol::sliding, ProtocolRows::all);
  CHECK(e == std::vector<float>{1, 2, 3, 6});
}

TEST_CASE("eval_protocol: TaoRuijie's fused score equals an independent double loop") {
  const int64_t F = 3, n = 4, D = 5;
  FileEmbeddings fe;
  fe.dim = D;
  for (int64_t f = 0; f < F; ++f) {
    std::vector<float> rows;
    for (int64_t i = 0; i <= n; ++i)
      for (int64_t k = 0; k < D; ++k) rows.push_back(float(std::sin(1.3 * double(f * 31 + i * 7 + k) + 0.2 * k)));
    reduce_file_rows(rows, D, EvalProtocol::taoruijie, ProtocolRows::scoring);
    fe.data.insert(fe.data.end(), rows.begin(), rows.end());
    fe.offsets.push_back(fe.offsets.back() + n + 1);
  }
  const std::vector<TrialPair> pairs{{0, 1}, {2, 0}, {1, 1}};
  const std::vector<double> got = taoruijie_scores(fe, pairs);
  REQUIRE(got.size() == 3);
  for (size_t t = 0; t < pairs.size(); ++t) {
    // score_1 = mean(matmul(full_a, full_b.T)) (1x1), score_2 = mean(matmul(crops_a, crops_b.T)) (n x n).
    auto dot = [&](int64_t fa, int64_t ia, int64_t fb, int64_t ib) {
      double s = 0;
      for (int64_t k = 0; k < D; ++k) s += double(fe.row(fa, ia)[k]) * double(fe.row(fb, ib)[k]);
      return s;
    };
    const double s1 = dot(pairs[t].enrol, 0, pairs[t].test, 0);
    double s2 = 0;
    for (int64_t i = 1; i <= n; ++i)
      for (int64_t j = 1; j <= n; ++j) s2 += dot(pairs[t].enrol, i, pairs[t].test, j);
    s2 /= double(n * n);
    CHECK(got[t] == doctest::Approx((s1 + s2) / 2).epsilon(1e-12));
  }
  CHECK(got[2] < 1.0);   // a file against itself: 1 for the full term, < 1 for distinct crops
  CHECK(fe.uniform().shape() == Shape{3, 5, 5});
  CHECK(fe.first_rows().shape() == Shape{3, 5});
}

namespace {

// Speaker k: harmonics of its own fundamental; utterance u shifts the phase and the level.
std::vector<float> tone(int k, int u, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  const double f0 = 130.0 + 50.0 * k;
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    for (int h = 1; h <= 4; ++h) v += std::sin(2 * M_PI * f0 * h * double(i) / 16000.0 + u * 0.8 * h) / h;
    x[size_t(i)] = float((0.15 + 0.05 * u) * v);
  }
  return x;
}

ModelConfig tiny_model_config() {
  ModelConfig mc;
  mc.n_mels = 40;
  mc.nOut = 16;
  mc.encoder_type = "SAP";
  return mc;
}

FrontEnd tiny_frontend() {
  RecipeConfig rc;
  rc.model = "ResNetSE34L";
  rc.frontend = "auto";
  rc.n_mels = 40;
  rc.log_input = true;
  return frontend_config(rc);
}

// Files and a checkpoint shared by the cases below; removed when the test binary exits.
struct ProtoFixture {
  fs::path dir;
  std::string ckpt, trials, cohort, wav;
  std::vector<std::string> rel;   // trial files, relative to wav
  std::shared_ptr<SpeakerNet> model;
  ProtoFixture() {
    dir = fs::temp_directory_path() / ("spk_test_eval_protocol_" + std::to_string(::getpid()));
    wav = (dir / "wav").string();
    fs::create_directories(dir / "wav");
    // Lengths around the crop / window sizes of the runs below (crop 3440 samples, window 4000 every 1600).
    const int64_t lens[3][2] = {{9000, 2500}, {12000, 3440}, {7000, 10401}};
    for (int k = 0; k < 3; ++k)
      for (int u = 0; u < 2; ++u) {
        rel.push_back("s" + std::to_string(k) + "_" + std::to_string(u) + ".wav");
        audio::write_audio((dir / "wav" / rel.back()).string(), tone(k, u, lens[k][u]), 16000);
      }
    trials = (dir / "trials.txt").string();
    std::ofstream(trials) << "1 s0_0.wav s0_1.wav\n0 s0_0.wav s1_0.wav\n1 s1_0.wav s1_1.wav\n"
                          << "0 s1_1.wav s2_0.wav\n1 s2_0.wav s2_1.wav\n0 s2_1.wav s0_1.wav\n";
    cohort = (dir / "cohort.txt").string();
    std::ofstream co(cohort);
    for (int k = 3; k < 6; ++k)
      for (int u = 0; u < 2; ++u) {
        const std::string c = "c" + std::to_string(k) + "_" + std::to_string(u) + ".wav";
        audio::write_audio((dir / "wav" / c).string(), tone(k, u, 6000 + 1000 * u), 16000);
        co << "id" << k << " " << c << "\n";
      }
    co.close();
    model = make_model("ResNetSE34L", tiny_model_config());
    LossConfig lc;
    lc.nOut = 16;
    lc.nClasses = 3;
    auto loss = make_loss("softmax", lc);
    Adam opt(training_parameters(*model, *loss), 0.001);
    TrainingState st;
    st.config = {{"model", "ResNetSE34L"}, {"nOut", 16}, {"n_mels", 40}, {"encoder_type", "SAP"},
                 {"trainfunc", "softmax"}, {"log_input", true}};
    st.speakers = audio::LabelMap::from_ids({"a", "b", "c"});
    ckpt = (dir / "model.safetensors").string();
    save_checkpoint(ckpt, *model, *loss, opt, st);
  }
  ~ProtoFixture() {
    if (std::getenv("SPK_TEST_KEEP")) return;
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string path(size_t i) const { return (dir / "wav" / rel[i]).string(); }
  std::vector<std::string> paths() const {
    std::vector<std::string> p;
    for (size_t i = 0; i < rel.size(); ++i) p.push_back(path(i));
    return p;
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

ProtoFixture& pfx() {
  static ProtoFixture f;
  return f;
}

// The model's embedding of one waveform row, computed alone.
std::vector<float> embed_row(SpeakerNet& m, const std::vector<float>& x) {
  NoGradGuard ng;
  m.eval();
  const Tensor e = m.forward(tiny_frontend().features(Tensor::from_vector(x, {1, int64_t(x.size())})));
  return e.to_vector<float>();
}

ProtocolSettings tao_settings() {
  ProtocolSettings s;
  s.protocol = EvalProtocol::taoruijie;
  s.crop_samples = audio::max_audio_samples(20);   // 3440
  s.num_crops = 5;
  return s;
}

ProtocolSettings sliding_settings() {
  ProtocolSettings s;
  s.protocol = EvalProtocol::sliding;
  s.window_samples = 4000;
  s.step_samples = 1600;
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("eval_protocol: embed_protocol_files equals per-row forward passes, whatever the batching") {
  ProtoFixture& f = pfx();
  SpeakerNet& m = *f.model;
  const std::vector<std::string> paths = f.paths();
  EmbedSettings es;
  es.num_workers = 1;
  for (const ProtocolSettings& ps : {tao_settings(), sliding_settings()}) {
    INFO(eval_protocol_name(ps.protocol));
    es.max_batch_rows = 64;
    const FileEmbeddings big = embed_protocol_files(m, tiny_frontend(), paths, ps, es, ProtocolRows::scoring);
    es.max_batch_rows = 1;
    const FileEmbeddings one = embed_protocol_files(m, tiny_frontend(), paths, ps, es, ProtocolRows::scoring);
    REQUIRE(big.files() == 6);
    REQUIRE(big.offsets == one.offsets);
    for (size_t i = 0; i < big.data.size(); ++i) CHECK(big.data[i] == doctest::Approx(one.data[i]).epsilon(1e-4));
    // File by file: the reference rows, each through the model alone, reduced by hand.
    for (int64_t fi = 0; fi < 6; ++fi) {
      const std::vector<float> x = audio::read_audio(paths[size_t(fi)]);
      const auto groups = plan_segments(x, ps, ProtocolRows::scoring);
      std::vector<std::vector<float>> rows;
      for (const auto& g : groups)
        for (int64_t r = 0; r < g.rows; ++r)
          rows.push_back(
              embed_row(m, std::vector<float>(g.data.begin() + r * g.cols, g.data.begin() + (r + 1) * g.cols)));
      if (ps.protocol == EvalProtocol::taoruijie) {
        REQUIRE(big.rows(fi) == 6);
        for (int64_t r = 0; r < 6; ++r) {
          double nrm = 0;
          for (float v : rows[size_t(r)]) nrm += double(v) * v;
          nrm = std::sqrt(nrm);
          for (int64_t k = 0; k < 16; ++k)
            CHECK(big.row(fi, r)[k] == doctest::Approx(rows[size_t(r)][size_t(k)] / nrm).epsilon(1e-4));
        }
      } else {
        REQUIRE(big.rows(fi) == 1);
        const V starts = sliding_window_starts(int64_t(x.size()), 4000, 1600);
        REQUIRE(rows.size() == starts.size());
        for (int64_t k = 0; k < 16; ++k) {
          double mean = 0;
          for (const auto& r : rows) mean += r[size_t(k)];
          mean /= double(rows.size());
          CHECK(big.row(fi, 0)[k] == doctest::Approx(mean).epsilon(1e-4));
        }
      }
    }
  }
  // The utterance rows only: taoruijie's whole-utterance row, the same as in the scoring rows.
  es.max_batch_rows = 64;
  const FileEmbeddings utt =
      embed_protocol_files(m, tiny_frontend(), paths, tao_settings(), es, ProtocolRows::utterance);
  const FileEmbeddings all = embed_protocol_files(m, tiny_frontend(), paths, tao_settings(), es, ProtocolRows::scoring);
  REQUIRE(utt.offsets.back() == 6);
  CHECK(utt.rows_embedded == 6);
  CHECK(all.rows_embedded == 36);
  for (int64_t fi = 0; fi < 6; ++fi)
    for (int64_t k = 0; k < 16; ++k) CHECK(utt.row(fi, 0)[k] == doctest::Approx(all.row(fi, 0)[k]).epsilon(1e-5));
  // Every window of sliding's rows, in order.
  const FileEmbeddings win = embed_protocol_files(m, tiny_frontend(), paths, sliding_settings(), es, ProtocolRows::all);
  CHECK(win.rows(0) == int64_t(sliding_window_starts(9000, 4000, 1600).size()));   // 5: 0, 1600, 3200, 4800, 5000
  CHECK(win.rows(1) == 1);                                                          // 2500 samples: one window
}

#ifdef SPK_EVAL_BINARY

namespace {

spk::test::AppRun run_eval(const std::string& args) { return spk::test::run_binary(SPK_EVAL_BINARY, args); }

std::string base_args(const ProtoFixture& f) {
  return "--initial_model " + f.ckpt + " --test_list " + f.trials + " --test_path " + f.wav +
         " --nDataLoaderThread 1";
}

}  // namespace

TEST_CASE("eval_protocol: spk_eval --eval_protocol taoruijie and sliding score as the library does") {
  ProtoFixture& f = pfx();
  const audio::TrialList tl = audio::read_trials(f.trials);
  std::vector<std::string> paths;
  for (const auto& k : tl.files) paths.push_back((fs::path(f.wav) / k).string());
  const std::vector<TrialPair> pairs = trial_pairs(tl);
  EmbedSettings es;
  es.num_workers = 1;

  // taoruijie: the fused score (primary) and the cosine of the whole-utterance embeddings.
  auto r = run_eval(base_args(f) + " --eval_protocol taoruijie --eval_frames 20 --json " + f.file("tao.json") + " --score_file " +
                    f.file("tao.txt"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  json j = json::parse(slurp(f.file("tao.json")));
  CHECK(j["eval_protocol"]["name"] == "taoruijie");
  CHECK(j["eval_protocol"]["crops"] == 5);
  CHECK(j["eval_protocol"]["crop_samples"] == 3440);
  CHECK(j["primary"] == "taoruijie");
  CHECK(j["rows_embedded"] == 36);
  CHECK(j["scores"].contains("cosine"));
  CHECK(r.output.find("whole file + 5 crops of 3440 samples") != std::string::npos);
  FileEmbeddings fe = embed_protocol_files(*f.model, tiny_frontend(), paths, tao_settings(), es, ProtocolRows::scoring);
  std::vector<double> want = taoruijie_scores(fe, pairs);
  std::vector<ScoreLine> lines = read_scores_vt(f.file("tao.txt"));
  REQUIRE(lines.size() == 6);
  for (size_t i = 0; i < 6; ++i) CHECK(lines[i].score == doctest::Approx(want[i]).epsilon(1e-5));

  // sliding: windows of 0.25 s every 0.1 s, averaged; the cosine of the means.
  r = run_eval(base_args(f) + " --eval_protocol sliding --window_duration 0.25 --window_step 0.1 --json " +
               f.file("sl.json") + " --score_file " + f.file("sl.txt"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  j = json::parse(slurp(f.file("sl.json")));
  CHECK(j["eval_protocol"]["name"] == "sliding");
  CHECK(j["eval_protocol"]["window_samples"] == 4000);
  CHECK(j["eval_protocol"]["step_samples"] == 1600);
  CHECK(j["primary"] == "sliding");
  CHECK_FALSE(j["scores"].contains("vt"));
  fe = embed_protocol_files(*f.model, tiny_frontend(), paths, sliding_settings(), es, ProtocolRows::scoring);
  want = cosine_scores(fe.first_rows(), pairs);
  lines = read_scores_vt(f.file("sl.txt"));
  REQUIRE(lines.size() == 6);
  for (size_t i = 0; i < 6; ++i) CHECK(lines[i].score == doctest::Approx(want[i]).epsilon(1e-5));
  int64_t windows = 0;
  for (const auto& p : paths)
    windows += int64_t(sliding_window_starts(int64_t(audio::read_audio(p).size()), 4000, 1600).size());
  CHECK(j["rows_embedded"] == windows);

  // The default is voxceleb_trainer's, and says so.
  r = run_eval(base_args(f) + " --eval_frames 20 --num_eval 2 --json " + f.file("vt.json"));
  REQUIRE(r.status == 0);
  j = json::parse(slurp(f.file("vt.json")));
  CHECK(j["eval_protocol"]["name"] == "voxceleb_trainer");
  CHECK(j["primary"] == "vt");
}

TEST_CASE("eval_protocol: spk_eval AS-norm, embed and pair modes under taoruijie and sliding") {
  ProtoFixture& f = pfx();
  EmbedSettings es;
  es.num_workers = 1;
  // AS-norm: the cohort's embeddings as the protocol's utterance embeddings; the normalised set is primary.
  for (const std::string proto : {"taoruijie", "sliding"}) {
    INFO(proto);
    const std::string crops = proto == "taoruijie" ? " --eval_frames 20" : " --window_duration 0.25";
    const auto r = run_eval(base_args(f) + crops + " --eval_protocol " + proto + " --score_norm asnorm --top_n 2" +
                            " --cohort_list " + f.cohort + " --cohort_path " + f.wav + " --json " + f.file("n.json"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    const json j = json::parse(slurp(f.file("n.json")));
    CHECK(j["primary"] == "asnorm");
    CHECK(j["cohort"]["speakers"] == 3);
    CHECK(j["scores"].contains(proto));
    CHECK(j["scores"].contains("cosine_mean_subtracted"));
  }

  // Embed: taoruijie's normalised whole-utterance embedding per file; with --embed_crops '#full' + 5 crops.
  std::vector<std::string> paths{f.path(0), f.path(3)};
  const std::string list = f.file("two.txt");
  std::ofstream(list) << f.rel[0] << "\n" << f.rel[3] << "\n";
  auto r = run_eval("--mode embed --initial_model " + f.ckpt + " --embed_list " + list + " --embed_path " + f.wav +
                    " --eval_frames 20 --eval_protocol taoruijie --embed_out " + f.file("e/tao"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  Embeddings e = read_embeddings_npy(f.file("e/tao.npy"), f.file("e/tao.index.txt"));
  REQUIRE(e.matrix.shape() == Shape{2, 16});
  FileEmbeddings ref =
      embed_protocol_files(*f.model, tiny_frontend(), paths, tao_settings(), es, ProtocolRows::scoring);
  const std::vector<double> got = e.matrix.to_double();
  for (int64_t k = 0; k < 16; ++k) CHECK(got[size_t(16 + k)] == doctest::Approx(ref.row(1, 0)[k]).epsilon(1e-5));
  r = run_eval("--mode embed --initial_model " + f.ckpt + " --embed_list " + list + " --embed_path " + f.wav +
               " --eval_frames 20 --eval_protocol taoruijie --embed_crops --embed_format kaldi --embed_out " +
               f.file("e/taoc"));
  REQUIRE(r.status == 0);
  e = read_kaldi_text_ark(f.file("e/taoc.ark"));
  REQUIRE(e.matrix.shape() == Shape{12, 16});
  CHECK(e.keys[0] == paths[0] + "#full");   // --embed_list's keys are the joined paths
  CHECK(e.keys[1] == paths[0] + "#0");
  CHECK(e.keys[11] == paths[1] + "#4");
  // sliding --embed_crops: one row per window.
  r = run_eval("--mode embed --initial_model " + f.ckpt + " --embed_list " + list + " --embed_path " + f.wav +
               " --eval_protocol sliding --window_duration 0.25 --window_step 0.1 --embed_crops --embed_out " +
               f.file("e/slc"));
  REQUIRE(r.status == 0);
  e = read_embeddings_npy(f.file("e/slc.npy"), f.file("e/slc.index.txt"));
  CHECK(e.matrix.size(0) == 5 + 1);   // 9000 samples: 0, 1600, 3200, 4800, 5000; 3440 samples: the whole file
  CHECK(e.keys[3] == paths[0] + "#3");

  // Pair: taoruijie's fused score and the whole-utterance cosine; sliding's cosine of the means.
  r = run_eval("--mode pair --initial_model " + f.ckpt + " --enrol_file " + paths[0] + " --test_file " + paths[1] +
               " --eval_frames 20 --eval_protocol taoruijie --json " + f.file("p.json"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.last_line().rfind("taoruijie score ", 0) == 0);
  json j = json::parse(slurp(f.file("p.json")));
  CHECK(j["eval_protocol"]["name"] == "taoruijie");
  CHECK(j["taoruijie_score"].get<double>() == doctest::Approx(taoruijie_scores(ref, {{0, 1}})[0]).epsilon(1e-5));
  CHECK(j["cosine_score"].get<double>() == doctest::Approx(cosine_scores(ref.first_rows(), {{0, 1}})[0]).epsilon(1e-5));
  r = run_eval("--mode pair --initial_model " + f.ckpt + " --enrol_file " + paths[0] + " --test_file " + paths[1] +
               " --eval_protocol sliding --window_duration 0.25 --window_step 0.1 --json " + f.file("ps.json"));
  REQUIRE(r.status == 0);
  CHECK(r.last_line().rfind("sliding score ", 0) == 0);
  ref = embed_protocol_files(*f.model, tiny_frontend(), paths, sliding_settings(), es, ProtocolRows::scoring);
  j = json::parse(slurp(f.file("ps.json")));
  CHECK(j["sliding_score"].get<double>() ==
        doctest::Approx(cosine_scores(ref.first_rows(), {{0, 1}})[0]).epsilon(1e-5));
}

TEST_CASE("eval_protocol: spk_eval's bad protocol flags fail before any work, naming the flag") {
  ProtoFixture& f = pfx();
  const std::string base = base_args(f);
  auto fails = [&](const std::string& args, const std::string& needle) {
    const auto r = run_eval(base + " " + args);
    INFO("spk_eval " << args << "\n" << r.output);
    CHECK(r.status == 2);
    CHECK(r.output.find("spk_eval: error:") != std::string::npos);
    CHECK(r.output.find(needle) != std::string::npos);
  };
  fails("--eval_protocol pyannote", "--eval_protocol: 'pyannote' is not one of voxceleb_trainer, taoruijie, sliding");
  fails("--eval_protocol sliding --window_duration 0", "--window_duration: must be a positive number of seconds");
  fails("--eval_protocol sliding --window_duration -3", "--window_duration: must be a positive number of seconds");
  fails("--eval_protocol sliding --window_step 0", "--window_step: must be a positive number of seconds");
  fails("--eval_protocol sliding --window_step -0.1", "--window_step: must be a positive number of seconds");
  fails("--eval_protocol sliding --window_step nan", "--window_step");
  fails("--eval_protocol sliding --window_step 0.00001", "--window_step: 1e-05 s is less than one sample");
  fails("--window_step 0.2", "--window_step is only used with --eval_protocol sliding");
  fails("--eval_protocol taoruijie --scoring vt", "--scoring is voxceleb_trainer's");
  fails("--eval_protocol sliding --test_normalize false", "--test_normalize is voxceleb_trainer's");
  fails("--eval_protocol taoruijie --eval_frames 0", "--eval_frames: --eval_protocol taoruijie");
  fails("--eval_protocol sliding --num_eval 3", "--num_eval is not used with --eval_protocol sliding");
  // 16 samples: too short for the front end (found once the checkpoint gave the model, still before any audio).
  fails("--eval_protocol sliding --window_duration 0.001", "--window_duration: a window of 16 samples:");
}

#endif  // SPK_EVAL_BINARY
