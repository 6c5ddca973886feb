// The loss settings as recipe flags (losses/loss_settings.def): every setting of LossConfig is a flag of
// spk_train with the same default, shown by --help, read from the command line and YAML, mapped into
// LossConfig, checked before any work (errors naming the flag), and saved in checkpoints; --trainfunc2 adds a
// second loss whose parameters are saved as __L2__.* and fixed on resume.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/eval_app.h"
#include "apps/recipe/recipe_parts.h"
#include "apps/recipe/trainer.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "losses/loss.h"
#include "support/check.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

bool parse(OptionParser& p, std::vector<std::string> args) {
  std::vector<const char*> argv = {"spk_train"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return p.parse(int(argv.size()), argv.data());
}

// The members of LossConfig written by hand (not rows of loss_settings.def), and which of them are flags of
// options.def. A member added by hand to LossConfig changes its size and fails the static_assert below, which
// points here: make it a row of losses/loss_settings.def (or a flag of options.def, and list it here).
struct LossConfigShape {
  int64_t nOut, nClasses, nPerSpeaker;
  double margin, scale;
  int64_t hard_rank;
  double hard_prob;
#define SPK_LOSS_SETTING(name, kind, def, losses, help) SPK_LOSS_SETTING_TYPE_##kind name;
#include "losses/loss_settings.def"
#undef SPK_LOSS_SETTING
  uint64_t seed;
  std::shared_ptr<Rng> rng;
  DType dtype;
};
static_assert(sizeof(LossConfig) == sizeof(LossConfigShape),
              "LossConfig has a member that is neither a row of losses/loss_settings.def nor listed here");
const char* const kHandWrittenFlags[] = {"nOut",      "nClasses", "nPerSpeaker", "margin",
                                         "scale",     "hard_rank", "hard_prob",  "seed"};

std::vector<std::string> setting_names() {
  return {
#define SPK_LOSS_SETTING(name, kind, def, losses, help) #name,
#include "losses/loss_settings.def"
#undef SPK_LOSS_SETTING
  };
}

// A value other than the default, as flag text, and the same as the member's type.
std::string other_text(const std::string& name, OptionKind kind, size_t i) {
  switch (kind) {
    case OptionKind::str: return "value_of_" + name;
    case OptionKind::integer: return std::to_string(100 + i);
    case OptionKind::real: return std::to_string(0.125 + 0.5 * double(i));
    case OptionKind::boolean: return "true";
  }
  return "";
}
bool same(const std::string& member, const std::string& text) { return member == text; }
bool same(double member, const std::string& text) { return member == std::stod(text); }
bool same(int64_t member, const std::string& text) { return member == std::stoll(text); }
bool same(bool member, const std::string& text) { return member == (text == "true"); }

// A valid training configuration for the checks (no files are read by validate_train_config).
RecipeConfig checked(std::vector<std::string> args) {
  OptionParser p("spk_train", "", TRAIN);
  std::vector<std::string> all = {"--model", "ResNetSE34L", "--trainfunc", "anglecontrast", "--nPerSpeaker", "2"};
  all.insert(all.end(), args.begin(), args.end());
  REQUIRE(parse(p, all));
  RecipeConfig c = recipe_config(p);
  validate_train_config(c);
  return c;
}

}  // namespace

TEST_CASE("loss settings: every row is an spk_train flag with the LossConfig default, in --help") {
  OptionParser p("spk_train", "", TRAIN);
  REQUIRE(parse(p, {}));
  const LossConfig def;
  const LossConfig mapped = loss_config(recipe_config(p));
  const nlohmann::json values = p.values();
  size_t rows = 0;
#define SPK_LOSS_SETTING(name, kind, d, losses, help)                                   \
  {                                                                                     \
    CAPTURE(#name);                                                                     \
    ++rows;                                                                             \
    CHECK(p.has(#name));                                                                \
    CHECK(p.source(#name) == OptionSource::default_value);                              \
    CHECK(mapped.name == def.name); /* the flag's default text reads as the member's */ \
    CHECK(values.contains(#name));  /* saved in checkpoints (spk.config) and config.yaml */ \
  }
#include "losses/loss_settings.def"
#undef SPK_LOSS_SETTING
  CHECK(rows == setting_names().size());
  CHECK(rows >= 24);
  for (const char* flag : kHandWrittenFlags) {
    CAPTURE(flag);
    CHECK(p.has(flag));
  }
#ifdef SPK_TRAIN_BINARY
  const spk::test::AppRun help = spk::test::run_binary(SPK_TRAIN_BINARY, "--help");
  REQUIRE(help.status == 0);
  CHECK(help.output.find("Loss settings:") != std::string::npos);
  for (const std::string& name : setting_names()) {
    CAPTURE(name);
    CHECK(help.output.find("--" + name + " ") != std::string::npos);
  }
  for (const char* flag : {"--trainfunc2 ", "--trainfunc2_weight "}) CHECK(help.output.find(flag) != std::string::npos);
#endif
#ifdef SPK_CONFIGS_DIR
  // docs/losses.md's table (scripts/loss_settings_table.py) has a row per setting.
  std::ifstream doc(fs::path(SPK_CONFIGS_DIR).parent_path() / "docs" / "losses.md");
  const std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
  REQUIRE(!text.empty());
  for (const std::string& name : setting_names()) {
    CAPTURE(name);
    CHECK(text.find("| `--" + name + "` |") != std::string::npos);
  }
#endif
}

TEST_CASE("loss settings: command-line and YAML values reach LossConfig") {
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> given;   // name -> text
  OptionParser probe("spk_train", "", TRAIN);
  REQUIRE(parse(probe, {}));
  size_t i = 0;
  for (const std::string& name : setting_names()) {
    nlohmann::json v = probe.values()[name];
    const OptionKind kind = v.is_boolean() ? OptionKind::boolean
                            : v.is_string() ? OptionKind::str
                            : v.is_number_integer() ? OptionKind::integer
                                                    : OptionKind::real;
    const std::string text = other_text(name, kind, i++);
    args.push_back("--" + name);
    args.push_back(text);
    given.emplace_back(name, text);
  }
  OptionParser p("spk_train", "", TRAIN);
  REQUIRE(parse(p, args));
  const LossConfig lc = loss_config(recipe_config(p));
  const LossConfig def;
  size_t k = 0;
#define SPK_LOSS_SETTING(name, kind, d, losses, help)   \
  {                                                     \
    CAPTURE(#name);                                     \
    REQUIRE(given[k].first == #name);                   \
    CHECK(same(lc.name, given[k].second));              \
    CHECK_FALSE(same(def.name, given[k].second));       \
    ++k;                                                \
  }
#include "losses/loss_settings.def"
#undef SPK_LOSS_SETTING

  // A recipe file, with the command line winning over it.
  const fs::path yaml = fs::temp_directory_path() / ("spk_test_loss_settings_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(yaml) << "sim_loss: angleproto\nlambda_u: 0.5\nsample_type: APN\ninfonce_temperature: 0.1\n"
                         "trainfunc2: uniform\ntrainfunc2_weight: 0.25\n";
  OptionParser q("spk_train", "", TRAIN);
  REQUIRE(parse(q, {"--config", yaml.string(), "--lambda_u", "2"}));
  const RecipeConfig rc = recipe_config(q);
  const LossConfig yc = loss_config(rc);
  CHECK(yc.sim_loss == "angleproto");
  CHECK(yc.lambda_u == 2);
  CHECK(yc.sample_type == "APN");
  CHECK(yc.infonce_temperature == 0.1);
  CHECK(rc.trainfunc2 == "uniform");
  CHECK(rc.trainfunc2_weight == 0.25);
  // HardNeg's logit scale starts at ln(1/T): T 0.1 -> 2.302...
  auto nce = make_loss("infonce", [&] { LossConfig c = yc; c.nPerSpeaker = 2; c.nClasses = 3; return c; }());
  CHECK(nce->named_parameters().front().second.item() == doctest::Approx(std::log(10.0)).epsilon(1e-6));
  fs::remove(yaml);
}

TEST_CASE("loss settings: bad values fail the training checks, naming the flag") {
  CHECK_NOTHROW(checked({}));
  CHECK_NOTHROW(checked({"--trainfunc2", "uniform"}));
  CHECK_NOTHROW(checked({"--trainfunc2", "angleproto", "--trainfunc2_weight", "0.5"}));
  CHECK_NOTHROW(checked({"--trainfunc2", "ssl_infonce", "--vicreg_factor", "0.1", "--batch_size", "2"}));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--infonce_mix_weight", "1.5"}, "--infonce_mix_weight: must be in [0, 1], got 1.5"},
      {{"--infonce_mix_weight", "-0.1"}, "--infonce_mix_weight: must be in [0, 1]"},
      {{"--infonce_temperature", "0"}, "--infonce_temperature: must be in (0, 1)"},
      {{"--infonce_temperature", "-0.07"}, "--infonce_temperature: must be in (0, 1)"},
      {{"--infonce_temperature", "2.659"}, "--infonce_temperature: must be in (0, 1)"},
      {{"--ssl_temperature", "0"}, "--ssl_temperature: must be positive, got 0"},
      {{"--uniform_t", "-2"}, "--uniform_t: must be positive, got -2"},
      {{"--sample_type", "ALL"}, "--sample_type: unknown value 'ALL' (AN, APN, PoN)"},
      {{"--sim_loss", "ge2e"}, "--sim_loss: unknown value 'ge2e' (anglecontrast, angleproto, proto)"},
      {{"--infonce_aam_mix", "yes"}, "--infonce_aam_mix: unknown value 'yes' (auto, false, true)"},
      {{"--lambda_s", "-1"}, "--lambda_s: must be 0 or more"},
      {{"--infonce_cls_margin", "4"}, "--infonce_cls_margin: must be in [0, pi)"},
      {{"--infonce_row_scale", "0"}, "--infonce_row_scale: must be positive"},
      {{"--pyannote_aam_scale", "0"}, "--pyannote_aam_scale: must be positive"},
      {{"--pyannote_triplet_clamp", "hinge"}, "--pyannote_triplet_clamp: unknown value 'hinge'"},
      {{"--pyannote_triplet_sampling", "semi"}, "--pyannote_triplet_sampling: unknown value 'semi'"},
      {{"--trainfunc2", "nope"}, "--trainfunc2: unknown loss 'nope' ("},
      {{"--trainfunc2", "aamsoftmax"}, "--trainfunc2: aamsoftmax needs nPerSpeaker 1, but --nPerSpeaker is 2"},
      {{"--trainfunc2", "uniform", "--trainfunc2_weight", "-1"}, "--trainfunc2_weight: must be 0 or more, got -1"},
      {{"--hardneg_mode", "bert"}, "--hardneg_mode: unknown value 'bert' (blip, classifier, clip, none)"},
      {{"--hardneg_mode", "blip"},
       "--hardneg_mode: blip trains HardNeg's contrastive loss: --trainfunc infonce or aam_infonce, not anglecontrast"},
      {{"--hardneg_mode", "classifier"},
       "--hardneg_mode: classifier trains HardNeg's AAM-softmax: --trainfunc aamsoftmax, not anglecontrast"},
      {{"--blip_itm_weight", "1.5"}, "--blip_itm_weight: must be in [0, 1], got 1.5"},
      {{"--blip_itm_weight", "-0.2"}, "--blip_itm_weight: must be in [0, 1], got -0.2"},
      {{"--blip_itm_heads", "3"}, "--blip_itm_heads: must be positive and divide --nOut 512, got 3"},
      {{"--blip_itm_heads", "0"}, "--blip_itm_heads: must be positive"},
      {{"--vicreg_factor", "-0.1"}, "--vicreg_factor: must be 0 or more, got -0.1"},
      {{"--vicreg_inv_weight", "-1"}, "--vicreg_inv_weight: must be 0 or more, got -1"},
      {{"--vicreg_var_weight", "-2"}, "--vicreg_var_weight: must be 0 or more, got -2"},
      {{"--vicreg_cov_weight", "-0.04"}, "--vicreg_cov_weight: must be 0 or more, got -0.04"},
      {{"--vicreg_factor", "0.1"},
       "--vicreg_factor: 0.1 adds VICReg terms to SimCLR's loss, which only --trainfunc ssl_infonce has, not "
       "anglecontrast"},
      {{"--trainfunc2", "ssl_infonce", "--vicreg_factor", "0.1", "--batch_size", "1"},
       "--vicreg_factor: 0.1 needs --batch_size 2 or more (VICReg's variance is over the batch), got 1"},
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(args.front());
    CHECK_THROWS_WITH_AS(checked(args), doctest::Contains(message.c_str()), UsageError);
  }
}

TEST_CASE("--hardneg_mode: each of HardNeg's modes against the loss and utterances per speaker it needs") {
  auto check = [](std::vector<std::string> args) {
    OptionParser p("spk_train", "", TRAIN);
    args.insert(args.begin(), {"--model", "ECAPA_TDNN_HardNeg", "--nClasses", "10"});
    REQUIRE(parse(p, args));
    validate_train_config(recipe_config(p));
  };
  CHECK_NOTHROW(check({"--hardneg_mode", "classifier", "--trainfunc", "aamsoftmax"}));
  CHECK_NOTHROW(check({"--hardneg_mode", "clip", "--trainfunc", "infonce", "--nPerSpeaker", "2"}));
  CHECK_NOTHROW(check({"--hardneg_mode", "blip", "--trainfunc", "aam_infonce", "--nPerSpeaker", "2"}));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--hardneg_mode", "blip", "--trainfunc", "infonce", "--nPerSpeaker", "3"},
       "--nPerSpeaker: 3 does not suit --trainfunc infonce, which needs nPerSpeaker exactly 2"},
      {{"--hardneg_mode", "blip", "--trainfunc", "infonce"},   // nPerSpeaker's default is 1
       "--nPerSpeaker: 1 does not suit --trainfunc infonce"},
      {{"--hardneg_mode", "classifier", "--trainfunc", "aamsoftmax", "--nPerSpeaker", "2"},
       "--nPerSpeaker: 2 does not suit --trainfunc aamsoftmax"},
      {{"--hardneg_mode", "clip", "--trainfunc", "aamsoftmax"}, "--hardneg_mode: clip trains HardNeg's contrastive"},
      {{"--hardneg_mode", "blip", "--trainfunc", "infonce", "--nPerSpeaker", "2", "--infonce_aam_mix", "false"},
       "--infonce_aam_mix: false does not fit --hardneg_mode blip"},
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(check(args), doctest::Contains(message.c_str()), UsageError);
  }
}

TEST_CASE("loss settings: spk_eval's test_normalize follows cel's --sim_loss (saved in the checkpoint)") {
  RecipeConfig rc;
  rc.trainfunc = "cel";
  rc.sim_loss = "anglecontrast";
  std::string why;
  CHECK(eval_app::resolve_test_normalize("auto", rc, why));
  rc.sim_loss = "proto";   // CEL's __test_normalize__ is False for proto
  CHECK_FALSE(eval_app::resolve_test_normalize("auto", rc, why));
  CHECK(why == "loss cel");
}

#ifdef SPK_TRAIN_BINARY

namespace {

spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_loss_settings");
  return f;
}

// The tiny corpus's recipe with a pair loss (2 batches of 4 speakers x 2 crops per epoch), no evaluation.
std::string pair_recipe(const std::string& trainfunc) {
  const spk::test::TinyCorpus& f = fx();
  return "--model ResNetSE34L --nOut 16 --trainfunc " + trainfunc +
         " --nPerSpeaker 2 --log_input --max_frames 20 --batch_size 4 --nDataLoaderThread 1 --test_list '' "
         "--lr 0.001 --train_path " + (f.dir / "wav").string() + " --train_list " + f.train4;
}

spk::test::AppRun run_train(const std::string& args) { return spk::test::run_binary(SPK_TRAIN_BINARY, args); }

}  // namespace

TEST_CASE("spk_train --trainfunc2 uniform: CEL fine-tuning's loss1 + uniformity trains (seconds)") {
  const std::string out = fx().file("unif");
  const spk::test::AppRun r =
      run_train(pair_recipe("anglecontrast") + " --trainfunc2 uniform --uniform_t 3 --max_epoch 2 --save_path " + out);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("loss anglecontrast + 1*uniformity (--trainfunc2)") != std::string::npos);
  const Checkpoint ck = read_checkpoint(out + "/model/last.safetensors");
  CHECK(ck.state.config["trainfunc2"] == "uniform");
  CHECK(ck.state.config["trainfunc2_weight"] == 1.0);
  CHECK(ck.state.config["uniform_t"] == 3.0);          // the loss settings are saved with the run
  CHECK(ck.state.config["sample_type"] == "PoN");
  for (const auto& [n, t] : ck.file.tensors) CHECK(n.rfind("__L2__.", 0) != 0);   // uniformity has no parameters
  // The loss is anglecontrast + uniformity: uniformity is log mean exp(-3 d^2) < 0 on normalised embeddings,
  // so the logged loss differs from a run without it on the same data.
  const std::string plain = fx().file("plain");
  REQUIRE(run_train(pair_recipe("anglecontrast") + " --max_epoch 1 --save_path " + plain).status == 0);
  auto first_loss = [](const std::string& dir) {
    std::ifstream log(dir + "/train_log.csv");
    std::string line;
    std::getline(log, line);
    std::getline(log, line);
    const size_t a = line.find(',', line.find(',', line.find(',') + 1) + 1);
    return std::stod(line.substr(a + 1));
  };
  CHECK(first_loss(out) < first_loss(plain) - 0.1);
}

TEST_CASE("spk_train --trainfunc2 with parameters: saved as __L2__, restored on resume, fixed, and imported") {
  const std::string out = fx().file("l2");
  const std::string base = pair_recipe("anglecontrast") + " --trainfunc2 angleproto --trainfunc2_weight 0.5";
  const spk::test::AppRun a = run_train(base + " --init_w 7 --max_epoch 1 --save_path " + out);
  INFO(a.output);
  REQUIRE(a.status == 0);
  const Checkpoint one = read_checkpoint(out + "/model/last.safetensors");
  std::map<std::string, Tensor> t1;
  for (const auto& [n, t] : one.file.tensors) t1[n] = t;
  REQUIRE(t1.count("__L__.w"));
  REQUIRE(t1.count("__L2__.w"));
  REQUIRE(t1.count("__L2__.b"));
  CHECK(t1.count("optim.state.__L2__.w.exp_avg") == 1);   // Adam's state of the second loss too
  // Both start from init_w 7 and were trained (the second at half weight).
  CHECK(t1["__L2__.w"].item() != 7.0);
  CHECK(std::abs(t1["__L2__.w"].item() - 7.0) < 0.1);
  CHECK(one.state.config["init_w"] == 7.0);

  // Resume with another second loss: refused, naming the flag.
  const spk::test::AppRun other =
      run_train(pair_recipe("anglecontrast") + " --trainfunc2 ge2e --max_epoch 2 --save_path " + out);
  CHECK(other.status == 2);
  CHECK(other.output.find("--trainfunc2 ge2e differs from angleproto in the checkpoint") != std::string::npos);
  const spk::test::AppRun none = run_train(pair_recipe("anglecontrast") + " --max_epoch 2 --save_path " + out);
  CHECK(none.status == 2);
  CHECK(none.output.find("--trainfunc2  differs from angleproto") != std::string::npos);
  // A loss setting that decides which parameters exist is fixed too (a saved setting, compared on resume).
  const spk::test::AppRun mix = run_train(base + " --init_w 7 --infonce_aam_mix true --max_epoch 2 --save_path " + out);
  CHECK(mix.status == 2);
  CHECK(mix.output.find("--infonce_aam_mix true differs from auto in the checkpoint") != std::string::npos);

  // The same run resumes and goes on from the saved second loss.
  const spk::test::AppRun b = run_train(base + " --init_w 7 --max_epoch 2 --save_path " + out);
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(b.output.find("resuming from") != std::string::npos);
  const Checkpoint two = read_checkpoint(out + "/model/last.safetensors");
  CHECK(two.state.epoch == 2);
  for (const auto& [n, t] : two.file.tensors)
    if (n == "__L2__.w") CHECK(t.item() != t1["__L2__.w"].item());

  // --initial_model takes the __L2__ weights too when the new run has the same second loss (a tiny lr keeps
  // them within 1e-5 of the file's after one epoch).
  double w2 = 0;
  for (const auto& [n, t] : two.file.tensors)
    if (n == "__L2__.w") w2 = t.item();
  const std::string init_dir = fx().file("l2_init");
  const spk::test::AppRun d = run_train(base + " --max_epoch 1 --lr 0.0000001 --initial_model " + out +
                                        "/model/last.safetensors --save_path " + init_dir);
  INFO(d.output);
  REQUIRE(d.status == 0);
  CHECK(d.output.find("second loss weights loaded") != std::string::npos);
  bool found = false;
  for (const auto& [n, t] : read_checkpoint(init_dir + "/model/last.safetensors").file.tensors)
    if (n == "__L2__.w") {
      found = true;
      CHECK(std::abs(t.item() - w2) < 1e-5);
      CHECK(std::abs(t.item() - 10.0) > 1);   // not the fresh init_w 10
    }
  CHECK(found);
}

TEST_CASE("spk_train --hardneg_mode blip: the ITM head trains with the encoder and is saved with the loss") {
  const std::string out = fx().file("blip");
  const std::string base = pair_recipe("infonce") + " --hardneg_mode blip --nClasses 4 --save_path " + out;
  const spk::test::AppRun r = run_train(base + " --max_epoch 2");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const Checkpoint ck = read_checkpoint(out + "/model/last.safetensors");
  CHECK(ck.state.config["hardneg_mode"] == "blip");
  std::map<std::string, Tensor> by_name;
  for (const auto& [n, t] : ck.file.tensors) by_name[n] = t;
  for (const char* name : {"__L__.logit_scale", "__L__.aam.weight", "__L__.attn.in_proj_weight",
                           "__L__.attn.out_proj.weight", "__L__.itm_head.weight", "__L__.itm_head.bias"}) {
    CAPTURE(name);
    CHECK(by_name.count(name) == 1);
  }
  REQUIRE(by_name.count("__L__.itm_head.weight"));
  CHECK(by_name["__L__.itm_head.weight"].shape() == Shape{2, 16});
  // The mode is part of the run: a resume with another mode is refused, naming the flag.
  const spk::test::AppRun c = run_train(pair_recipe("infonce") + " --hardneg_mode clip --nClasses 4 --max_epoch 3 "
                                        "--save_path " + out);
  CHECK(c.status == 2);
  CHECK(c.output.find("--hardneg_mode") != std::string::npos);
  // Bad input fails before any work: no checkpoint folder.
  const spk::test::AppRun bad = run_train(pair_recipe("infonce") + " --hardneg_mode blip --nPerSpeaker 3 "
                                          "--nClasses 4 --max_epoch 1 --save_path " + fx().file("blip3"));
  CHECK(bad.status == 2);
  CHECK(bad.output.find("--nPerSpeaker") != std::string::npos);
  CHECK_FALSE(fs::exists(fx().file("blip3") + "/model"));
}

TEST_CASE("spk_train: a bad loss setting fails before any work, naming the flag") {
  // The training list does not exist: the flag's error comes first.
  const spk::test::AppRun r = spk::test::run_binary(
      SPK_TRAIN_BINARY,
      "--model ResNetSE34L --trainfunc cel --nPerSpeaker 2 --sample_type XX --train_list /nonexistent");
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error: --sample_type: unknown value 'XX'") != std::string::npos);
  const spk::test::AppRun s = spk::test::run_binary(
      SPK_TRAIN_BINARY, "--model ResNetSE34L --trainfunc softmax --trainfunc2 unif --train_list /nonexistent");
  CHECK(s.status == 2);
  CHECK(s.output.find("spk_train: error: --trainfunc2: unknown loss 'unif'") != std::string::npos);
  // A second loss with a classifier (aam_infonce mixes in AAM-softmax) needs --nClasses to cover the training list,
  // checked with the list, before the model is built.
  const spk::test::AppRun c = run_train(pair_recipe("anglecontrast") + " --trainfunc2 aam_infonce --nClasses 2" +
                                        " --max_epoch 1 --save_path " + fx().file("cls2"));
  CHECK(c.status == 2);
  CHECK(c.output.find("--nClasses: 2 is fewer than the 4 speakers") != std::string::npos);
  CHECK(c.output.find("for --trainfunc2 aam_infonce") != std::string::npos);
  CHECK_FALSE(fs::exists(fx().file("cls2") + "/model"));
}

#endif
