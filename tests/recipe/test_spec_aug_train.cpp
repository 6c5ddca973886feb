// --spec_aug in spk_train on the tiny corpus (tests/recipe/tiny_corpus.h): the masks change training (parameters
// differ from the same run without them), two runs of one seed are bit-identical, a run killed mid-epoch resumes
// to the parameters of the uninterrupted one (the masks come from the checkpointed Rng), evaluation ignores the
// flag (spk_eval's embeddings with a recipe holding spec_aug: true equal those with spec_aug: false), and bad
// settings fail before any work naming the flag.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/spec_aug_flags.h"
#include "engine/safetensors.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;

TEST_CASE("spec_aug_train_features: features without a frequency axis (a waveform front end) are refused") {
  Rng rng(1);
  SpecAugConfig s;
  s.time_width = 5;
  Rng r(2);
  const Tensor wave_like = Tensor::uniform({2, 1, 400}, r);   // (B, 1, L): what a waveform front end gives
  CHECK_THROWS_WITH_AS(spec_aug_train_features(wave_like, s, rng), doctest::Contains("--spec_aug: the front end gives"),
                       UsageError);
  CHECK_THROWS_AS(spec_aug_train_features(Tensor::zeros({2, 400}), s, rng), UsageError);
  const Tensor feats = Tensor::uniform({2, 40, 30}, r, 1, 2);
  const std::vector<float> y = spec_aug_train_features(feats, s, rng).to_vector<float>();
  CHECK(std::count(y.begin(), y.end(), 0.0f) > 0);   // FbankAug's freq mask alone is 0..7 bins: with 2 rows, likely
}

TEST_CASE("configs/ECAPA_TDNN_C1024_AAM.yaml turns SpecAugment on with TaoRuijie's FbankAug settings") {
  OptionParser p("spk_train", "", TRAIN);
  const std::string path = std::string(SPK_CONFIGS_DIR) + "/ECAPA_TDNN_C1024_AAM.yaml";
  const char* argv[] = {"spk_train", "--config", path.c_str()};
  REQUIRE(p.parse(3, argv));
  const RecipeConfig c = recipe_config(p);
  const std::optional<SpecAugConfig> s = spec_aug_config(c, frontend_config(c));
  REQUIRE(s.has_value());
  CHECK(s->style == SpecAugStyle::taoruijie);
  CHECK(s->time_masks == 1);
  CHECK(s->time_width == 10);   // FbankAug time_mask_width = (0, 10): torch.randint's upper bound, exclusive
  CHECK(s->freq_masks == 1);
  CHECK(s->freq_width == 8);    // freq_mask_width = (0, 8)
  CHECK(s->prob == 1.0);
  // The other anchor recipes leave it off (voxceleb_trainer has none; wespeaker's recipes ship spec_aug: False).
  OptionParser q("spk_train", "", TRAIN);
  const std::string other = std::string(SPK_CONFIGS_DIR) + "/ResNet34_TSTP_wespeaker.yaml";
  const char* argv2[] = {"spk_train", "--config", other.c_str()};
  REQUIRE(q.parse(3, argv2));
  CHECK_FALSE(recipe_config(q).spec_aug);
}

#ifdef SPK_TRAIN_BINARY

namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& corpus() {
  static spk::test::TinyCorpus c("spk_test_spec_aug");
  return c;
}

Run run_train(const std::string& args, const std::string& env = "") {
  return spk::test::run_binary(SPK_TRAIN_BINARY, args, env);
}

// 4 batches of 4 crops of 20 frames (22 frames of 40 mels) per epoch, no evaluation.
std::string train_args(const std::string& name, int epochs, const std::string& extra) {
  const auto& c = corpus();
  return c.no_eval + " --train_list " + c.train4 + " --max_epoch " + std::to_string(epochs) + " --save_path " +
         c.file(name) + " " + extra;
}

std::vector<std::pair<std::string, std::vector<double>>> params_of(const std::string& run) {
  std::vector<std::pair<std::string, std::vector<double>>> out;
  for (auto& [n, t] : load_safetensors(corpus().file(run) + "/model/last.safetensors").tensors)
    if (n.rfind("__S__.", 0) == 0 || n.rfind("__L__.", 0) == 0) out.emplace_back(n, t.to_double());
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void check_failure(const std::string& args, const std::string& needle) {
  const Run r = run_train(args);
  INFO("spk_train " << args << "\n" << r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find(needle) != std::string::npos);
  CHECK(r.output.find("parameters), loss") == std::string::npos);   // failed before the run's log line
}

}  // namespace

TEST_CASE("spk_train --spec_aug: masks change training, deterministically, and a killed run resumes exactly") {
  const std::string on = "--spec_aug";
  const Run a = run_train(train_args("sa_a", 2, on));
  INFO(a.output);
  REQUIRE(a.status == 0);
  const std::string logged = "SpecAugment taoruijie, 1 time mask(s) of width 0..9 frames, 1 freq mask(s) of width 0..7 bins";
  CHECK(a.output.find(logged) != std::string::npos);
  const Run b = run_train(train_args("sa_b", 2, on));
  REQUIRE(b.status == 0);
  const Run off = run_train(train_args("sa_off", 2, ""));
  REQUIRE(off.status == 0);
  CHECK(off.output.find("SpecAugment") == std::string::npos);
  const auto pa = params_of("sa_a"), pb = params_of("sa_b"), poff = params_of("sa_off");
  REQUIRE(pa.size() == pb.size());
  REQUIRE(pa.size() == poff.size());
  CHECK(pa == pb);      // one seed, bit-identical
  CHECK(pa != poff);    // the masks reached the model
  // The masks came from the trainer's Rng, whose state the checkpoint records: it moved, unlike without masks
  // (the softmax loss draws nothing).
  CHECK(read_checkpoint(corpus().file("sa_a") + "/model/last.safetensors").state.rng_offset >
        read_checkpoint(corpus().file("sa_off") + "/model/last.safetensors").state.rng_offset);

  // Killed after step 6 (epoch 2 half done; last.safetensors holds epoch 1), then resumed.
  const Run killed = run_train(train_args("sa_k", 2, on), "SPK_FAULT=train.step:kill@6");
  INFO(killed.output);
  REQUIRE(killed.signal == SIGKILL);
  const Run resumed = run_train(train_args("sa_k", 2, on));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(resumed.output.find("resuming from") != std::string::npos);
  CHECK(params_of("sa_k") == pa);
}

TEST_CASE("spk_train --spec_aug: evaluation is untouched (spk_eval embeddings equal with spec_aug true and false)") {
#ifdef SPK_EVAL_BINARY
  const auto& c = corpus();
  const Run t = run_train(train_args("sa_eval", 1, "--spec_aug --spec_aug_style wespeaker --spec_aug_prob 0.6"));
  INFO(t.output);
  REQUIRE(t.status == 0);
  const std::string cfg_on = c.file("sa_eval") + "/config.yaml";
  std::string yaml = slurp(cfg_on);
  const size_t at = yaml.find("spec_aug: true");
  REQUIRE(at != std::string::npos);
  const std::string cfg_off = c.file("sa_eval_off.yaml");
  std::ofstream(cfg_off) << yaml.replace(at, 14, "spec_aug: false");
  const std::string base = "--mode embed --initial_model " + c.file("sa_eval") + "/model/last.safetensors" +
                           " --test_list " + c.trials + " --test_path " + c.file("wav") +
                           " --eval_frames 20 --num_eval 2 --nDataLoaderThread 1";
  const Run e_on = spk::test::run_binary(SPK_EVAL_BINARY, base + " --config " + cfg_on + " --embed_out " +
                                                              c.file("emb_on/e"));
  INFO(e_on.output);
  REQUIRE(e_on.status == 0);
  const Run e_off = spk::test::run_binary(SPK_EVAL_BINARY, base + " --config " + cfg_off + " --embed_out " +
                                                               c.file("emb_off/e"));
  INFO(e_off.output);
  REQUIRE(e_off.status == 0);
  const std::string npy_on = slurp(c.file("emb_on/e.npy"));
  CHECK(npy_on.size() > 128);
  CHECK(npy_on == slurp(c.file("emb_off/e.npy")));
#else
  MESSAGE("spk_eval not built: skipped");
#endif
}

TEST_CASE("spk_train --spec_aug: bad settings fail before any work, naming the flag") {
  const std::string a = train_args("sa_bad", 1, "--spec_aug ");
  check_failure(a + "--spec_aug_time_masks -1", "--spec_aug_time_masks: must be 0 or more, got -1");
  check_failure(a + "--spec_aug_freq_masks -3", "--spec_aug_freq_masks: must be 0 or more");
  check_failure(a + "--spec_aug_time_width 0", "--spec_aug_time_width: must be at least 1, got 0");
  check_failure(a + "--spec_aug_freq_width 41",
                "--spec_aug_freq_width 41 is wider than the 40 feature rows of the front end (--n_mels 40)");
  check_failure(a + "--spec_aug_time_width 23", "--spec_aug_time_width 23 is wider than the 22 frames of a training "
                                                "crop (--max_frames 20)");
  check_failure(a + "--spec_aug_prob 1.5", "--spec_aug_prob: must be in [0, 1], got 1.5");
  check_failure(a + "--spec_aug_style kaldi", "--spec_aug_style: unknown style 'kaldi' (taoruijie, wespeaker)");
  // Without --spec_aug the settings are not used, so not checked.
  const Run r = run_train(train_args("sa_unused", 1, "--spec_aug_freq_width 41"));
  INFO(r.output);
  CHECK(r.status == 0);
}

#endif
