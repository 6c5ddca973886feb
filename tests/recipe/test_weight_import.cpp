// Importing weights trained elsewhere (apps/recipe/weight_import.cpp): every anchor's naming scheme, entries the
// model does not have, a missing num_batches_tracked, precision conversion, and the errors, on in-memory
// state_dicts; and the same through a real torch.save-format file.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "apps/recipe/checkpoint.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/rng.h"
#include "losses/loss.h"
#include "nets/model.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

ModelConfig small_config() {
  ModelConfig c;
  c.n_mels = 40, c.nOut = 16, c.encoder_type = "SAP", c.seed = 1;
  return c;
}

// A trained-elsewhere state: another model's weights under `prefix`, plus extra entries.
Checkpoint foreign(const SpeakerNet& src, const std::string& prefix, const NamedTensors& extra = {}) {
  Checkpoint ck;
  ck.path = "mem.model";
  for (const auto& [n, t] : src.state()) ck.file.tensors.emplace_back(prefix + n, t);
  for (const auto& e : extra) ck.file.tensors.push_back(e);
  return ck;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("import_weights: every anchor's prefix finds the model") {
  auto src = make_model("ResNetSE34L", small_config());
  ModelConfig other = small_config();
  other.seed = 2;
  struct Case {
    std::string prefix, format;
  };
  for (const Case& c : {Case{"__S__.", "voxceleb_trainer"}, Case{"speaker_encoder.", "ECAPA-TDNN (TaoRuijie)"},
                        Case{"", "bare"}, Case{"module.", "bare, names under 'module.'"},
                        Case{"module.__S__.", "voxceleb_trainer, names under 'module.__S__.'"},
                        Case{"model.", "bare, names under 'model.'"}}) {
    SUBCASE(("prefix '" + c.prefix + "'").c_str()) {
      auto dst = make_model("ResNetSE34L", other);
      const ImportResult r = import_weights(foreign(*src, c.prefix), *dst, nullptr);
      CHECK(r.source_format == c.format);
      CHECK(r.model_entries == int64_t(src->state().size()));
      CHECK(r.extra.empty());
      for (size_t i = 0; i < src->state().size(); ++i)
        test::expect_close(dst->state()[i].second, src->state()[i].second, 0, 0, dst->state()[i].first);
    }
  }
}

TEST_CASE("import_weights: heads and optimiser state are reported and skipped, front ends skipped") {
  auto src = make_model("ResNetSE34L", small_config());
  auto dst = make_model("ResNetSE34L", small_config());
  // HardNeg's ECAPA file: unused modules inside the encoder, a loss head, and the in-model front end.
  const NamedTensors extra = {{"speaker_encoder.itm_head.weight", Tensor::zeros({2, 16})},
                              {"speaker_encoder.torchfbank.0.flipped_filter", Tensor::zeros({1, 1, 2})},
                              {"speaker_loss.weight", Tensor::zeros({10, 16})},
                              {"optimizer.state.0.exp_avg", Tensor::zeros({3})}};
  const ImportResult r = import_weights(foreign(*src, "speaker_encoder.", extra), *dst, nullptr);
  CHECK(r.extra == std::vector<std::string>{"speaker_encoder.itm_head.weight", "optimizer.state.0.exp_avg"});
  CHECK(r.skipped == std::vector<std::string>{"speaker_encoder.torchfbank.0.flipped_filter"});
  const std::string s = r.summary();
  CHECK(s.find("skipped 2 entries the model does not have: speaker_encoder.itm_head.weight") != std::string::npos);
  CHECK(s.find("1 front-end buffers skipped") != std::string::npos);

  // With a loss: speaker_loss.weight is the loss's, of another class count here -> a note, not an error.
  LossConfig lc;
  lc.nOut = 16, lc.nClasses = 7;
  auto loss = make_loss("aamsoftmax", lc);
  const ImportResult rl = import_weights(foreign(*src, "speaker_encoder.", extra), *dst, loss.get());
  CHECK_FALSE(rl.loss_loaded);
  CHECK(rl.loss_note.find("another class count") != std::string::npos);
  lc.nClasses = 10;
  auto loss10 = make_loss("aamsoftmax", lc);
  CHECK(import_weights(foreign(*src, "speaker_encoder.", extra), *dst, loss10.get()).loss_loaded);

  // wespeaker: bare names and the margin head as projection.*
  auto wl = make_loss("aamsoftmax", lc);
  const ImportResult rw =
      import_weights(foreign(*src, "", {{"projection.weight", Tensor::zeros({10, 16})}}), *dst, wl.get());
  CHECK(rw.source_format == "wespeaker");
  CHECK(rw.loss_loaded);
}

TEST_CASE("import_weights: a missing num_batches_tracked is accepted, as PyTorch does") {
  auto src = make_model("ResNetSE34L", small_config());
  auto dst = make_model("ResNetSE34L", small_config());
  Checkpoint ck = foreign(*src, "__S__.");
  const size_t before = ck.file.tensors.size();
  std::erase_if(ck.file.tensors, [](const auto& e) { return e.first.ends_with("num_batches_tracked"); });
  REQUIRE(ck.file.tensors.size() < before);
  for (auto [n, t] : dst->named_buffers())
    if (n.ends_with("num_batches_tracked")) t.fill_(5);
  const ImportResult r = import_weights(ck, *dst, nullptr);
  CHECK(r.model_entries == int64_t(ck.file.tensors.size()));
  for (const auto& [n, t] : dst->named_buffers())
    if (n.ends_with("num_batches_tracked")) CHECK(t.item() == 0);
}

TEST_CASE("import_weights: half and double weights are converted; mismatches are errors naming the entry") {
  auto src = make_model("ResNetSE34L", small_config());
  auto dst = make_model("ResNetSE34L", small_config());
  Checkpoint half = foreign(*src, "__S__.");
  for (auto& [n, t] : half.file.tensors)
    if (is_floating(t.dtype())) t = t.to(DType::f16);
  const ImportResult r = import_weights(half, *dst, nullptr);
  CHECK(r.converted > 0);
  test::expect_close(dst->state()[1].second, src->state()[1].second, 1e-3, 1e-3, "f16 weights, rounded");

  Checkpoint missing = foreign(*src, "__S__.");
  missing.file.tensors.erase(missing.file.tensors.begin() + 1);   // conv1.weight
  CHECK_THROWS_WITH_AS(import_weights(missing, *dst, nullptr), doctest::Contains("missing: 'conv1.weight'"), Error);

  ModelConfig wide = small_config();
  wide.nOut = 32;
  auto other = make_model("ResNetSE34L", wide);
  CHECK_THROWS_WITH_AS(import_weights(foreign(*other, "__S__."), *dst, nullptr),
                       doctest::Contains("wrong shape: 'fc.weight'"), Error);

  Checkpoint none;
  none.path = "x.pt";
  none.file.tensors = {{"encoder.w", Tensor::zeros({2})}};
  CHECK_THROWS_WITH_AS(import_weights(none, *dst, nullptr), doctest::Contains("x.pt: no model weights found"), Error);
}

TEST_CASE("read_checkpoint + import_weights: a torch.save-format .model file with voxceleb_trainer's names") {
  auto src = make_model("ResNetSE34L", small_config());
  NamedTensors vt;
  for (const auto& [n, t] : src->state())
    if (!n.ends_with("num_batches_tracked")) vt.emplace_back("__S__." + n, t);   // as converted by some tools
  vt.emplace_back("__S__.torchfb.1.mel_scale.fb", Tensor::zeros({257, 40}));
  const fs::path path = fs::temp_directory_path() / ("spk_import_" + std::to_string(getpid()) + ".model");
  io::save_torch_checkpoint(path.string(), vt);
  const Checkpoint ck = read_checkpoint(path.string());
  fs::remove(path);
  CHECK(ck.format == "PyTorch zip");
  CHECK_FALSE(ck.is_spk);
  auto dst = make_model("ResNetSE34L", small_config());
  const ImportResult r = import_weights(ck, *dst, nullptr);
  CHECK(r.source_format == "voxceleb_trainer");
  CHECK(r.skipped == std::vector<std::string>{"__S__.torchfb.1.mel_scale.fb"});
  for (size_t i = 0; i < src->state().size(); ++i)
    if (!src->state()[i].first.ends_with("num_batches_tracked"))
      test::expect_close(dst->state()[i].second, src->state()[i].second, 0, 0, dst->state()[i].first);
}

TEST_CASE("read_checkpoint: a .model/.pt file that is not a PyTorch checkpoint gets the torch reader's error") {
  const fs::path dir = fs::temp_directory_path() / ("spk_import_bad_" + std::to_string(getpid()));
  fs::create_directories(dir);
  for (const char* name : {"bad.model", "bad.pt", "bad.pth"}) {
    const std::string path = (dir / name).string();
    std::ofstream(path) << "this is not a checkpoint";
    CHECK_THROWS_WITH_AS(read_checkpoint(path), doctest::Contains(("torch checkpoint " + path).c_str()), Error);
  }
  // A safetensors file keeps working whatever its name.
  auto m = make_model("ResNetSE34L", small_config());
  const std::string st = (dir / "weights.model").string();
  save_safetensors(st, m->state());
  CHECK(read_checkpoint(st).format == "safetensors");
  fs::remove_all(dir);
}
