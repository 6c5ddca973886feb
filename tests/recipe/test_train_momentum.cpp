// spk_train --ssl with the momentum methods on the tiny corpus. MoCo (losses/moco.h): the key encoder, key head,
// queue and its pointer are in the checkpoint, the optimiser holds no state for the key side. DINO (losses/dino.h):
// teacher, teacher head and centre in the checkpoint; spk_eval embeds without the heads. For both, a run killed
// with SIGKILL mid-epoch and resumed ends bit-identical to an uninterrupted one (every tensor, the momentum side
// included). Bad input (no head, a queue smaller than a batch, a bad momentum, DINO without local crops or
// without --ssl, local crops without DINO) stops before any work naming the flag.
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/recipe/checkpoint.h"
#include "support/check.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& corpus() {
  static spk::test::TinyCorpus c{"spk_test_train_moco"};
  return c;
}

Run run_train(const std::string& args, const std::string& env = "") {
  return spk::test::run_binary(SPK_TRAIN_BINARY, args, env);
}

std::string dino_flags(const std::string& out, int epochs) {
  return corpus().no_eval + " --ssl --trainfunc dino --ssl_local_views 2 --ssl_local_frames 10 --dino_out 32 " +
         "--dino_hidden 16 --dino_bottleneck 8 --dino_momentum 0.9 --train_list " + corpus().train4 + " --save_path " +
         corpus().file(out) + " --max_epoch " + std::to_string(epochs);
}

std::string moco_flags(const std::string& out, int epochs) {
  return corpus().no_eval + " --ssl --trainfunc moco --ssl_proj_layers 2 --ssl_proj_dim 8 --moco_queue 12 " +
         "--moco_momentum 0.9 --train_list " + corpus().train4 + " --save_path " + corpus().file(out) +
         " --max_epoch " + std::to_string(epochs);
}

bool same_tensors(const SafetensorsFile& a, const SafetensorsFile& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor &x = a.tensors[i].second, &y = b.tensors[i].second;
    if (a.tensors[i].first != b.tensors[i].first || x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
    if (std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * dtype_size(x.dtype())) != 0) return false;
  }
  return true;
}

const Tensor* find(const SafetensorsFile& f, const std::string& name) {
  for (const auto& [n, t] : f.tensors)
    if (n == name) return &t;
  return nullptr;
}

// Run `flags(stem, 3)` killed by SIGKILL after step 6 (epoch 2 half done; last.safetensors holds epoch 1), then
// resumed to the end: every tensor must equal the uninterrupted run's `done`.
template <class Flags>
void check_kill_and_resume(Flags flags, const std::string& stem, const SafetensorsFile& done) {
  const Run killed = run_train(flags(stem, 3), "SPK_FAULT=train.step:kill@6");
  INFO(killed.output);
  REQUIRE(killed.signal == SIGKILL);
  const Run resumed = run_train(flags(stem, 3));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(resumed.output.find("resuming from") != std::string::npos);
  const Checkpoint ck = read_checkpoint(corpus().file(stem) + "/model/last.safetensors");
  CHECK(ck.state.step == 12);
  CHECK(same_tensors(done, ck.file));
}

#ifdef SPK_EVAL_BINARY
// spk_eval on run `stem`'s checkpoint: the embedding dimension its --json reports (the model's, without heads).
int64_t eval_embedding_dim(const std::string& stem) {
  const std::string json = corpus().file(stem + "_eval.json");
  const Run e = spk::test::run_binary(SPK_EVAL_BINARY, "--initial_model " + corpus().file(stem) +
                                      "/model/last.safetensors --test_list " + corpus().trials + " --test_path " +
                                      (corpus().dir / "wav").string() + " --eval_frames 20 --num_eval 2 "
                                      "--nDataLoaderThread 1 --json " + json);
  INFO(e.output);
  REQUIRE(e.status == 0);
  std::ifstream j(json);
  return nlohmann::json::parse(j)["model"]["embedding_dim"].get<int64_t>();
}
#endif

void check_failure(const std::string& args, const std::string& needle, const std::string& out) {
  const Run r = run_train(args);
  INFO("spk_train " << args << "\n" << r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error: " + needle) != std::string::npos);
  CHECK_FALSE(fs::exists(corpus().file(out)));
}

}  // namespace

TEST_CASE("spk_train moco: key encoder and queue in the checkpoint; SIGKILL and resume give the same bits") {
  const Run a = run_train(moco_flags("moco_a", 3));
  INFO(a.output);
  REQUIRE(a.status == 0);
  const Checkpoint ca = read_checkpoint(corpus().file("moco_a") + "/model/last.safetensors");
  CHECK(ca.state.step == 12);
  const Tensor* queue = find(ca.file, "__L__.queue");
  const Tensor* ptr = find(ca.file, "__L__.queue_ptr");
  REQUIRE(queue);
  REQUIRE(ptr);
  CHECK(queue->shape() == Shape{12, 8});
  CHECK(ptr->data<int64_t>()[0] == (12 * 4) % 12);   // 12 steps of 4 keys
  REQUIRE(find(ca.file, "__L__.key_proj.fc1.weight"));
  // The key encoder mirrors the model, tensor for tensor, and has moved away from it only by the EMA lag.
  int64_t mirrored = 0;
  for (const auto& [n, t] : ca.file.tensors)
    if (n.rfind("__S__.", 0) == 0) {
      const Tensor* k = find(ca.file, "__L__.key_encoder." + n.substr(6));
      REQUIRE(k);
      CHECK(k->shape() == t.shape());
      ++mirrored;
    }
  CHECK(mirrored > 10);
  // The optimiser holds state for the query head but none for the key side (which moves by EMA only).
  int64_t head_state = 0;
  for (const auto& [n, t] : ca.file.tensors) {
    CAPTURE(n);
    if (n.rfind("optim", 0) != 0) continue;
    CHECK(n.find("key_") == std::string::npos);
    head_state += n.find("__L__.proj.") != std::string::npos;
  }
  CHECK(head_state > 0);
#ifdef SPK_EVAL_BINARY
  // spk_eval rebuilds the loss to learn its test_normalize: moco's needs its head settings from the checkpoint.
  CHECK(eval_embedding_dim("moco_a") == 16);   // the model's nOut, not the head's 8
#endif
  check_kill_and_resume(moco_flags, "moco_k", ca.file);
}

TEST_CASE("spk_train dino: teacher and centre in the checkpoint; SIGKILL and resume give the same bits; spk_eval") {
  const Run a = run_train(dino_flags("dino_a", 3));
  INFO(a.output);
  REQUIRE(a.status == 0);
  const Checkpoint ca = read_checkpoint(corpus().file("dino_a") + "/model/last.safetensors");
  CHECK(ca.state.step == 12);
  const Tensor* center = find(ca.file, "__L__.center");
  REQUIRE(center);
  CHECK(center->shape() == Shape{1, 32});
  CHECK(find(ca.file, "__L__.key_proj.last_weight_v"));
  CHECK(find(ca.file, "__L__.key_encoder.conv1.weight"));
  check_kill_and_resume(dino_flags, "dino_k", ca.file);
#ifdef SPK_EVAL_BINARY
  // spk_eval builds the model alone: the 16-d embedding, no head, no teacher.
  CHECK(eval_embedding_dim("dino_a") == 16);   // the model's nOut, not the head's 32
#endif
}

TEST_CASE("spk_train dino: bad input stops before any work, naming the flag") {
  const std::string base = corpus().no_eval + " --train_list " + corpus().train4 + " --max_epoch 1 --save_path ";
  check_failure(base + corpus().file("db1") + " --ssl --trainfunc dino",
                "--ssl_local_views: 0: --trainfunc dino needs local crops", "db1");
  check_failure(base + corpus().file("db2") + " --ssl --trainfunc angleproto --ssl_local_views 2",
                "--ssl_local_views: 2 local crops, which only --trainfunc dino reads", "db2");
  check_failure(base + corpus().file("db3") + " --ssl --trainfunc dino --ssl_local_views 2 --ssl_local_frames 20",
                "--ssl_local_frames: 20: local crops are shorter than the global ones", "db3");
  check_failure(base + corpus().file("db4") + " --ssl --trainfunc dino --ssl_local_views 2 --ssl_local_frames 10 "
                "--dino_out 0", "--dino_out: the DINO head's sizes must be at least 1, got 0", "db4");
  check_failure(base + corpus().file("db5") + " --trainfunc dino --nPerSpeaker 2",
                "--trainfunc: dino trains on the views of --ssl", "db5");
}

TEST_CASE("spk_train moco: bad input stops before any work, naming the flag") {
  const std::string base = corpus().no_eval + " --ssl --trainfunc moco --train_list " + corpus().train4 +
                           " --max_epoch 1 --save_path ";
  check_failure(base + corpus().file("mb1"), "--ssl_proj_layers: 0: moco needs a projection head", "mb1");
  check_failure(base + corpus().file("mb2") + " --ssl_proj_layers 2 --ssl_proj_dim 8 --moco_queue 3",
                "--moco_queue: 3 is smaller than one batch (--batch_size 4)", "mb2");
  check_failure(base + corpus().file("mb3") + " --ssl_proj_layers 2 --ssl_proj_dim 0",
                "--ssl_proj_dim: the projection head's width must be at least 1, got 0", "mb3");
  check_failure(base + corpus().file("mb4") + " --ssl_proj_layers 2 --moco_momentum 1.5",
                "--moco_momentum: must be in [0, 1], got 1.5", "mb4");
}

#endif
