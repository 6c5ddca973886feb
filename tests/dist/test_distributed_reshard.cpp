// spk_train --reshard (docs/distributed.md): a run resumed with another number of ranks goes on at its
// checkpoint's epoch boundary. The sampler plans every epoch from the seed with global batches of
// --batch_size x ranks, so with that product kept (2 ranks x 2 or 1 process x 4) the resumed run trains on the
// same samples per step as 1 process x 4 throughout: it must track that run as closely as 2 ranks do (the
// 8-step test of test_distributed_train.cpp: SincTDNN's drift stays within a few % of an epoch's move).
#include <doctest/doctest.h>

#include "dist/dist_runs.h"

using namespace spk;
using namespace spk::test::dist_runs;

namespace {

// 1 process x batch 4 for 2 epochs, and the same stopped after epoch 1: the reference and what epoch 2 moves.
const std::string& single_b4_2_epochs() {
  static const std::string dir = [] {
    REQUIRE(one(args(4, 2, "rs_single_b4")).status == 0);
    return fx().file("rs_single_b4");
  }();
  return dir;
}

double epoch2_move() {
  static const double moved = [] {
    REQUIRE(one(args(4, 1, "rs_single_b4_e1")).status == 0);
    return worst_difference(single_b4_2_epochs(), fx().file("rs_single_b4_e1"));
  }();
  return moved;
}

// A resumed run's epoch-2 loss and parameters against 1 process x 4 for 2 epochs.
void check_tracks_single(const std::string& dir, const test::AppRun& resumed) {
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(resumed.output.find("--reshard: the checkpoint") != std::string::npos);
  CHECK(read_checkpoint(fx().file(dir) + "/model/last.safetensors").state.step == 8);
  const std::string& reference = single_b4_2_epochs();
  const std::vector<double> l = losses(dir), ref = losses("rs_single_b4");
  REQUIRE(l.size() == 2);
  REQUIRE(ref.size() == 2);
  CHECK(l[1] == doctest::Approx(ref[1]).epsilon(1e-4));
  const double diff = worst_difference(reference, fx().file(dir)), moved = epoch2_move();
  MESSAGE(dir << ": epoch 2 moves the parameters by up to " << moved << "; the resharded run differs from 1 x 4 by "
              << diff);
  CHECK(moved > 1e-3);
  CHECK(diff < 0.05 * moved);
}

}  // namespace

TEST_CASE("--reshard: 2 ranks x 2 for epoch 1, then 1 process x 4 for epoch 2, tracks 1 process x 4") {
  REQUIRE(two(args(2, 1, "rs21")).status == 0);
  const test::AppRun refused = one(args(4, 2, "rs21"));
  CHECK(refused.status == 2);
  CHECK(refused.output.find("pass --reshard to go on with 1 from epoch 2") != std::string::npos);
  check_tracks_single("rs21", one(args(4, 2, "rs21") + " --reshard"));
}

TEST_CASE("--reshard: 1 process x 4 for epoch 1, then 2 ranks x 2 for epoch 2, tracks 1 process x 4") {
  REQUIRE(one(args(4, 1, "rs12")).status == 0);
  const test::AppRun refused = two(args(2, 2, "rs12"));
  CHECK(refused.status != 0);
  CHECK(refused.output.find("pass --reshard to go on with 2 from epoch 2") != std::string::npos);
  const test::AppRun resumed = two(args(2, 2, "rs12") + " --reshard");
  check_tracks_single("rs12", resumed);
}
