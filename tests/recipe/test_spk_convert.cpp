// spk_convert, the built binary: safetensors -> .model -> safetensors is bit-identical, --list, an spk training
// checkpoint exported with each anchor's naming (optimiser state never exported), and every bad call failing
// with a message naming the flag or file, exit status 2 and no output file.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "apps/recipe/checkpoint.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "recipe/app_run.h"
#include "support/check.h"

#ifdef SPK_CONVERT_BINARY

using namespace spk;
namespace fs = std::filesystem;

namespace {

spk::test::AppRun convert(const std::string& args) { return spk::test::run_binary(SPK_CONVERT_BINARY, args); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> names_of(const NamedTensors& ts) {
  std::vector<std::string> out;
  for (const auto& [n, _] : ts) out.push_back(n);
  return out;
}

struct Files {
  fs::path dir;
  std::string plain, spk_ckpt;
  NamedTensors tensors;
  Files() {
    dir = fs::temp_directory_path() / ("spk_test_spk_convert_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    Rng rng(5);
    tensors = {{"conv.weight", Tensor::uniform({4, 1, 3, 3}, rng, -1, 1)},
               {"bn.running_var", Tensor::uniform({4}, rng, 0, 1, DType::f64)},
               {"bn.num_batches_tracked", Tensor::scalar(17, DType::i64)},
               {"h", Tensor::uniform({3}, rng, -1, 1).to(DType::f16)},
               {"b", Tensor::uniform({5}, rng, -1, 1).to(DType::bf16)},
               {"idx", Tensor::from_vector(std::vector<double>{-2, 0, 9}, {3}, DType::i32)},
               {"empty", Tensor::zeros({0, 2})}};
    plain = file("plain.safetensors");
    save_safetensors(plain, tensors);
    // An spk training checkpoint's naming: model, loss, optimiser state and the format marker.
    NamedTensors ck;
    for (const auto& [n, t] : tensors) ck.emplace_back("__S__." + n, t);
    ck.emplace_back("__L__.fc.weight", Tensor::uniform({3, 4}, rng, -1, 1));
    ck.emplace_back("optim.__S__.conv.weight.exp_avg", Tensor::zeros({4, 1, 3, 3}));
    spk_ckpt = file("ck.safetensors");
    save_safetensors(spk_ckpt, ck, {{"spk.format", recipe::kCheckpointFormat}, {"spk.epoch", "3"}});
  }
  ~Files() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

const Files& files() {
  static Files f;
  return f;
}

}  // namespace

TEST_CASE("spk_convert: safetensors -> .model -> safetensors is bit-identical, and torch.load's view is right") {
  const Files& f = files();
  const std::string model = f.file("rt.model"), back = f.file("rt.safetensors");
  auto r = convert(f.plain + " " + model);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.last_line().find("wrote " + model + ": 7 tensors (PyTorch)") != std::string::npos);
  CHECK(io::is_torch_checkpoint(model));
  r = convert(model + " " + back);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(slurp(back) == slurp(f.plain));

  // The .model itself, read back: the safetensors file's names in its order, dtypes, shapes, values.
  const io::TorchCheckpoint ck = io::load_torch_checkpoint(model);
  const NamedTensors src = load_safetensors(f.plain).tensors;
  CHECK(names_of(ck.tensors) == names_of(src));
  REQUIRE(ck.tensors.size() == src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    CAPTURE(src[i].first);
    CHECK(ck.tensors[i].second.dtype() == src[i].second.dtype());
    test::expect_close(ck.tensors[i].second, src[i].second, 0, 0, src[i].first);
  }
  // .pt and .pth are PyTorch too.
  for (const char* ext : {".pt", ".pth"}) {
    r = convert(f.plain + " " + f.file(std::string("x") + ext));
    CHECK_MESSAGE(r.status == 0, r.output);
    CHECK(io::is_torch_checkpoint(f.file(std::string("x") + ext)));
  }
}

TEST_CASE("spk_convert --list: one line per tensor, the other values, a count") {
  const Files& f = files();
  auto r = convert("--list " + f.spk_ckpt);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("__S__.conv.weight f32 (4, 1, 3, 3)\n") != std::string::npos);
  CHECK(r.output.find("__S__.bn.num_batches_tracked i64 ()\n") != std::string::npos);
  CHECK(r.output.find("__S__.b bf16 (5)\n") != std::string::npos);
  CHECK(r.output.find("__S__.empty f32 (0, 2)\n") != std::string::npos);
  CHECK(r.output.find("spk.epoch = 3\n") != std::string::npos);
  CHECK(r.last_line() == "9 tensors (100 elements), 2 other values; spk checkpoint");

  const std::string model = f.file("list.model");
  REQUIRE(convert(f.plain + " " + model).status == 0);
  r = convert("--list " + model);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("h f16 (3)\n") != std::string::npos);
  CHECK(r.last_line() == "7 tensors (52 elements), 0 other values; torch (zip)");
}

TEST_CASE("spk_convert: an spk checkpoint with each anchor's naming; optimiser state never exported") {
  const Files& f = files();
  auto names_in = [&](const std::string& model) { return names_of(io::load_torch_checkpoint(model).tensors); };
  // The checkpoint's order (safetensors data order), model entries only, without the prefix.
  std::vector<std::string> model_names;
  for (const auto& n : names_of(load_safetensors(f.spk_ckpt).tensors))
    if (n.rfind("__S__.", 0) == 0) model_names.push_back(n.substr(6));

  SUBCASE("voxceleb_trainer (default): __S__. and __L__. kept, optim.* left out") {
    const std::string out = f.file("vt.model");
    auto r = convert(f.spk_ckpt + " " + out);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    CHECK(r.output.find("left out 1 optimiser state tensors") != std::string::npos);
    std::vector<std::string> want;
    for (const auto& n : names_of(load_safetensors(f.spk_ckpt).tensors))
      if (n.rfind("optim.", 0) != 0) want.push_back(n);
    CHECK(want.size() == f.tensors.size() + 1);
    CHECK(names_in(out) == want);
  }
  SUBCASE("wespeaker: --model_only --strip_prefix __S__. gives bare names") {
    const std::string out = f.file("ws.pt");
    auto r = convert(f.spk_ckpt + " " + out + " --model_only --strip_prefix __S__.");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    CHECK(names_in(out) == model_names);
    for (const auto& [n, t] : io::load_torch_checkpoint(out).tensors)
      if (n == "conv.weight") test::expect_close(t, f.tensors[0].second, 0, 0, n);
  }
  SUBCASE("TaoRuijie's ECAPA: --add_prefix speaker_encoder.") {
    const std::string out = f.file("ecapa.model");
    auto r = convert(f.spk_ckpt + " " + out + " --model_only --strip_prefix __S__. --add_prefix speaker_encoder.");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    std::vector<std::string> want;
    for (const auto& n : model_names) want.push_back("speaker_encoder." + n);
    CHECK(names_in(out) == want);
    // ... and --model_only recognises that naming on the way back.
    const std::string back = f.file("ecapa_back.safetensors");
    r = convert(out + " " + back + " --model_only --strip_prefix speaker_encoder.");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    CHECK(names_of(load_safetensors(back).tensors) == names_of(load_safetensors(f.plain).tensors));
    CHECK(slurp(back) == slurp(f.plain));   // the same tensors in the same order: the same file
  }
  SUBCASE("to safetensors: weights without the training metadata") {
    const std::string out = f.file("weights.safetensors");
    auto r = convert(f.spk_ckpt + " " + out + " --model_only");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const SafetensorsFile s = load_safetensors(out);
    CHECK(s.metadata.empty());
    CHECK(s.tensors.size() == f.tensors.size());
  }
}

TEST_CASE("spk_convert: every bad call names the flag or file, exits 2 and writes nothing") {
  const Files& f = files();
  const std::string out = f.file("never.model");
  std::ofstream(f.file("garbage.model")) << "this is not a checkpoint";
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {f.file("missing.model") + " " + out, "IN: no such file '" + f.file("missing.model") + "'"},
      {f.dir.string() + " " + out, "is a directory"},
      {f.file("garbage.model") + " " + out, "IN '" + f.file("garbage.model") + "' is neither"},
      {f.plain + " " + f.file("x.bin"), "OUT '" + f.file("x.bin") + "': unknown extension '.bin'"},
      {f.plain + " " + f.file("x"), "unknown extension ''"},
      {f.plain + " " + out + " --strip_prefix nothing.", "--strip_prefix 'nothing.' matches none"},
      {f.plain + " " + out + " --model_only", "--model_only: '" + f.plain + "' has no model entries"},
      {f.plain + " " + out + " --add_prefix ''", "--add_prefix: empty prefix"},
      {f.plain, "OUT: required"},
      {"--list " + f.plain + " " + out, "--list takes only IN"},
      {"--list " + f.plain + " --model_only", "--list does not take"},
      {f.plain + " " + out + " --lr 0.1", "--lr"},
      {"", "IN is required"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    auto r = convert(c.args);
    CHECK(r.status == 2);
    CHECK_MESSAGE(r.output.find("spk_convert: error: ") != std::string::npos, r.output);
    CHECK_MESSAGE(r.output.find(c.message) != std::string::npos, r.output);
    CHECK_FALSE(fs::exists(out));
  }
  // A prefix that strips two names to the same one.
  NamedTensors clash{{"a.x", Tensor::zeros({1})}, {"b.x", Tensor::zeros({1})}, {"x", Tensor::zeros({1})}};
  save_safetensors(f.file("clash.safetensors"), clash);
  auto r = convert(f.file("clash.safetensors") + " " + out + " --strip_prefix a.");
  CHECK(r.status == 2);
  CHECK_MESSAGE(r.output.find("makes two entries named 'x'") != std::string::npos, r.output);
  CHECK_FALSE(fs::exists(out));
}

#endif  // SPK_CONVERT_BINARY
