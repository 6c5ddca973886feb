// spk_train --distributed --sampler pyannote (docs/distributed.md): a chunk batch has one chunk length, so it is
// not cut into shares; rank r of W takes the planned batches r, r + W, ... and a step averages the gradients of
// W consecutive batches of the single process's plan. Checked at a learning rate too small to move the model:
// the 2 ranks' epoch loss (the mean over steps of the ranks' mean) is the single process's (the mean over its
// batches) only if the ranks took exactly the plan's batches, every chunk cut where the single process cuts it.
#include <doctest/doctest.h>

#include "dist/dist_runs.h"

using namespace spk;
using namespace spk::test::dist_runs;

namespace {

// The tiny recipe (ResNetSE34L: its BatchNorm sees a whole planned batch on each rank, as in one process).
std::string pyannote_args(const std::string& out) {
  return fx().no_eval + " --train_list " + fx().train4 + " --max_epoch 1 --save_path " + fx().file(out) +
         " --sampler pyannote --chunk_duration 0.3 --chunk_min_duration 0.2 --per_fold 3 --per_label 1"
         " --label_min_duration 1 --optimizer sgd --lr 1e-9";
}

}  // namespace

TEST_CASE("--distributed --sampler pyannote: rank r takes chunk batches r, r + 2, ...; the epoch loss is 1 process's") {
  const test::AppRun a = one(pyannote_args("pya_single"));
  INFO(a.output);
  REQUIRE(a.status == 0);
  const test::AppRun b = two(pyannote_args("pya_two"));
  INFO(b.output);
  REQUIRE(b.status == 0);
  const int64_t steps1 = read_checkpoint(fx().file("pya_single") + "/model/last.safetensors").state.step;
  const int64_t steps2 = read_checkpoint(fx().file("pya_two") + "/model/last.safetensors").state.step;
  MESSAGE("--sampler pyannote: " << steps1 << " batches in 1 process, " << steps2 << " steps on 2 ranks");
  REQUIRE(steps1 % 2 == 0);   // else the last batch is left out on 2 ranks and the means differ
  CHECK(steps1 >= 4);
  CHECK(steps2 == steps1 / 2);
  const std::vector<double> la = losses("pya_single"), lb = losses("pya_two");
  REQUIRE(la.size() == 1);
  REQUIRE(lb.size() == 1);
  CHECK(lb[0] == doctest::Approx(la[0]).epsilon(1e-5));
}
