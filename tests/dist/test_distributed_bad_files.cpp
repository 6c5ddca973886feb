// spk_train --distributed --skip_bad_files (docs/distributed.md): a rank whose share of a step lost groups to bad
// files, even all of them, still takes the step (the loader hands it an empty batch), and every rank weighs its
// loss and gradients by its share of the step's groups, agreed in one all-reduce. So the step is the single
// process's on the groups left: 2 ranks x batch 1 equal 1 process x batch 2 on a list with a missing file.
#include <doctest/doctest.h>

#include <fstream>

#include "dist/dist_runs.h"

using namespace spk;
using namespace spk::test::dist_runs;

TEST_CASE("--distributed --skip_bad_files: a rank whose batch was all bad files joins the step; runs stay equal") {
  // 2 speakers of one utterance, one of them missing: one step of 2 groups on 2 ranks x batch 1 leaves one rank
  // without any group, and 1 process x batch 2 with one. One step, so the comparison is to float rounding (over
  // several steps SincTDNN's max pooling turns rounding into a drift: test_distributed_train.cpp).
  const std::string list = fx().file("bad_files.txt");
  {
    std::ofstream l(list);
    l << "spk0 s0/u0.wav\nspk1 s1/missing.wav\n";
  }
  const std::string list_flag = "--train_list " + fx().train4;
  std::string a2 = args(2, 1, "bad_single"), a1 = args(1, 1, "bad_two");
  for (std::string* a : {&a2, &a1}) a->replace(a->find(list_flag), list_flag.size(), "--train_list " + list);
  // --cpu_conv spk: oneDNN (the default) sums dw in an order that depends on the images per call (2 in one
  // process, 1 per rank here), which moves the parameters by ~1e-6, the size of the bound checked below.
  const test::AppRun single = one(a2 + " --lr 0.05 --skip_bad_files --cpu_conv spk");
  INFO(single.output);
  REQUIRE(single.status == 0);
  const test::AppRun ranks = two(a1 + " --lr 0.05 --skip_bad_files --cpu_conv spk");
  INFO(ranks.output);
  REQUIRE(ranks.status == 0);
  CHECK(ranks.output.find("skipped 1 bad files") != std::string::npos);
  CHECK(single.output.find("skipped 1 bad files") != std::string::npos);
  CHECK(read_checkpoint(fx().file("bad_two") + "/model/last.safetensors").state.step == 1);
  CHECK(read_checkpoint(fx().file("bad_single") + "/model/last.safetensors").state.step == 1);
  const std::vector<double> la = losses("bad_single"), lb = losses("bad_two");
  REQUIRE(la.size() == 1);
  REQUIRE(lb.size() == 1);
  CHECK(lb[0] == doctest::Approx(la[0]).epsilon(1e-5));
  const auto pa = all_tensors(fx().file("bad_single")), pb = all_tensors(fx().file("bad_two"));
  REQUIRE(pa.size() == pb.size());
  double worst = 0, largest = 0;
  for (const auto& [name, va] : pa) {
    REQUIRE(pb.count(name));
    for (size_t i = 0; i < va.size(); ++i) {
      worst = std::max(worst, std::abs(va[i] - pb.at(name)[i]));
      if (name.find("momentum_buffer") != std::string::npos) largest = std::max(largest, std::abs(va[i]));
    }
  }
  MESSAGE("a step with a bad file: largest gradient " << largest << ", largest difference 1 vs 2 ranks " << worst);
  CHECK(largest > 1e-2);
  CHECK(worst < 1e-6);   // unweighted (a mean over 2 ranks of 1 and 0 groups), the gradient would be halved
}

TEST_CASE("--distributed --skip_bad_files --sync_bn: refused before any work") {
  const test::AppRun r = two(args(2, 1, "bad_sync") + " --skip_bad_files --sync_bn");
  INFO(r.output);
  CHECK(r.status != 0);
  CHECK(r.output.find("--sync_bn: not with --skip_bad_files") != std::string::npos);
  CHECK(!std::filesystem::exists(fx().file("bad_sync") + "/model"));
}
