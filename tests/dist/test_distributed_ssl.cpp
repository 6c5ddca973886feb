// spk_train --distributed --ssl (docs/distributed.md): the view sampler gives rank r the r-th slice of every global
// batch of b·W utterances (engine/audio/view_sampler.h), MoCo queues the keys of every rank (all-gathered in rank
// order), DINO centres with the mean over every rank; SimCLR's negatives stay the rank's own batch.
#include <doctest/doctest.h>

#include <fstream>

#include "dist/dist_runs.h"

using namespace spk;
using namespace spk::test::dist_runs;

namespace {

// The first `n` files of the tiny corpus's train4 list (16 files of 6000..8100 samples, every one long enough for
// two views of --max_frames 20).
std::string first_files(int n) {
  const std::string path = fx().file("ssl_first" + std::to_string(n) + ".txt");
  std::ifstream in(fx().train4);
  std::ofstream out(path);
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) out << line << "\n";
  return path;
}

// SincTDNN (no BatchNorm) with a one-layer projection head (no BatchNorm either), so that nothing depends on how
// a batch is cut into the ranks' shares but the losses themselves.
std::string ssl_args(const std::string& loss, int64_t batch, const std::string& list, const std::string& out) {
  std::string a = args(batch, 1, out);
  const std::string from = "--trainfunc softmax";
  a.replace(a.find(from), from.size(), "--trainfunc " + loss);
  return a + " --ssl --ssl_proj_layers 1 --ssl_proj_dim 8 --train_list " + list;
}

std::string moco(int64_t batch, const std::string& list, const std::string& out) {
  return ssl_args("moco", batch, list, out) + " --moco_queue 8 --moco_momentum 0.9";
}

double worst_tensor_difference(const std::string& a, const std::string& b, double& largest) {
  const auto ta = all_tensors(a), tb = all_tensors(b);
  REQUIRE(ta.size() == tb.size());
  double worst = 0;
  largest = 0;
  for (const auto& [name, va] : ta) {
    CAPTURE(name);
    REQUIRE(tb.count(name));
    const auto& vb = tb.at(name);
    REQUIRE(va.size() == vb.size());
    for (size_t i = 0; i < va.size(); ++i) {
      worst = std::max(worst, std::abs(va[i] - vb[i]));
      largest = std::max(largest, std::abs(va[i]));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("--distributed --ssl MoCo: 2 ranks x 2 take one step as 1 process x 4, the queue included") {
  // 4 files: one step. Every tensor of the checkpoint — model, projection heads, key encoder, the queue (which
  // holds the 4 keys in the single process's order only if the ranks' keys were gathered in rank order) and its
  // pointer, SGD's momentum buffers — equal to float rounding.
  const std::string list = first_files(4);
  const test::AppRun a = one(moco(4, list, "moco_one"));
  INFO(a.output);
  REQUIRE(a.status == 0);
  const test::AppRun b = two(moco(2, list, "moco_two"));
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(read_checkpoint(fx().file("moco_two") + "/model/last.safetensors").state.step == 1);
  double largest = 0;
  const double worst = worst_tensor_difference(fx().file("moco_one"), fx().file("moco_two"), largest);
  MESSAGE("MoCo, one step: 2 ranks x 2 vs 1 x 4, every tensor within " << worst << " (largest " << largest << ")");
  CHECK(worst < 1e-5);
  // Each rank queuing only its own keys would leave the queue's rows 2, 3 at their random start, and the pointer at 2.
  double ptr = -1;
  for (const auto& [name, t] : read_checkpoint(fx().file("moco_two") + "/model/last.safetensors").file.tensors)
    if (name == "__L__.queue_ptr") ptr = t.to_double()[0];
  CHECK(ptr == 4);
}

TEST_CASE("--distributed --ssl MoCo: 4 steps of 2 ranks x 2 track 1 process x 4") {
  const test::AppRun a = one(moco(4, fx().train4, "moco4_one"));
  INFO(a.output);
  REQUIRE(a.status == 0);
  const test::AppRun b = two(moco(2, fx().train4, "moco4_two"));
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(read_checkpoint(fx().file("moco4_two") + "/model/last.safetensors").state.step == 4);
  const std::vector<double> la = losses("moco4_one"), lb = losses("moco4_two");
  REQUIRE((la.size() == 1 && lb.size() == 1));
  CHECK(lb[0] == doctest::Approx(la[0]).epsilon(1e-4));
  double largest = 0;
  const double worst = worst_tensor_difference(fx().file("moco4_one"), fx().file("moco4_two"), largest);
  MESSAGE("MoCo, 4 steps: every tensor within " << worst << " (largest " << largest << ")");
  CHECK(worst < 1e-4);
}

TEST_CASE("--distributed --ssl SimCLR: per-rank negatives; a step is 1 process's two consecutive batches of b") {
  // At a learning rate too small to move the model, 2 ranks x 2 (4 steps) have 1 process x 2's epoch loss (8
  // batches: batch 2k and 2k + 1 are step k's two shares) — and not 1 process x 4's, whose negatives span 4.
  const std::string tiny_lr = " --lr 1e-9 --ssl_temperature 0.005";
  const test::AppRun a = one(ssl_args("ssl_infonce", 2, fx().train4, "simclr_b2") + tiny_lr);
  INFO(a.output);
  REQUIRE(a.status == 0);
  const test::AppRun b = two(ssl_args("ssl_infonce", 2, fx().train4, "simclr_two") + tiny_lr);
  INFO(b.output);
  REQUIRE(b.status == 0);
  const test::AppRun c = one(ssl_args("ssl_infonce", 4, fx().train4, "simclr_b4") + tiny_lr);
  INFO(c.output);
  REQUIRE(c.status == 0);
  const std::vector<double> l2 = losses("simclr_b2"), lt = losses("simclr_two"), l4 = losses("simclr_b4");
  MESSAGE("SimCLR epoch loss: 1 x 2 " << l2[0] << ", 2 ranks x 2 " << lt[0] << ", 1 x 4 " << l4[0]);
  // At the random start the views' embeddings are all alike and a batch of 2 scores about ln 2: what is compared is
  // the departure from it, which depends on every batch's utterances (measured 3.6e-4).
  const double dev = std::abs(l2[0] - std::log(2.0));
  CHECK(dev > 1e-4);
  CHECK(std::abs(lt[0] - l2[0]) < 0.01 * dev);
  CHECK(std::abs(lt[0] - l4[0]) > 0.5);
}

TEST_CASE("--distributed --ssl MoCo: a --moco_queue too small for every rank's keys is refused before any work") {
  const test::AppRun r = two(ssl_args("moco", 2, fx().train4, "moco_small") + " --moco_queue 3");
  INFO(r.output);
  CHECK(r.status != 0);
  CHECK(r.output.find("--moco_queue: 3 is smaller than the keys one step queues over 2 ranks (--batch_size 2 x 2); "
                      "raise it to at least 4") != std::string::npos);
  CHECK(!std::filesystem::exists(fx().file("moco_small") + "/model"));
}

TEST_CASE("--distributed --ssl MoCo: a rank killed mid-epoch; the rerun resumes to the uninterrupted run, bit for bit") {
  // train4: 4 steps per epoch of 2 ranks x 2; rank 1 dies after its 6th step, in epoch 2.
  const std::string two_epochs = " --max_epoch 2";
  const test::AppRun full = two(moco(2, fx().train4, "moco_full") + two_epochs);
  INFO(full.output);
  REQUIRE(full.status == 0);
  const test::AppRun killed = two(moco(2, fx().train4, "moco_kill") + two_epochs, "SPK_FAULT=train.step:kill@6");
  INFO(killed.output);
  CHECK(killed.status != 0);
  CHECK(read_checkpoint(fx().file("moco_kill") + "/model/last.safetensors").state.epoch == 1);
  const test::AppRun resumed = two(moco(2, fx().train4, "moco_kill") + two_epochs);
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(resumed.output.find("resuming from") != std::string::npos);
  double largest = 0;
  CHECK(worst_tensor_difference(fx().file("moco_full"), fx().file("moco_kill"), largest) == 0.0);   // queue included
}
