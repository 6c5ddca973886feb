// spk_train --distributed's evaluation (docs/distributed.md): every rank embeds a contiguous share of the trial
// list's files and the shares are all-gathered. The figures must be those of one process evaluating the saved
// model (spk_eval on the checkpoint): rank 0's parameters and BatchNorm statistics, every file in its place.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dist/dist_runs.h"

using namespace spk;
using namespace spk::test::dist_runs;

#ifdef SPK_EVAL_BINARY

namespace {

// Every pair of 9 files (an odd count: rank 1's share is one short) of 3 speakers: 36 trials, 9 of them target.
std::string all_pairs_trials() {
  const std::string path = fx().file("trials9.txt");
  std::vector<std::string> files;
  for (int k = 4; k < 7; ++k)
    for (int u = 0; u < (k == 6 ? 1 : 4); ++u)
      files.push_back("s" + std::to_string(k) + "/u" + std::to_string(u) + ".wav");
  std::ofstream t(path);
  for (size_t i = 0; i < files.size(); ++i)
    for (size_t j = i + 1; j < files.size(); ++j)
      t << (files[i].substr(0, 2) == files[j].substr(0, 2)) << " " << files[i] << " " << files[j] << "\n";
  return path;
}

}  // namespace

TEST_CASE("--distributed: evaluation embeddings gathered over 2 ranks give the EER of 1 process on the saved model") {
  // ResNetSE34L (BatchNorm, per-rank statistics without --sync_bn): rank 1's own statistics would change the scores.
  std::string a = args(2, 1, "eval2");
  const std::string sinc = "--model SincTDNN";
  a.replace(a.find(sinc), sinc.size(), "--model ResNetSE34L");
  const std::string eval = " --test_path " + fx().file("wav") + " --test_list " + all_pairs_trials();
  const test::AppRun r = two(a + eval + " --test_interval 1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  size_t eer_lines = 0;
  for (size_t p = r.output.find("\nEER "); p != std::string::npos; p = r.output.find("\nEER ", p + 1)) ++eer_lines;
  CHECK(eer_lines == 1);   // rank 0 alone reports
  const auto saved = read_checkpoint(fx().file("eval2") + "/model/last.safetensors").state.eval;
  REQUIRE(saved.contains("vt_eer"));

  const std::string json = fx().file("eval2.json");
  const test::AppRun e = test::run_binary(SPK_EVAL_BINARY, "--initial_model " + fx().file("eval2") +
                                                                "/model/last.safetensors --eval_frames 20 --num_eval 2 "
                                                                "--nDataLoaderThread 1 --json " + json + eval);
  INFO(e.output);
  REQUIRE(e.status == 0);
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in)["scores"]["vt"];
  MESSAGE("2 ranks: EER " << saved["vt_eer"] << " threshold " << saved["vt_eer_threshold"] << "; spk_eval: EER "
                          << j["vt_eer"] << " threshold " << j["vt_eer_threshold"]);
  CHECK(j["trials"] == 36);
  CHECK(saved["vt_eer"].get<double>() == j["vt_eer"].get<double>());
  CHECK(saved["interp_eer"].get<double>() == doctest::Approx(j["interpolated_eer"].get<double>()).epsilon(1e-9));
  // The threshold is a trial's score: the embeddings agree to float rounding, not just the ranking.
  CHECK(saved["vt_eer_threshold"].get<double>() == doctest::Approx(j["vt_eer_threshold"].get<double>()).epsilon(1e-5));
  CHECK(saved["min_dcf"].get<double>() == doctest::Approx(j["min_dcf"]["min_dcf"].get<double>()).epsilon(1e-9));
}

#endif  // SPK_EVAL_BINARY
