// spk_train --distributed on the tiny corpus (tests/recipe/tiny_corpus.h), each run under `mpirun -np 2` on the
// CPU (MPI). The model is SincTDNN (instance norm, no BatchNorm, whose batch statistics stay per rank) with the
// softmax loss (a mean over the batch), so a step of 2 ranks with --batch_size 2 must equal one of 1 process with
// --batch_size 4 up to float rounding: the sampler fills global batches of 4 and gives each rank its half, and
// the gradients are averaged. One step is checked to rounding; 12 steps for the loss curve and a bounded drift.
// Also: resume at another world size is refused, mismatched flags stop every rank,
// a rank killed mid-epoch ends the run and it resumes to the same parameters, a hung rank ends every rank at
// --dist_timeout, and --distributed without MPI says what to install.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "apps/recipe/checkpoint.h"
#include "dist/dist_runs.h"
#include "engine/cuda.h"
#include "engine/dist/communicator.h"

using namespace spk;
using namespace spk::recipe;
using namespace spk::test::dist_runs;

// One step (a list of one utterance per speaker) of 1 process x batch 4 and of 2 ranks x batch 2 (plus `two_extra`),
// model `model` (flags replacing SincTDNN's); the largest difference over every tensor of the two checkpoints
// (parameters, floating buffers, optimiser state: SGD's momentum buffer after one step is the gradient), and the
// largest gradient.
static std::pair<double, double> one_step(const std::string& tag, const std::string& model, const std::string& two_extra) {
  const std::string list = fx().file("one_step.txt");
  {
    std::ofstream l(list);
    for (int k = 0; k < 4; ++k) l << "spk" << k << " s" << k << "/u0.wav\n";
  }
  const std::string list_flag = "--train_list " + fx().train4, sinc = "--model SincTDNN";
  std::string a4 = args(4, 1, tag + "_single"), a2 = args(2, 1, tag + "_two");
  for (std::string* a : {&a4, &a2}) {
    a->replace(a->find(list_flag), list_flag.size(), "--train_list " + list);
    a->replace(a->find(sinc), sinc.size(), model);
  }
  const test::AppRun a = one(a4 + " --lr 0.05");
  INFO(a.output);
  REQUIRE(a.status == 0);
  const test::AppRun b = two(a2 + " --lr 0.05 " + two_extra);
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(b.output.find("1 batches of 2x1 per epoch on each of 2 ranks (mpi)") != std::string::npos);
  const auto pa = all_tensors(fx().file(tag + "_single")), pb = all_tensors(fx().file(tag + "_two"));
  REQUIRE(pa.size() == pb.size());
  int64_t gradients = 0;
  double worst = 0, largest_gradient = 0;
  for (const auto& [name, va] : pa) {
    CAPTURE(name);
    REQUIRE(pb.count(name));
    const auto& vb = pb.at(name);
    REQUIRE(va.size() == vb.size());
    const bool gradient = name.find("momentum_buffer") != std::string::npos;
    gradients += gradient;
    for (size_t i = 0; i < va.size(); ++i) {
      worst = std::max(worst, std::abs(va[i] - vb[i]));
      if (gradient) largest_gradient = std::max(largest_gradient, std::abs(va[i]));
    }
  }
  CHECK(gradients > 10);
  return {worst, largest_gradient};
}

TEST_CASE("--distributed: one step of 2 ranks x batch 2 is 1 process x batch 4: gradients and parameters") {
  const auto [worst, largest_gradient] = one_step("step", "--model SincTDNN", "");
  MESSAGE("one step: largest gradient " << largest_gradient << ", largest difference 1 vs 2 ranks " << worst);
  CHECK(largest_gradient > 1e-2);
  CHECK(worst < 1e-6);   // float rounding (the sums run in other orders); a missed or doubled average is ~gradient
}

TEST_CASE("--sync_bn: one step of ResNetSE34L (BatchNorm) on 2 ranks x batch 2 is 1 process x batch 4") {
  // Without --sync_bn each rank normalises with its own 2 groups: other gradients and running statistics.
  const auto [apart, g1] = one_step("bn_apart", "--model ResNetSE34L", "");
  const auto [synced, g2] = one_step("bn_sync", "--model ResNetSE34L", "--sync_bn");
  MESSAGE("ResNetSE34L one step: largest gradient " << g2 << "; largest difference 1 vs 2 ranks " << apart
                                                    << " per-rank BatchNorm, " << synced << " with --sync_bn");
  CHECK(g2 > 1e-2);
  CHECK(apart > 1e-3);
  CHECK(synced < 1e-5);
}

TEST_CASE("--distributed: 8 steps of 2 ranks x batch 2 track 1 process x batch 4 (loss curve, parameters)") {
  const test::AppRun a = one(args(4, 2, "single_b4"));
  INFO(a.output);
  REQUIRE(a.status == 0);
  const std::string two_b2 = two_ranks_2_epochs();
  const Checkpoint ca = read_checkpoint(fx().file("single_b4") + "/model/last.safetensors");
  const Checkpoint cb = read_checkpoint(two_b2 + "/model/last.safetensors");
  CHECK(ca.state.step == 8);   // 4 steps per epoch in both: 16 utterances, 4 per step
  CHECK(cb.state.step == ca.state.step);
  CHECK(cb.state.config["world_size"] == 2);

  // The loss curve: each epoch's mean loss (over the ranks' batches) as the single process's.
  const std::vector<double> la = losses("single_b4"), lb = losses("two_b2");
  REQUIRE(la.size() == 2);
  REQUIRE(lb.size() == 2);
  for (size_t e = 0; e < 2; ++e) CHECK(lb[e] == doctest::Approx(la[e]).epsilon(1e-5));

  // The parameters drift apart slowly: SincTDNN's gradient is not continuous (max pooling, abs, leaky ReLU), so a
  // rounding-level difference that flips one max-pool choice changes that sample's gradient. The drift stays a
  // few % of what epoch 2 moved the parameters; a run on other samples differs by about as much as that.
  const test::AppRun c = one(args(4, 1, "single_b4_e1"));   // the same run stopped after epoch 1
  REQUIRE(c.status == 0);
  const test::AppRun d = one(args(2, 2, "single_b2"));      // 1 process with batch 2: other samples per step
  REQUIRE(d.status == 0);
  const double moved = worst_difference(fx().file("single_b4"), fx().file("single_b4_e1"));
  const double diff = worst_difference(fx().file("single_b4"), two_b2);
  const double other = worst_difference(fx().file("single_b4"), fx().file("single_b2"));
  MESSAGE("8 steps: epoch 2 moved the parameters by up to " << moved << "; 1 vs 2 ranks differ by up to " << diff
                                                            << "; batch 4 vs batch 2 by up to " << other);
  CHECK(moved > 1e-3);
  CHECK(diff < 0.05 * moved);
  CHECK(other > 0.3 * moved);
}

TEST_CASE("--distributed: resume needs the checkpoint's world size; the same size resumes") {
  const std::string dir = "resume_world";
  REQUIRE(two(args(2, 1, dir)).status == 0);
  const test::AppRun single = one(args(2, 2, dir));
  INFO(single.output);
  CHECK(single.status == 2);
  CHECK(single.output.find("--distributed: this run has 1 rank(s) but the checkpoint " + fx().file(dir) +
                           "/model/last.safetensors that it would resume was written by a run of 2") !=
        std::string::npos);
  CHECK(single.output.find("start it with 2 ranks") != std::string::npos);
  const test::AppRun again = two(args(2, 2, dir));
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK(again.output.find("resuming from") != std::string::npos);
  CHECK(read_checkpoint(fx().file(dir) + "/model/last.safetensors").state.epoch == 2);

  REQUIRE(one(args(2, 1, "resume_world1")).status == 0);
  const test::AppRun twice = two(args(2, 2, "resume_world1"));
  CHECK(twice.status != 0);
  CHECK(twice.output.find("this run has 2 rank(s) but the checkpoint") != std::string::npos);
  CHECK(twice.output.find("written by a run of 1 (") != std::string::npos);
  CHECK(twice.output.find("start it with 1 ranks (without --distributed)") != std::string::npos);
}

TEST_CASE("--distributed: flags that differ between ranks stop every rank, naming the flag") {
  // Rank 1 alone gets another --lr (the flag given twice: the last wins).
  const test::AppRun m = two(args(2, 1, "mismatch2"), "", "--lr 0.5");
  INFO(m.output);
  CHECK(m.status != 0);
  CHECK(m.output.find("--distributed: rank 1: --lr is 0.5 here but 0.002 on rank 0; every rank of a --distributed "
                      "run must be started with the same flags") != std::string::npos);
  CHECK(!std::filesystem::exists(fx().file("mismatch2") + "/model/last.safetensors"));
}

TEST_CASE("--distributed: a rank killed mid-epoch ends the run; it resumes to the uninterrupted parameters") {
  // Rank 1 dies after its 6th step (epoch 2 of 4 steps each): the checkpoint of epoch 1 is the last complete one.
  const auto t0 = std::chrono::steady_clock::now();
  const test::AppRun killed = two(args(2, 2, "kill_resume"), "SPK_FAULT=train.step:kill@6");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(killed.output);
  CHECK(killed.status != 0);
  CHECK(s < 30);
  CHECK(killed.output.find("process rank 1 with PID") != std::string::npos);   // mpirun names the rank that died
  CHECK(read_checkpoint(fx().file("kill_resume") + "/model/last.safetensors").state.epoch == 1);
  const test::AppRun resumed = two(args(2, 2, "kill_resume"));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(resumed.output.find("resuming from") != std::string::npos);
  CHECK(worst_difference(two_ranks_2_epochs(), fx().file("kill_resume")) == 0.0);   // uninterrupted: bit-identical
}

TEST_CASE("--distributed: a hung rank ends every rank at --dist_timeout, naming the collective and the hung rank") {
  const auto t0 = std::chrono::steady_clock::now();
  // Rank 1 stops joining collectives at its 10th (in the second training step).
  const test::AppRun h = two(args(2, 1, "hang") + " --dist_timeout 1", "SPK_FAULT=dist.collective:fail@10");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(h.output);
  CHECK(h.status != 0);
  CHECK(s < 30);
  CHECK(h.output.find("rank 1: SPK_FAULT: hanging before") != std::string::npos);
  CHECK(h.output.find("spk: rank 0 of 2: waited 1 s in") != std::string::npos);
  CHECK(h.output.find("a rank died or hangs (rank(s) 1 did not answer within 2 s: hung outside any collective); "
                      "ending every rank") != std::string::npos);
}

TEST_CASE("--distributed without MPI in the build: a clear error before any work") {
  // SPK_FAULT dist.init:fail takes make_mpi_communicator's path of a build without MPI.
  const test::AppRun r = one("--distributed " + args(2, 1, "no_mpi"), "SPK_FAULT=dist.init:fail");
  INFO(r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error: --distributed: this build has no MPI: install Debian's libopenmpi-dev and "
                      "openmpi-bin") != std::string::npos);
  CHECK(!std::filesystem::exists(fx().file("no_mpi")));
}

TEST_CASE("launches that would train ranks alone are refused: mpirun without --distributed, CPU ranks by torchrun") {
  const test::AppRun m = test::run_binary(kMpirun + SPK_TRAIN_BINARY, args(2, 1, "no_flag"), kMpiEnv);
  INFO(m.output);
  CHECK(m.status != 0);
  CHECK(m.output.find("of 2 (mpirun) without --distributed: every process would train alone into the same "
                      "--save_path") != std::string::npos);
  CHECK(!std::filesystem::exists(fx().file("no_flag") + "/model"));
  const test::AppRun t = one("--distributed " + args(2, 1, "torchrun_cpu"), "RANK=0 WORLD_SIZE=2");
  INFO(t.output);
  CHECK(t.status == 2);
  CHECK(t.output.find("--distributed: the launcher set WORLD_SIZE=2 but MPI sees 1 process(es): start CPU ranks "
                      "with mpirun") != std::string::npos);
}

TEST_CASE("--spec_aug on 2 ranks x batch 2 masks as 1 process x batch 4: each rank applies its own rows' masks") {
  // With every rank drawing the same masks for its own rows (one stream, as before), rank 1's rows would get rank
  // 0's masks, not those the single process draws for rows 2 and 3, and the gradients would differ.
  // The bound is set by what the case is for, as measured (issue 18): the two runs' activations differ by
  // rounding (up to ~1e-5 by layer 4: --sync_bn's composed statistics vs the BatchNorm kernel), so a ReLU input
  // within rounding of 0 can take the other side in one run and switch its gradient. Over --seed 1..25 that gave
  // differences up to 3.4e-3 on main (seeds 8, 12, 22, 24 over 1e-5) and up to 5.5e-3 with the fused SE block
  // (seeds 1, 2, 10, 15, 22), which moves the rounding; everywhere else the runs agree within 1e-5. A mask bug
  // gives far more: rank 1 given rank 0's masks differed by 0.89 (checked, issue 18). 2e-2 keeps a 4x margin
  // above the flips and 40x below a mask bug. The other one-step cases (no ReLU flips: no --spec_aug)
  // keep 1e-5.
  const auto [worst, largest_gradient] = one_step("specaug", "--model ResNetSE34L --spec_aug", "--sync_bn");
  MESSAGE("ResNetSE34L + SpecAugment one step: largest gradient " << largest_gradient
                                                                  << "; largest difference 1 vs 2 ranks " << worst);
  CHECK(largest_gradient > 1e-2);
  CHECK(worst < 2e-2);
}

// NCCL (--device cuda): written for a machine with 2 GPUs and a CUDA build that found NCCL; skipped visibly
// elsewhere (this development machine has no GPU: never run).
static bool skip_without_two_gpus() {
  if (dist::built_with_nccl() && cuda::device_count() >= 2) return false;
  MESSAGE("SKIPPED: needs a CUDA build with NCCL and 2 GPUs");
  return true;
}

TEST_CASE("--distributed --device cuda (NCCL): one step of 2 GPU ranks x 2 is 1 CPU process x 4") {
  if (skip_without_two_gpus()) return;
  const auto [worst, largest_gradient] = one_step("nccl_step", "--model SincTDNN", "--device cuda");
  MESSAGE("NCCL one step: largest gradient " << largest_gradient << "; largest difference to the CPU " << worst);
  CHECK(worst < 1e-4);   // GPU kernels round otherwise than the CPU's
}

TEST_CASE("--distributed --device cuda (NCCL): a hung rank ends every rank at --dist_timeout (the watchdog)") {
  if (skip_without_two_gpus()) return;
  const auto t0 = std::chrono::steady_clock::now();
  const test::AppRun h =
      two(args(2, 1, "nccl_hang") + " --device cuda --dist_timeout 2", "SPK_FAULT=dist.collective:fail@10");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(h.output);
  CHECK(h.status != 0);
  CHECK(s < 60);
  CHECK(h.output.find("rank 1: SPK_FAULT: hanging before") != std::string::npos);
  CHECK(h.output.find("spk: rank 0 of 2: waited 2 s in") != std::string::npos);
}
