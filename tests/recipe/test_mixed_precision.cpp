// --mixedprec and --cuda_graph of spk_train on the tiny corpus (CPU: the casts emulated or, bf16 convs on a CPU
// with AVX512-BF16/AMX, oneDNN's bf16 kernels; CUDA graphs impossible).
// bf16 learns and stays close to fp32; fp16's loss scaling skips the steps whose gradients overflow without
// moving a parameter, saves its scale in the checkpoint and resumes bit for bit; --cuda_graph on the CPU says it
// falls back and gives the same results as without it; bad values name the flag before any work.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/mixed_precision.h"
#include "engine/conv_context.h"
#include "engine/safetensors.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

TEST_CASE("MixedPrecision: the flag's values, the scaler's checkpoint state and its checks") {
  CHECK(parse_mixedprec("off") == std::nullopt);
  CHECK(parse_mixedprec("false") == std::nullopt);
  CHECK(parse_mixedprec("bf16") == DType::bf16);
  CHECK(parse_mixedprec("true") == DType::bf16);
  CHECK(parse_mixedprec("fp16") == DType::f16);
  CHECK_THROWS_AS(parse_mixedprec("f16"), UsageError);
  MixedPrecision off("off", Device::cpu()), bf16("bf16", Device::cpu());
  CHECK(off.describe().empty());
  CHECK(off.checkpoint_state().is_null());
  CHECK(bf16.checkpoint_state().is_null());
  CHECK(!bf16.scales_loss());
  MixedPrecision fp16("fp16", Device::cpu());
  CHECK(fp16.restore(nullptr, "a.safetensors").find("has no loss scale") != std::string::npos);
  CHECK(fp16.restore(nlohmann::json{{"scale", 2048.0}, {"growth_tracker", 5}}, "a.safetensors").empty());
  CHECK(fp16.checkpoint_state() == nlohmann::json{{"scale", 2048.0}, {"growth_tracker", 5}});
  CHECK_THROWS_WITH(fp16.restore(nlohmann::json{{"scale", "big"}}, "a.safetensors"),
                    doctest::Contains("checkpoint a.safetensors: metadata 'spk.loss_scaler' needs a number"));
  CHECK_THROWS_WITH(fp16.restore(nlohmann::json{{"scale", -1.0}, {"growth_tracker", 0}}, "a.safetensors"),
                    doctest::Contains("finite and > 0"));
}

TEST_CASE("MixedPrecision fp16: a scale halved below 2^-24 stops the run as a divergence") {
  MixedPrecision fp16("fp16", Device::cpu());
  for (int i = 0; i < 40; ++i) REQUIRE_NOTHROW(fp16.overflow(1, 1, 1));   // 2^16 -> 2^-24
  CHECK(fp16.scale() == std::ldexp(1.0f, -24));
  CHECK_THROWS_WITH(fp16.overflow(3, 2, 9), doctest::Contains("training stopped (--mixedprec fp16): inf/NaN gradients "
                                                              "at epoch 3, batch 2 (step 9): the loss scale fell"));
}

#ifdef SPK_TRAIN_BINARY

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& corpus() {
  static spk::test::TinyCorpus c("spk_test_amp");
  return c;
}

Run run_train(const std::string& args, const std::string& env = "") {
  return spk::test::run_binary(SPK_TRAIN_BINARY, args, env);
}

// 4 batches of 4 speakers per epoch, no evaluation.
std::string train_args(const std::string& name, int epochs) {
  const auto& c = corpus();
  return c.no_eval + " --train_list " + c.train4 + " --max_epoch " + std::to_string(epochs) + " --save_path " +
         c.file(name);
}

std::string last_ckpt(const std::string& name) { return corpus().file(name) + "/model/last.safetensors"; }

// The loss column of train_log.csv, one value per epoch.
std::vector<double> epoch_losses(const std::string& name) {
  std::ifstream log(corpus().file(name) + "/train_log.csv");
  std::string line;
  std::getline(log, line);
  std::vector<double> losses;
  while (std::getline(log, line)) {
    std::vector<std::string> cols;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cols.push_back(c);
    losses.push_back(std::stod(cols.at(3)));
  }
  return losses;
}

// Largest absolute difference over the float tensors of two checkpoints (0: bit-identical); params_only leaves
// out BatchNorm's running statistics, which every forward moves, taken step or not.
double worst_difference(const std::string& a, const std::string& b, bool params_only = false) {
  const auto ta = load_safetensors(a).tensors, tb = load_safetensors(b).tensors;
  REQUIRE(ta.size() == tb.size());
  double worst = 0;
  for (size_t i = 0; i < ta.size(); ++i) {
    REQUIRE(ta[i].first == tb[i].first);
    if (!is_floating(ta[i].second.dtype())) continue;
    if (params_only && ta[i].first.find("running_") != std::string::npos) continue;
    const auto x = ta[i].second.to_double(), y = tb[i].second.to_double();
    for (size_t j = 0; j < x.size(); ++j) worst = std::max(worst, std::abs(x[j] - y[j]));
  }
  return worst;
}

}  // namespace

TEST_CASE("--mixedprec bf16 on the CPU: the loss falls and stays close to fp32's") {
  const Run fp32 = run_train(train_args("fp32", 4));
  const Run bf16 = run_train(train_args("bf16", 4) + " --mixedprec bf16");
  INFO(fp32.output);
  INFO(bf16.output);
  REQUIRE(fp32.status == 0);
  REQUIRE(bf16.status == 0);
  CHECK(bf16.output.find("--mixedprec bf16: matmul/linear and conv1d/conv2d") != std::string::npos);
  // Which bf16 convs ran, as the log says: oneDNN's bf16 kernels where this CPU has them (ConvCpuOptions::bf16).
  CHECK(bf16.output.find(bf16_dnnl_usable() ? "the convs run oneDNN's bf16 kernels" : "the bf16 casts are emulated") !=
        std::string::npos);
  const auto a = epoch_losses("fp32"), b = epoch_losses("bf16");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  // The first epochs: the rounding alone (0.05 % and 0.9 % when written). Later the two runs drift apart as any two
  // that round differently do on this tiny, fast-learning problem (epoch 4: fp32 0.33, bf16 0.25), but both learn.
  CHECK(std::abs(a[0] - b[0]) < 0.01 * a[0]);
  CHECK(std::abs(a[1] - b[1]) < 0.03 * a[1]);
  CHECK(a.back() < 0.5 * a.front());
  CHECK(b.back() < 0.5 * b.front());
  CHECK(std::abs(std::log(b.back() / a.back())) < std::log(1.6));
  // ... and the casts are real: the weights differ from fp32's.
  CHECK(worst_difference(last_ckpt("fp32"), last_ckpt("bf16")) > 0);
  CHECK(read_checkpoint(last_ckpt("bf16")).state.loss_scaler.is_null());   // bf16: no loss scaling
}

TEST_CASE("--mixedprec fp16: steps with inf/NaN gradients are skipped, the scale backs off, nothing moves") {
  // Every step's gradients poisoned: 4 skips, 65536 halved 4 times, and the parameters are the initial ones (an
  // fp32 run whose steps are all skipped by --nan_policy skip has them too; the running statistics differ, as the
  // forward passes ran in another precision).
  const Run r = run_train(train_args("fp16_skip", 1) + " --mixedprec fp16", "SPK_FAULT=train.grad:fail@1-4");
  const Run ref = run_train(train_args("fp32_skip", 1) + " --nan_policy skip", "SPK_FAULT=train.grad:fail@1-4");
  INFO(r.output);
  INFO(ref.output);
  REQUIRE(r.status == 0);
  REQUIRE(ref.status == 0);
  CHECK(r.output.find("on the CPU the fp16 casts are emulated") != std::string::npos);
  CHECK(r.output.find("--mixedprec fp16: inf/NaN gradients at epoch 1, batch 1 (step 1): step skipped, loss scale "
                      "65536 -> 32768") != std::string::npos);
  CHECK(r.output.find("batch 4 (step 1): step skipped, loss scale 8192 -> 4096") != std::string::npos);
  const Checkpoint ck = read_checkpoint(last_ckpt("fp16_skip"));
  CHECK(ck.state.step == 0);
  CHECK(ck.state.loss_scaler == nlohmann::json{{"scale", 4096.0}, {"growth_tracker", 0}});
  CHECK(worst_difference(last_ckpt("fp16_skip"), last_ckpt("fp32_skip"), true) == 0.0);
}

TEST_CASE("--mixedprec fp16: the loss scale is saved and a resumed run is bit-identical to an uninterrupted one") {
  // One poisoned step in epoch 1 so the saved scale is not the initial one.
  const Run whole = run_train(train_args("fp16_whole", 2) + " --mixedprec fp16", "SPK_FAULT=train.grad:fail@2");
  const Run first = run_train(train_args("fp16_resume", 1) + " --mixedprec fp16", "SPK_FAULT=train.grad:fail@2");
  INFO(whole.output);
  INFO(first.output);
  REQUIRE(whole.status == 0);
  REQUIRE(first.status == 0);
  const Checkpoint mid = read_checkpoint(last_ckpt("fp16_resume"));
  REQUIRE(mid.state.loss_scaler.is_object());
  CHECK(mid.state.loss_scaler["scale"].get<double>() <= 32768.0);
  const Run second = run_train(train_args("fp16_resume", 2) + " --mixedprec fp16");
  INFO(second.output);
  REQUIRE(second.status == 0);
  CHECK(second.output.find("resuming from") != std::string::npos);
  const Checkpoint a = read_checkpoint(last_ckpt("fp16_whole")), b = read_checkpoint(last_ckpt("fp16_resume"));
  CHECK(a.state.step == b.state.step);
  CHECK(a.state.loss_scaler == b.state.loss_scaler);
  CHECK(worst_difference(a.path, b.path) == 0.0);
  CHECK(epoch_losses("fp16_whole") == epoch_losses("fp16_resume"));
}

TEST_CASE("--cuda_graph on the CPU: the fallback is in the log and the results are those without the flag") {
  const Run plain = run_train(train_args("eager", 1));
  const Run graph = run_train(train_args("graph", 1) + " --cuda_graph");
  INFO(graph.output);
  REQUIRE(plain.status == 0);
  REQUIRE(graph.status == 0);
  CHECK(graph.output.find("--cuda_graph: not captured, the step runs eagerly (the same results as without the "
                          "flag): --device cpu has no CUDA graphs") != std::string::npos);
  CHECK(plain.output.find("--cuda_graph") == std::string::npos);
  CHECK(worst_difference(last_ckpt("eager"), last_ckpt("graph")) == 0.0);
  CHECK(epoch_losses("eager") == epoch_losses("graph"));
}

TEST_CASE("--mixedprec: an unknown value names the flag and fails before any work") {
  const Run r = run_train(train_args("bad_amp", 1) + " --mixedprec fp8");
  INFO(r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error: --mixedprec: 'fp8' is not one of off, bf16, fp16") != std::string::npos);
  CHECK(!fs::exists(corpus().file("bad_amp") + "/model"));
}

#endif  // SPK_TRAIN_BINARY
