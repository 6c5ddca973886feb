// Flags and YAML config files (apps/recipe/config.h), and every recipe file in configs/: it parses, passes the
// training checks, builds its model and loss, and notes the anchor's published figure.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "apps/recipe/config.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/recipe_parts.h"
#include "apps/recipe/trainer.h"
#include "losses/loss.h"
#include "losses/second_loss.h"
#include "nets/model.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

// Parses args (without the program name) for spk_train; true unless --help.
bool parse(OptionParser& p, std::vector<std::string> args) {
  std::vector<const char*> argv = {"spk_train"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return p.parse(int(argv.size()), argv.data());
}

std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / ("spk_test_config_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("config: defaults are voxceleb_trainer's") {
  OptionParser p("spk_train", "", TRAIN);
  REQUIRE(parse(p, {}));
  const RecipeConfig c = recipe_config(p);
  CHECK(c.max_frames == 200);
  CHECK(c.eval_frames == 300);
  CHECK(c.batch_size == 200);
  CHECK(c.nPerSpeaker == 1);
  CHECK(c.max_seg_per_spk == 500);
  CHECK(c.lr == 0.001);
  CHECK(c.lr_decay == 0.95);
  CHECK(c.test_interval == 10);
  CHECK(c.margin == 0.1);
  CHECK(c.scale == 30);
  CHECK(c.nOut == 512);
  CHECK(c.n_mels == 40);
  CHECK(c.seed == 10);
  CHECK(c.dcf_p_target == 0.05);
  CHECK(!c.log_input);
  CHECK(c.encoder_type == "SAP");
  CHECK(p.source("lr") == OptionSource::default_value);
}

TEST_CASE("config: the command line wins over the YAML file, which wins over the defaults") {
  const std::string yaml = write_temp("prec.yaml", "lr: 0.01\nmax_frames: 300\nlog_input: True\nmodel: VGGVox\n");
  OptionParser p("spk_train", "", TRAIN);
  REQUIRE(parse(p, {"--lr", "0.5", "--config", yaml}));
  CHECK(p.real("lr") == 0.5);
  CHECK(p.source("lr") == OptionSource::command_line);
  CHECK(p.integer("max_frames") == 300);
  CHECK(p.source("max_frames") == OptionSource::yaml);
  CHECK(p.boolean("log_input"));
  CHECK(p.str("model") == "VGGVox");
  CHECK(p.integer("batch_size") == 200);
  CHECK(p.config_path() == yaml);
}

TEST_CASE("config: booleans, repeated flags and numbers") {
  SUBCASE("a boolean flag alone is true; a value may follow it") {
    OptionParser p("spk_train", "", TRAIN);
    REQUIRE(parse(p, {"--augment", "--log_input", "False", "--skip_bad_files=yes"}));
    CHECK(p.boolean("augment"));
    // voxceleb_trainer's `--log_input False` means no log: its README's "trained with --log_input False" meant
    // "without the flag" (store_true era), although the later type=bool parser read "False" as true.
    CHECK(!p.boolean("log_input"));
    CHECK(p.boolean("skip_bad_files"));
  }
  SUBCASE("the last of a repeated flag wins, as argparse") {
    OptionParser p("spk_train", "", TRAIN);
    REQUIRE(parse(p, {"--lr", "0.1", "--lr", "0.2"}));
    CHECK(p.real("lr") == 0.2);
  }
  SUBCASE("values of the wrong kind name the flag") {
    OptionParser p("spk_train", "", TRAIN);
    CHECK_THROWS_WITH_AS(parse(p, {"--nOut", "12.5"}), doctest::Contains("--nOut: '12.5' is not an integer"),
                         UsageError);
    OptionParser q("spk_train", "", TRAIN);
    CHECK_THROWS_WITH_AS(parse(q, {"--lr", "inf"}), doctest::Contains("--lr: 'inf' is not a finite number"), UsageError);
    OptionParser r("spk_train", "", TRAIN);
    CHECK_THROWS_WITH_AS(parse(r, {"--nope"}), doctest::Contains("--nope"), UsageError);
  }
  SUBCASE("an app rejects the other app's flags on its command line") {
    OptionParser p("spk_eval", "", EVAL);
    CHECK_THROWS_AS(parse(p, {"--lr", "0.1"}), UsageError);
  }
}

TEST_CASE("config: YAML errors name the file and line") {
  OptionParser p("spk_train", "", TRAIN);
  const std::string bad = write_temp("bad.yaml", "lr: 0.01\n\nbatchsize: 3\n");
  CHECK_THROWS_WITH_AS(parse(p, {"--config", bad}), doctest::Contains("bad.yaml:3: unknown option 'batchsize'"),
                       UsageError);
  OptionParser q("spk_train", "", TRAIN);
  const std::string nested = write_temp("nested.yaml", "model:\n  name: x\n");
  CHECK_THROWS_WITH_AS(parse(q, {"--config", nested}), doctest::Contains("nested.yaml:1: model: expected a single value"),
                       UsageError);
  OptionParser r("spk_train", "", TRAIN);
  const std::string broken = write_temp("broken.yaml", "lr: [0.1\n");
  CHECK_THROWS_WITH_AS(parse(r, {"--config", broken}), doctest::Contains("not valid YAML"), UsageError);
  // A value on the command line does not excuse a bad value for the same key in the file.
  OptionParser s("spk_train", "", TRAIN);
  const std::string badval = write_temp("badval.yaml", "lr: fast\n");
  CHECK_THROWS_WITH_AS(parse(s, {"--lr", "0.1", "--config", badval}), doctest::Contains("badval.yaml:1: lr"),
                       UsageError);
  // spk_eval reads a training recipe: the training keys are accepted there and ignored.
  OptionParser e("spk_eval", "", EVAL);
  const std::string recipe = write_temp("recipe.yaml", "model: ResNetSE34L\nlr: 0.1\neval_frames: 400\n");
  REQUIRE(parse(e, {"--config", recipe}));
  CHECK(e.integer("eval_frames") == 400);
}

TEST_CASE("config: the effective options round-trip through YAML") {
  OptionParser p("spk_train", "", TRAIN);
  REQUIRE(parse(p, {"--model", "ECAPA_TDNN", "--lr", "0.0123456789012345", "--augment", "--save_path", "a b"}));
  const std::string yaml = write_temp("dump.yaml", p.to_yaml());
  OptionParser q("spk_train", "", TRAIN);
  REQUIRE(parse(q, {"--config", yaml}));
  CHECK(q.values() == p.values());
  // encoder_type not given: ECAPA_TDNN gets its own pooling rather than voxceleb_trainer's SAP default.
  CHECK(recipe_config(p).encoder_type.empty());
}

TEST_CASE("config: --sinc_stride reaches the model; SincTDNN and RawNet3 default to their own pooling") {
  OptionParser p("spk_train", "", TRAIN);
  REQUIRE(parse(p, {"--model", "RawNet3", "--sinc_stride", "5"}));
  const RecipeConfig c = recipe_config(p);
  CHECK(c.encoder_type.empty());   // RawNet3's ECA, not voxceleb_trainer's SAP default
  CHECK(model_config(c).sinc_stride == 5);
  OptionParser q("spk_train", "", TRAIN);
  REQUIRE(parse(q, {"--model", "SincTDNN"}));
  CHECK(recipe_config(q).encoder_type.empty());
  CHECK(model_config(recipe_config(q)).sinc_stride == 0);   // 0: the model's own (SincTDNN 5, RawNet3 10)
}

TEST_CASE("configs/: every recipe parses, passes the checks and builds its model and loss") {
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(SPK_CONFIGS_DIR)) {   // loss_comparison/ too
    if (e.path().extension() != ".yaml") continue;
    ++files;
    const std::string path = e.path().string();
    CAPTURE(path);
    OptionParser p("spk_train", "", TRAIN);
    REQUIRE(parse(p, {"--config", path}));
    RecipeConfig c = recipe_config(p);
    if (c.nClasses == 0) c.nClasses = 200;   // the demo takes it from its list
    validate_train_config(c);
    frontend_config(c);
    auto model = make_model(c.model, model_config(c));
    CHECK(model->embedding_dim() == c.nOut);
    const LossConfig lc = loss_config(c);
    CHECK(make_loss(c.trainfunc, lc) != nullptr);
    if (!c.trainfunc2.empty()) CHECK(make_second_loss(c.trainfunc2, lc) != nullptr);
    // Each anchor recipe notes what its reference published (the demo notes what it reaches here).
    std::ifstream f(path);
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(text.find("EER") != std::string::npos);
  }
  CHECK(files >= 10);
}
