// spk_export, the built app (apps/spk_export.cpp): a checkpoint in, an ONNX file out that ONNX's checker accepts,
// with the model settings from the checkpoint's saved config or from the flags; and every bad call refused with a
// message naming the file or the model, status 2, and no output file left behind.
#include <filesystem>
#include <fstream>

#include <onnx/checker.h>

#include "apps/recipe/checkpoint.h"
#include "engine/optim.h"
#include "engine/safetensors.h"
#include "losses/loss.h"
#include "nets/model.h"
#include "recipe/app_run.h"
#include "support/check.h"
#include "support/tmp_files.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

test::AppRun run_export(const std::string& args) { return test::run_binary(SPK_EXPORT_BINARY, args); }

// An spk checkpoint of a freshly initialised model, its config in the metadata as spk_train writes it.
void save_spk_checkpoint(const std::string& path, const std::string& model, const nlohmann::json& extra = nlohmann::json::object()) {
  ModelConfig mc;
  mc.n_mels = extra.value("n_mels", int64_t(40));
  mc.nOut = 8;
  mc.encoder_type = extra.value("encoder_type", std::string(""));
  auto net = make_model(model, mc);
  LossConfig lc;
  lc.nOut = 8;
  lc.nClasses = 3;
  auto loss = make_loss("softmax", lc);
  Adam opt(training_parameters(*net, *loss), 0.001);
  TrainingState st;
  st.config = {{"model", model}, {"nOut", 8}, {"n_mels", mc.n_mels}, {"trainfunc", "softmax"}, {"log_input", true}};
  if (!mc.encoder_type.empty()) st.config["encoder_type"] = mc.encoder_type;
  st.speakers = audio::LabelMap::from_ids({"a", "b", "c"});
  save_checkpoint(path, *net, *loss, opt, st);
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("spk_export: an spk checkpoint becomes an ONNX file the checker accepts") {
  test::TmpDir tmp("spk_export");
  const std::string ckpt = tmp / "model.safetensors", out = tmp / "model.onnx";
  save_spk_checkpoint(ckpt, "ResNetSE34L");
  const test::AppRun r = run_export("--onnx " + out + " --initial_model " + ckpt);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(has(r.output, "wrote " + out));
  CHECK_NOTHROW(onnx::checker::check_model(out));

  // A weights-only file has no config: the model flags (here from a YAML file) say what it is.
  NamedTensors w;
  ModelConfig mc;
  mc.nOut = 8;
  for (const auto& [n, t] : make_model("ResNetSE34L", mc)->state()) w.emplace_back("__S__." + n, t);
  const std::string bare = tmp / "weights.safetensors", yaml = tmp / "model.yaml", out2 = tmp / "bare.onnx";
  save_safetensors(bare, w);
  std::ofstream(yaml) << "model: ResNetSE34L\nnOut: 8\nlog_input: true\n";
  const test::AppRun b = run_export("--onnx " + out2 + " --initial_model " + bare + " --config " + yaml);
  INFO(b.output);
  CHECK(b.status == 0);
  CHECK_NOTHROW(onnx::checker::check_model(out2));
}

TEST_CASE("spk_export: bad calls fail with a message naming the problem, status 2, and write nothing") {
  test::TmpDir tmp("spk_export_bad");
  const std::string ckpt = tmp / "model.safetensors", out = tmp / "out.onnx";
  save_spk_checkpoint(ckpt, "ResNetSE34L");

  SUBCASE("missing checkpoint") {
    const test::AppRun r = run_export("--onnx " + out + " --initial_model " + tmp / "nope.safetensors");
    CHECK(r.status == 2);
    CHECK(has(r.output, "spk_export: error: --initial_model: no such file"));
  }
  SUBCASE("no --onnx") {
    const test::AppRun r = run_export("--initial_model " + ckpt);
    CHECK(r.status == 2);
    CHECK(has(r.output, "--onnx: required"));
  }
  SUBCASE("a model the exporter does not cover") {
    // Every spk model is covered now; a name that is not one of them is refused before the checkpoint is used.
    const test::AppRun r = run_export("--onnx " + out + " --initial_model " + ckpt + " --model NotAModel");
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(has(r.output, "--model: cannot export: model NotAModel is not covered by the ONNX exporter"));
  }
  SUBCASE("an output path that cannot be written") {
    const std::string bad = tmp / "no_such_dir/out.onnx";
    const test::AppRun r = run_export("--onnx " + bad + " --initial_model " + ckpt);
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(has(r.output, "--onnx " + bad));
  }
  SUBCASE("a checkpoint that does not fit the model flags") {
    const test::AppRun r = run_export("--onnx " + out + " --initial_model " + ckpt + " --nOut 32");
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(has(r.output, "does not fit --model ResNetSE34L"));
  }
  CHECK_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(tmp.dir))   // no temporary file of the output left either
    CHECK_MESSAGE(e.path().extension() != ".onnx", e.path().string());
}
