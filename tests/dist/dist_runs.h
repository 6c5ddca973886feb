// The helpers of the spk_train --distributed tests (tests/dist/test_distributed_*.cpp, one binary): the tiny
// corpus, the SincTDNN recipe, and runs of 1 process or `mpirun -np 2` ranks.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "apps/recipe/checkpoint.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

namespace spk::test::dist_runs {

using spk::recipe::read_checkpoint;

inline const test::TinyCorpus& fx() {
  static test::TinyCorpus c("spk_dist");
  return c;
}

// One compute thread per rank: the 2 ranks share the machine's cores (docs/distributed.md).
inline const std::string kMpiEnv = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1";
inline const std::string kMpirun = std::string(SPK_MPIRUN) + " --allow-run-as-root --oversubscribe --bind-to none -np 2 ";

// The tiny recipe with SincTDNN (waveform front end), --batch_size b, no evaluation.
inline std::string args(int64_t batch, int64_t epochs, const std::string& out) {
  std::string c = fx().no_eval;
  const std::string from = "--model ResNetSE34L --nOut 16 --trainfunc softmax";
  c.replace(c.find(from), from.size(), "--model SincTDNN --nOut 16 --trainfunc softmax");
  const std::string bs = "--batch_size 4";
  c.replace(c.find(bs), bs.size(), "--batch_size " + std::to_string(batch));
  return c + " --optimizer sgd --lr 0.002 --train_list " + fx().train4 + " --max_epoch " + std::to_string(epochs) +
         " --save_path " + fx().file(out);
}

inline test::AppRun one(const std::string& a, const std::string& env = "") {
  return test::run_binary(SPK_TRAIN_BINARY, a, env);
}
// Both ranks get `a`; rank 1 alone also gets the environment assignment `rank1_env` (e.g. "SPK_FAULT=...") and
// the extra flags `rank1_args`, through a wrapper script.
inline test::AppRun two(const std::string& a, const std::string& rank1_env = "", const std::string& rank1_args = "") {
  const std::string wrapper = fx().file("rank1.sh");
  if (!std::filesystem::exists(wrapper)) {
    std::ofstream w(wrapper);
    w << "#!/bin/sh\nif [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then\n  [ -n \"$RANK1_ENV\" ] && export \"$RANK1_ENV\"\n"
         "  exec \"$@\" $RANK1_ARGS\nfi\nexec \"$@\"\n";
  }
  return test::run_binary(kMpirun + "sh " + wrapper + " " + SPK_TRAIN_BINARY, "--distributed " + a,
                          kMpiEnv + " RANK1_ENV='" + rank1_env + "' RANK1_ARGS='" + rank1_args + "'");
}

// The run of 2 ranks x batch 2 for 2 epochs that two tests compare with, made once.
inline const std::string& two_ranks_2_epochs() {
  static const std::string dir = [] {
    const test::AppRun r = two(args(2, 2, "two_b2"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    return fx().file("two_b2");
  }();
  return dir;
}

inline std::map<std::string, std::vector<double>> params(const std::string& save_path) {
  std::map<std::string, std::vector<double>> m;
  for (const auto& [name, t] : read_checkpoint(save_path + "/model/last.safetensors").file.tensors)
    if (name.rfind("__S__.", 0) == 0 || name.rfind("__L__.", 0) == 0) m[name] = t.to_double();
  return m;
}

// Every tensor of the last checkpoint (model, loss and optimiser state).
inline std::map<std::string, std::vector<double>> all_tensors(const std::string& save_path) {
  std::map<std::string, std::vector<double>> m;
  for (const auto& [name, t] : read_checkpoint(save_path + "/model/last.safetensors").file.tensors)
    if (is_floating(t.dtype())) m[name] = t.to_double();
  return m;
}

// The largest |a - b| over every parameter of the two runs' last checkpoints.
inline double worst_difference(const std::string& a, const std::string& b) {
  const auto pa = params(a), pb = params(b);
  REQUIRE(pa.size() == pb.size());
  REQUIRE(!pa.empty());
  double worst = 0;
  for (const auto& [name, va] : pa) {
    REQUIRE(pb.count(name));
    const auto& vb = pb.at(name);
    REQUIRE(va.size() == vb.size());
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  }
  return worst;
}

// The loss column of train_log.csv, one value per epoch.
inline std::vector<double> losses(const std::string& save_path) {
  std::ifstream in(fx().file(save_path) + "/train_log.csv");
  std::string line;
  std::getline(in, line);   // header
  std::vector<double> v;
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string cell;
    for (int c = 0; c < 4; ++c) std::getline(s, cell, ',');   // epoch, steps, lr, loss
    v.push_back(std::stod(cell));
  }
  return v;
}

}  // namespace spk::test::dist_runs
