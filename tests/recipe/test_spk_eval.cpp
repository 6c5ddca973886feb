// spk_eval, the built binary: a real run on synthetic WAVs with a freshly initialised small checkpoint (scores
// equal the evaluator's in-process ones; the JSON, score file, DET plot and embeddings are written and read
// back), every mode, and every kind of bad input failing before any work with a message naming the flag, file
// or line and a non-zero exit (never a crash).
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/embeddings_io.h"
#include "apps/recipe/evaluator.h"
#include "apps/recipe/frontend.h"
#include "engine/audio/audio_file.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/safetensors.h"
#include "losses/loss.h"
#include "losses/verification.h"
#include "nets/model.h"
#include "support/check.h"
#include "recipe/app_run.h"

#ifdef SPK_EVAL_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using Run = spk::test::AppRun;

Run run_eval(const std::string& args) { return spk::test::run_binary(SPK_EVAL_BINARY, args); }

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Speaker k: harmonics of its own fundamental; utterance u shifts the phase and the level.
std::vector<float> voice(int k, int u, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  const double f0 = 120.0 + 45.0 * k;
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    for (int h = 1; h <= 4; ++h) v += std::sin(2 * M_PI * f0 * h * double(i) / 16000.0 + u * 0.7 * h) / h;
    x[size_t(i)] = float((0.15 + 0.05 * u) * v);
  }
  return x;
}

// Files, lists and models shared by every case; removed when the test binary exits.
struct Fixture {
  fs::path dir;
  std::string ckpt, weights, trials, cohort, common;
  std::vector<std::string> wavs;   // relative to dir/wav
  Fixture() {
    dir = fs::temp_directory_path() / ("spk_test_spk_eval_" + std::to_string(::getpid()));
    fs::create_directories(dir / "wav" / "test");
    fs::create_directories(dir / "wav" / "cohort");
    for (int k = 0; k < 3; ++k)
      for (int u = 0; u < 2; ++u) {
        const std::string rel = "test/s" + std::to_string(k) + "_" + std::to_string(u) + ".wav";
        audio::write_audio((dir / "wav" / rel).string(), voice(k, u, 12000 + 2000 * u), 16000);
        wavs.push_back(rel);
      }
    trials = file("trials.txt");
    {
      std::ofstream o(trials);
      o << "1 test/s0_0.wav test/s0_1.wav\n0 test/s0_0.wav test/s1_0.wav\n1 test/s1_0.wav test/s1_1.wav\n"
        << "0 test/s1_1.wav test/s2_0.wav\n1 test/s2_0.wav test/s2_1.wav\n0 test/s2_1.wav test/s0_1.wav\n";
    }
    cohort = file("cohort.txt");
    {
      std::ofstream o(cohort);
      for (int k = 3; k < 7; ++k)
        for (int u = 0; u < 2; ++u) {
          const std::string rel = "cohort/c" + std::to_string(k) + "_" + std::to_string(u) + ".wav";
          audio::write_audio((dir / "wav" / rel).string(), voice(k, u, 10000), 16000);
          o << "id" << k << " " << rel << "\n";
        }
    }
    // A freshly initialised small model, saved as an spk checkpoint (metadata holds the config; its device
    // says cuda, which spk_eval must not take from it) and as a voxceleb_trainer-style weights-only file.
    auto model = make_model("ResNetSE34L", model_config());
    LossConfig lc;
    lc.nOut = 16;
    lc.nClasses = 4;
    auto loss = make_loss("softmax", lc);
    Adam opt(training_parameters(*model, *loss), 0.001);
    TrainingState st;
    st.config = {{"model", "ResNetSE34L"}, {"nOut", 16},          {"n_mels", 40},   {"encoder_type", "SAP"},
                 {"trainfunc", "softmax"}, {"log_input", true},   {"device", "cuda"}, {"eval_frames", 400}};
    st.speakers = audio::LabelMap::from_ids({"a", "b", "c", "d"});
    ckpt = file("model.safetensors");
    save_checkpoint(ckpt, *model, *loss, opt, st);
    NamedTensors w;
    for (const auto& [n, t] : model->state()) w.emplace_back("__S__." + n, t);
    weights = file("weights.safetensors");
    save_safetensors(weights, w);
    common = "--test_path " + (dir / "wav").string() + " --eval_frames 20 --num_eval 3 --nDataLoaderThread 1";
  }
  ~Fixture() {
    if (std::getenv("SPK_TEST_KEEP")) return;   // keep the files to look at (the path is in every message)
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
  static ModelConfig model_config() {
    ModelConfig mc;
    mc.n_mels = 40;
    mc.nOut = 16;
    mc.encoder_type = "SAP";
    return mc;
  }
  // The checkpoint's model and front end, loaded in-process.
  std::shared_ptr<SpeakerNet> load() const {
    auto m = make_model("ResNetSE34L", model_config());
    import_weights(read_checkpoint(ckpt), *m, nullptr);
    return m;
  }
  static FrontEnd frontend() {
    RecipeConfig rc;
    rc.model = "ResNetSE34L";
    rc.frontend = "auto";
    rc.n_mels = 40;
    rc.log_input = true;
    return frontend_config(rc);
  }
  static EmbedSettings embed() {
    EmbedSettings s;
    s.eval_frames = 20;
    s.num_eval = 3;
    return s;
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

void check_failure(const std::string& args, const std::string& needle) {
  const Run r = run_eval(args);
  INFO("spk_eval " << args << "\n" << r.output);
  CHECK(r.status > 0);   // exited normally, with an error status
  CHECK(r.output.find("spk_eval: error:") != std::string::npos);
  CHECK(r.output.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("spk_eval: a real run prints the EER line and writes the JSON, score file and DET plot") {
  Fixture& f = fx();
  const std::string out = f.file("run1");
  const Run r = run_eval("--initial_model " + f.ckpt + " --test_list " + f.trials + " " + f.common + " --json " + out +
                         "/eval.json --score_file " + out + "/scores.txt --det_plot " + out + "/det.svg");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const std::string last = r.last_line();
  std::smatch m;
  REQUIRE(std::regex_match(last, m, std::regex(R"(EER ([0-9]+\.[0-9]{4}) MinDCF ([0-9]+\.[0-9]{5}))")));

  const json j = json::parse(slurp(out + "/eval.json"));
  CHECK(j["primary"] == "vt");
  CHECK(j["trials"] == 6);
  CHECK(j["files"] == 6);
  CHECK(j["crops_per_file"] == 3);
  CHECK(j["model"]["name"] == "ResNetSE34L");
  CHECK(j["checkpoint"]["format"] == "spk");
  CHECK(j["device"] == "cpu");   // not the checkpoint's cuda
  CHECK(j["settings"]["eval_frames"] == 20);   // the command line's, not the checkpoint's 400
  CHECK(j["test_normalize"]["value"] == true);
  for (const char* set : {"vt", "cosine"}) {
    const json& s = j["scores"][set];
    for (const char* key : {"vt_eer", "interpolated_eer", "vt_eer_threshold", "min_dcf_p0.05", "min_dcf_p0.01",
                            "min_dcf", "n_target", "n_nontarget", "vt_threshold_at_far"})
      CHECK_MESSAGE(s.contains(key), set, " lacks ", key);
    CHECK(s["n_target"] == 3);
  }
  CHECK(m[1].str() == [&] {
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", j["scores"]["vt"]["vt_eer"].get<double>());
    return std::string(b);
  }());
  CHECK(std::stod(m[2].str()) ==
        doctest::Approx(j["scores"]["vt"]["min_dcf"]["min_dcf"].get<double>()).epsilon(1e-5));
  CHECK(j["scores"]["vt"]["min_dcf"]["p_target"] == 0.05);

  // The score file holds the evaluator's VT scores, in list order, with the trial's paths.
  const std::vector<ScoreLine> lines = read_scores_vt(out + "/scores.txt");
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].enrol == "test/s0_0.wav");
  CHECK(lines[0].test == "test/s0_1.wav");
  auto model = f.load();
  TrialEvalSettings ts;
  ts.embed = Fixture::embed();
  const TrialEvalResult ref =
      evaluate_trials(*model, Fixture::frontend(), audio::read_trials(f.trials), (f.dir / "wav").string(), ts);
  for (size_t i = 0; i < 6; ++i) CHECK(lines[i].score == doctest::Approx(ref.scores[i]).epsilon(1e-6));
  CHECK(j["scores"]["vt"]["vt_eer"].get<double>() == doctest::Approx(ref.metrics.vt.eer));

  const std::string svg = slurp(out + "/det.svg");
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("cosine") != std::string::npos);

  // No --eer_ci: the output is as before, no interval.
  CHECK_FALSE(j["scores"]["vt"].contains("eer_ci_low"));
  CHECK(r.output.find("confidence interval") == std::string::npos);
}

TEST_CASE("spk_eval: --eer_ci prints the EER's bootstrap interval and records it in the JSON") {
  Fixture& f = fx();
  const std::string base = "--initial_model " + f.ckpt + " --test_list " + f.trials + " " + f.common +
                           " --eer_ci 0.9 --eer_ci_resamples 300 --eer_ci_seed 5 --score_format kaldi";
  const Run r = run_eval(base + " --json " + f.file("ci.json") + " --score_file " + f.file("ci_scores.txt"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const json j = json::parse(slurp(f.file("ci.json")));
  for (const char* set : {"vt", "cosine"}) {
    const json& s = j["scores"][set];
    INFO(set, ": ", s.dump());
    REQUIRE(s.contains("eer_ci_low"));
    CHECK(s["eer_ci_level"] == 0.9);
    CHECK(s["eer_ci_resamples"] == 300);
    CHECK(s["eer_ci_seed"] == 5);
    CHECK(s["eer_ci_method"].get<std::string>().find("stratified") != std::string::npos);
    CHECK(s["eer_ci_low"].get<double>() <= s["vt_eer"].get<double>());
    CHECK(s["vt_eer"].get<double>() <= s["eer_ci_high"].get<double>());
    // The console's line for the set: "vt   EER 16.6667 % [lo, hi] (interpolated ...".
    char want[96];
    std::snprintf(want, sizeof want, " EER %.4f %% [%.4f, %.4f] (interpolated", s["vt_eer"].get<double>(),
                  s["eer_ci_low"].get<double>(), s["eer_ci_high"].get<double>());
    CHECK(r.output.find(std::string(set) + " ") != std::string::npos);
    CHECK(r.output.find(want) != std::string::npos);
  }
  CHECK(r.output.find("EER 90 % confidence interval: 300 stratified bootstrap resamples of the trials, seed 5") !=
        std::string::npos);
  CHECK(std::regex_match(r.last_line(), std::regex(R"(EER [0-9]+\.[0-9]{4} MinDCF [0-9]+\.[0-9]{5})")));

  // The interval is the library's on the primary scores written to the score file (exact round trip).
  const std::vector<ScoreLine> lines = read_scores_kaldi(f.file("ci_scores.txt"));
  std::vector<double> scores;
  std::vector<int> labels;
  for (const auto& l : lines) {
    scores.push_back(l.score);
    labels.push_back(l.label);
  }
  const EerInterval ci = vt_eer_confidence_interval(scores, labels, 0.9, 300, 5);
  CHECK(j["scores"]["vt"]["eer_ci_low"].get<double>() == doctest::Approx(ci.low).epsilon(1e-12));
  CHECK(j["scores"]["vt"]["eer_ci_high"].get<double>() == doctest::Approx(ci.high).epsilon(1e-12));

  // The same seed again: the same interval.
  REQUIRE(run_eval(base + " --json " + f.file("ci2.json")).status == 0);
  const json j2 = json::parse(slurp(f.file("ci2.json")));
  for (const char* set : {"vt", "cosine"})
    for (const char* key : {"eer_ci_low", "eer_ci_high"}) CHECK(j2["scores"][set][key] == j["scores"][set][key]);
}

TEST_CASE("spk_eval: cosine scoring, Kaldi score file, minDCF at another prior, YAML config") {
  Fixture& f = fx();
  const std::string yaml = f.file("recipe.yaml");
  { std::ofstream(yaml) << "eval_frames: 20\nnum_eval: 3\ndcf_p_target: 0.01\nmax_frames: 200\n"; }
  const Run r = run_eval("--config " + yaml + " --initial_model " + f.ckpt + " --test_list " + f.trials +
                         " --test_path " + (f.dir / "wav").string() + " --nDataLoaderThread 0 --scoring cosine" +
                         " --score_format kaldi --score_file " + f.file("cos.txt") + " --json " + f.file("cos.json"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const json j = json::parse(slurp(f.file("cos.json")));
  CHECK(j["primary"] == "cosine");
  CHECK_FALSE(j["scores"].contains("vt"));
  CHECK(j["settings"]["num_eval"] == 3);
  CHECK(j["scores"]["cosine"]["min_dcf"]["p_target"] == 0.01);
  const std::vector<ScoreLine> lines = read_scores_kaldi(f.file("cos.txt"));
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].label == 1);
  CHECK(lines[1].label == 0);
  for (const auto& l : lines) CHECK(std::abs(l.score) <= 1.0 + 1e-6);
  CHECK(r.last_line().rfind("EER ", 0) == 0);
}

TEST_CASE("spk_eval: Kaldi trials keyed by utterance id, resolved through --wav_scp") {
  Fixture& f = fx();
  // The fixture's VT list again, as Kaldi "utt1 utt2 target|nontarget" lines over ids mapped by a wav.scp.
  const std::string scp = f.file("wav.scp"), kaldi = f.file("trials.kaldi");
  {
    std::ofstream o(scp);
    for (const auto& w : f.wavs) o << "u_" << fs::path(w).stem().string() << " " << w << "\n";
  }
  {
    std::ofstream o(kaldi);
    std::ifstream in(f.trials);
    for (std::string lab, a, b; in >> lab >> a >> b;)
      o << "u_" << fs::path(a).stem().string() << " u_" << fs::path(b).stem().string() << " "
        << (lab == "1" ? "target" : "nontarget") << "\n";
  }
  const Run vt = run_eval("--initial_model " + f.ckpt + " --test_list " + f.trials + " " + f.common);
  const Run kd = run_eval("--initial_model " + f.ckpt + " --test_list " + kaldi + " --wav_scp " + scp + " " + f.common);
  INFO(vt.output << kd.output);
  REQUIRE(vt.status == 0);
  REQUIRE(kd.status == 0);
  CHECK(kd.last_line() == vt.last_line());
  { std::ofstream(f.file("short.scp")) << "u_s0_0 test/s0_0.wav\n"; }
  check_failure("--initial_model " + f.ckpt + " --test_list " + kaldi + " --wav_scp " + f.file("short.scp") + " " +
                    f.common,
                "has no entry for 'u_");
}

TEST_CASE("spk_eval: an unlabelled trial list gives scores only, and only when allowed") {
  Fixture& f = fx();
  const std::string list = f.file("unlabelled.txt");
  { std::ofstream(list) << "test/s0_0.wav test/s0_1.wav\ntest/s1_0.wav test/s2_1.wav\n"; }
  const std::string base = "--initial_model " + f.ckpt + " --test_list " + list + " " + f.common;
  check_failure(base, "unlabelled.txt:1");
  const Run r = run_eval(base + " --allow_unlabelled true --score_file " + f.file("u.txt") + " --json " + f.file("u.json"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("EER") == std::string::npos);
  CHECK(read_scores_vt(f.file("u.txt")).size() == 2);
  const json j = json::parse(slurp(f.file("u.json")));
  CHECK(j["labelled"] == false);
  CHECK_FALSE(j["scores"]["vt"].contains("vt_eer"));
  check_failure(base + " --allow_unlabelled true --det_plot " + f.file("u.svg"), "--det_plot");
}

TEST_CASE("spk_eval: AS-norm and S-norm with a cohort from a train list") {
  Fixture& f = fx();
  for (const std::string norm : {"asnorm", "snorm"}) {
    const std::string js = f.file(norm + ".json");
    const Run r = run_eval("--initial_model " + f.ckpt + " --test_list " + f.trials + " " + f.common +
                           " --score_norm " + norm + " --cohort_list " + f.cohort + " --cohort_path " +
                           (f.dir / "wav").string() + (norm == "asnorm" ? " --top_n 2" : "") + " --json " + js);
    INFO(r.output);
    REQUIRE(r.status == 0);
    const json j = json::parse(slurp(js));
    CHECK(j["primary"] == norm);
    CHECK(j["scores"].contains("vt"));
    CHECK(j["scores"].contains("cosine_mean_subtracted"));
    CHECK(j["cohort"]["speakers"] == 4);
    CHECK(j["cohort"]["top_n"] == (norm == "asnorm" ? 2 : 4));
    char b[64];
    std::snprintf(b, sizeof b, "EER %.4f MinDCF", j["scores"][norm]["vt_eer"].get<double>());
    CHECK(r.last_line().rfind(b, 0) == 0);
  }
}

TEST_CASE("spk_eval: a cohort given as a Kaldi data dir scores as the same cohort's train list") {
  Fixture& f = fx();
  // The cohort list's `id<k> cohort/c<k>_<u>.wav` lines as wav.scp + utt2spk.
  const std::string dir = f.file("cohort_dir");
  fs::create_directories(dir);
  {
    std::ofstream scp(dir + "/wav.scp"), u2s(dir + "/utt2spk");
    for (int k = 3; k < 7; ++k)
      for (int u = 0; u < 2; ++u) {
        const std::string utt = "id" + std::to_string(k) + "-" + std::to_string(u);
        scp << utt << " cohort/c" << k << "_" << u << ".wav\n";
        u2s << utt << " id" << k << "\n";
      }
  }
  const std::string base = "--initial_model " + f.ckpt + " --test_list " + f.trials + " " + f.common +
                           " --score_norm asnorm --top_n 2 --cohort_path " + (f.dir / "wav").string();
  const Run by_list = run_eval(base + " --cohort_list " + f.cohort + " --json " + f.file("c_list.json"));
  const Run by_dir = run_eval(base + " --cohort_list " + dir + " --json " + f.file("c_dir.json"));
  INFO(by_list.output << by_dir.output);
  REQUIRE(by_list.status == 0);
  REQUIRE(by_dir.status == 0);
  const json a = json::parse(slurp(f.file("c_list.json"))), b = json::parse(slurp(f.file("c_dir.json")));
  CHECK(b["cohort"]["speakers"] == 4);
  CHECK(a["scores"]["asnorm"] == b["scores"]["asnorm"]);
  CHECK(a["scores"]["cosine_mean_subtracted"] == b["scores"]["cosine_mean_subtracted"]);
  // A cohort's utterances are embedded as whole files, so a dir with segments is refused, naming the file.
  {
    std::ofstream seg(dir + "/segments");   // each utterance the first 0.1 s of a recording of its own name
    for (int k = 3; k < 7; ++k)
      for (int u = 0; u < 2; ++u) seg << "id" << k << "-" << u << " id" << k << "-" << u << " 0 0.1\n";
  }
  check_failure(base + " --cohort_list " + dir, dir + "/segments: segments are not supported in a cohort");
  fs::remove(dir + "/segments");
  fs::remove(dir + "/utt2spk");
  check_failure(base + " --cohort_list " + dir, "no file '" + dir + "/utt2spk'");
}

TEST_CASE("spk_eval: embedding extraction to .npy + index and Kaldi ark; pair scoring") {
  Fixture& f = fx();
  auto model = f.load();
  std::vector<std::string> paths;
  for (const auto& w : f.wavs) paths.push_back((f.dir / "wav" / w).string());
  EmbedSettings s = Fixture::embed();
  s.mean_over_crops = true;
  const Tensor ref = embed_files(*model, Fixture::frontend(), paths, s);   // (6, 1, 16)

  // The trial list's files (sorted keys), mean over crops.
  Run r = run_eval("--mode embed --initial_model " + f.ckpt + " --test_list " + f.trials + " " + f.common +
                   " --embed_out " + f.file("emb/test") + " --json " + f.file("emb.json"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  Embeddings e = read_embeddings_npy(f.file("emb/test.npy"), f.file("emb/test.index.txt"));
  REQUIRE(e.matrix.shape() == Shape{6, 16});
  CHECK(e.keys == f.wavs);   // already sorted
  test::expect_close(e.matrix, reshape(ref, {6, 16}), 1e-5, 1e-5, "npy embeddings");
  CHECK(json::parse(slurp(f.file("emb.json")))["embeddings"]["rows"] == 6);

  // A path list, per-crop rows, Kaldi text ark.
  const std::string list = f.file("paths.txt");
  {
    std::ofstream o(list);
    for (const auto& w : f.wavs) o << w << "\n\n";
  }
  r = run_eval("--mode embed --initial_model " + f.ckpt + " --embed_list " + list + " --embed_path " +
               (f.dir / "wav").string() + " --eval_frames 20 --num_eval 3 --embed_crops true --embed_format kaldi" +
               " --embed_out " + f.file("emb/crops"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  e = read_kaldi_text_ark(f.file("emb/crops.ark"));
  REQUIRE(e.matrix.shape() == Shape{18, 16});
  CHECK(e.keys[4] == paths[1] + "#1");
  test::expect_close(reshape(mean(reshape(e.matrix, {6, 3, 16}), {1}), {6, 16}), reshape(ref, {6, 16}), 1e-5, 1e-5,
                     "ark crop embeddings");

  // Two files: VT and cosine scores, as the evaluator computes them.
  r = run_eval("--mode pair --initial_model " + f.ckpt + " --enrol_file " + paths[0] + " --test_file " + paths[2] +
               " --eval_frames 20 --num_eval 3 --json " + f.file("pair.json"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.last_line().rfind("VT score ", 0) == 0);
  const json j = json::parse(slurp(f.file("pair.json")));
  const Tensor crops = embed_files(*model, Fixture::frontend(), {paths[0], paths[2]}, Fixture::embed());
  CHECK(j["vt_score"].get<double>() == doctest::Approx(vt_scores(crops, {{0, 1}}, true)[0]).epsilon(1e-6));
  CHECK(j["cosine_score"].get<double>() == doctest::Approx(cosine_scores(mean(crops, {1}), {{0, 1}})[0]).epsilon(1e-6));
}

TEST_CASE("spk_eval: a weights-only state_dict needs --model and the flags that shape it") {
  Fixture& f = fx();
  const Run r = run_eval("--initial_model " + f.weights + " --model ResNetSE34L --nOut 16 --log_input true" +
                         " --test_list " + f.trials + " " + f.common + " --score_file " + f.file("w.txt"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  // Same weights and front end as the spk checkpoint: the same scores as the first run's evaluator.
  auto model = f.load();
  TrialEvalSettings ts;
  ts.embed = Fixture::embed();
  const TrialEvalResult ref =
      evaluate_trials(*model, Fixture::frontend(), audio::read_trials(f.trials), (f.dir / "wav").string(), ts);
  const auto lines = read_scores_vt(f.file("w.txt"));
  REQUIRE(lines.size() == 6);
  for (size_t i = 0; i < 6; ++i) CHECK(lines[i].score == doctest::Approx(ref.scores[i]).epsilon(1e-6));

  const std::string lists = " --test_list " + f.trials + " " + f.common;
  check_failure("--initial_model " + f.weights + lists, "--model: required");
  // Mismatched weights: another embedding size, another model.
  check_failure("--initial_model " + f.weights + " --model ResNetSE34L --nOut 32" + lists,
                "weights.safetensors");
  check_failure("--initial_model " + f.weights + " --model VGGVox" + lists, "does not fit --model VGGVox");
  check_failure("--initial_model " + f.ckpt + " --nOut 32" + lists, "model.safetensors");
}

TEST_CASE("spk_eval: bad input fails before any work, naming the flag, file or line") {
  Fixture& f = fx();
  const std::string base = "--initial_model " + f.ckpt + " --test_list " + f.trials + " " + f.common;
  const std::string json_out = f.file("never.json");
  check_failure(base + " --bogus 1", "--bogus");
  check_failure(base + " --eval_frames abc", "--eval_frames");
  check_failure(base + " --eval_frames -1", "--eval_frames");
  check_failure(base + " --num_eval 0", "--num_eval");
  check_failure(base + " --eval_batch 0", "--eval_batch");
  check_failure(base + " --mode score", "--mode");
  check_failure(base + " --scoring plda", "--scoring");
  check_failure(base + " --dcf_p_target 1.5", "--dcf_p_target");
  check_failure(base + " --dcf_c_miss 0", "--dcf_c_miss");
  check_failure(base + " --device cuda", "--device");
  check_failure(base + " --device tpu", "--device");
  check_failure(base + " --trainfunc nosuchloss", "--trainfunc");
  check_failure(base + " --test_normalize maybe", "--test_normalize");
  check_failure(base + " --frontend nosuch", "--frontend");
  check_failure(base + " --log_input perhaps", "--log_input");
  check_failure(base + " --mixedprec fp8", "--mixedprec: 'fp8' is not one of off, bf16, fp16");
  check_failure(base + " --eer_ci 1", "--eer_ci");
  check_failure(base + " --eer_ci -0.5", "--eer_ci");
  check_failure(base + " --eer_ci 95", "--eer_ci");
  check_failure(base + " --eer_ci half", "--eer_ci");
  check_failure(base + " --eer_ci 0.95 --eer_ci_resamples 10", "--eer_ci_resamples");
  check_failure(base + " --eer_ci 0.95 --eer_ci_seed -1", "--eer_ci_seed");
  check_failure(base + " --eer_ci_resamples 500", "--eer_ci_resamples is only used with --eer_ci");
  check_failure(base + " --eer_ci_seed 3", "--eer_ci_seed is only used with --eer_ci");
  check_failure(base + " --mode embed --embed_out e --eer_ci 0.95", "--eer_ci is not used with --mode embed");
  check_failure(base + " --eval_frames", "--eval_frames");   // missing value
  // Files.
  check_failure("--initial_model " + f.file("nope.safetensors") + " --test_list " + f.trials, "nope.safetensors");
  check_failure("--test_list " + f.trials, "--initial_model: required");
  { std::ofstream(f.file("junk.safetensors")) << "not a safetensors file"; }
  check_failure("--initial_model " + f.file("junk.safetensors") + " --test_list " + f.trials + " " + f.common,
                "junk.safetensors");
  check_failure("--initial_model " + f.ckpt + " --test_list " + f.file("none.txt") + " " + f.common, "none.txt");
  { std::ofstream(f.file("bad_trials.txt")) << "1 test/s0_0.wav test/s0_1.wav\n1 test/s0_0.wav\n"; }
  check_failure("--initial_model " + f.ckpt + " --test_list " + f.file("bad_trials.txt") + " " + f.common,
                "bad_trials.txt:2");
  { std::ofstream(f.file("gone_trials.txt")) << "1 test/s0_0.wav test/gone.wav\n0 test/s0_0.wav test/s1_0.wav\n"; }
  check_failure("--initial_model " + f.ckpt + " --test_list " + f.file("gone_trials.txt") + " " + f.common +
                    " --json " + json_out,
                "gone.wav");
  check_failure(base + " --config " + f.file("none.yaml"), "none.yaml");
  { std::ofstream(f.file("bad.yaml")) << "eval_frames: 20\nnot_an_option: 3\n"; }
  check_failure(base + " --config " + f.file("bad.yaml"), "bad.yaml:2");
  { std::ofstream(f.file("bad2.yaml")) << "eval_frames: many\n"; }
  check_failure(base + " --config " + f.file("bad2.yaml"), "bad2.yaml:1");
  // Inconsistent settings.
  check_failure(base + " --score_norm asnorm", "--cohort_list");
  check_failure(base + " --cohort_list " + f.cohort, "--cohort_list is only used with --score_norm");
  check_failure(base + " --score_norm asnorm --scoring vt --cohort_list " + f.cohort, "--scoring");
  check_failure(base + " --score_norm asnorm --top_n 1 --cohort_list " + f.cohort, "--top_n");
  check_failure(base + " --score_norm snorm --top_n 10 --cohort_list " + f.cohort, "--top_n");
  check_failure(base + " --score_norm asnorm --cohort_list " + f.file("none_cohort.txt"), "none_cohort.txt");
  { std::ofstream(f.file("one_spk.txt")) << "id0 cohort/c3_0.wav\n"; }
  check_failure(base + " --score_norm snorm --cohort_list " + f.file("one_spk.txt") + " --cohort_path " +
                    (f.dir / "wav").string(),
                "at least 2");
  check_failure(base + " --score_norm snorm --cohort_list " + f.cohort, "cohort/c3_0.wav");   // no --cohort_path
  check_failure(base + " --mode embed --score_file x.txt --embed_out e", "--score_file is not used with --mode embed");
  check_failure(base + " --mode embed", "--embed_out");
  check_failure(base + " --mode embed --embed_out e --embed_format hdf5", "--embed_format");
  check_failure(base + " --mode embed --embed_out e --embed_list " + f.file("none_list.txt"), "none_list.txt");
  { std::ofstream(f.file("nul_list.txt"), std::ios::binary) << "test/s0_0.wav\ntest/s0_1.wav" << '\0' << "\n"; }
  check_failure(base + " --mode embed --embed_out e --embed_list " + f.file("nul_list.txt"), "nul_list.txt:2: NUL");
  check_failure("--mode pair --initial_model " + f.ckpt + " --enrol_file " + f.file("a.wav"), "--enrol_file");
  check_failure("--mode pair --initial_model " + f.ckpt + " --test_file " + f.file("b.wav"), "--enrol_file: required");
  check_failure(base + " --enrol_file x.wav", "--enrol_file is not used with --mode eval");
  check_failure(base + " --json " + f.ckpt + "/x.json", "--json");   // a file where a folder must be
  // Too short for the model: whole-file evaluation of a 100-sample file fails naming it (after the checks).
  fs::create_directories(f.dir / "tiny");
  audio::write_audio(f.file("tiny/t.wav"), voice(0, 0, 100), 16000);
  { std::ofstream(f.file("tiny_trials.txt")) << "1 t.wav t.wav\n0 t.wav t.wav\n"; }
  check_failure("--initial_model " + f.ckpt + " --test_list " + f.file("tiny_trials.txt") + " --test_path " +
                    f.file("tiny") + " --eval_frames 0",
                "t.wav");
  CHECK_FALSE(fs::exists(json_out));
}

#endif  // SPK_EVAL_BINARY
