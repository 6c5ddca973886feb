// Issue 17's sync test for the whole training loop: spk_train on the tiny corpus with SPK_SYNC_REPORT=1, which
// logs, per epoch, the reads of tensor values to the host that the step loop made (engine/sync_counter.h:
// every Tensor::to(cpu), item(), to_vector(), on any device, so this CPU run counts the device-to-host syncs
// the same loop would make on a GPU). A step — data upload, fbank, model, loss and metric, backward, optimiser —
// reads nothing; the loop reads once per --log_interval steps and at the epoch's end (one copy for every
// pending step's loss, accuracy and gradient probe). --nan_policy skip reads every step, as it must decide before
// the update. And the figures do not depend on the interval: the epoch lines and train_log.csv's loss and
// accuracy are the same with --log_interval 1 and 100.
#include <fstream>
#include <regex>
#include <sstream>

#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

#ifdef SPK_TRAIN_BINARY

namespace {

spk::test::TinyCorpus& corpus() {
  static spk::test::TinyCorpus c("spk_test_sync");
  return c;
}

// 4 batches of 4 speakers per epoch, 2 epochs (8 steps).
spk::test::AppRun train(const std::string& name, const std::string& extra) {
  const auto& c = corpus();
  return spk::test::run_binary(SPK_TRAIN_BINARY,
                               c.no_eval + " --train_list " + c.train4 + " --max_epoch 2 --save_path " + c.file(name) +
                                   " " + extra,
                               "SPK_SYNC_REPORT=1");
}

// The "host reads" figure of each epoch's sync line.
std::vector<int> reads_per_epoch(const std::string& output) {
  std::vector<int> n;
  const std::regex line(R"(sync: epoch (\d+): (\d+) host reads in (\d+) steps)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line); it != std::sregex_iterator(); ++it)
    n.push_back(std::stoi((*it)[2]));
  return n;
}

// "epoch k: loss X  accuracy Y%" of each epoch line, without the speed and time that follow.
std::vector<std::string> epoch_figures(const std::string& output) {
  std::vector<std::string> v;
  const std::regex line(R"(epoch \d+: loss [^ ]+  [a-zA-Z]+ [^ ]+%)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line); it != std::sregex_iterator(); ++it)
    v.push_back(it->str());
  return v;
}

// train_log.csv's epoch, steps, lr, loss and metric columns.
std::vector<std::string> log_figures(const std::string& save_path) {
  std::ifstream f(save_path + "/train_log.csv");
  std::vector<std::string> rows;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream s(line);
    std::string cell, row;
    for (int i = 0; i < 5 && std::getline(s, cell, ','); ++i) row += cell + ",";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("training loop: one read per --log_interval and at the epoch's end, none inside a step") {
  struct Case {
    std::string loss, interval;
    std::vector<int> reads;   // per epoch
  };
  // 4 steps an epoch: interval 2 reads at steps 2 and 4 (6 and 8); 3 at step 3 and the last batch (6, 8);
  // 100 at the last batch only. aamsoftmax runs the fused loss op, angleproto the fused similarity op (its
  // sampler makes 4 batches of 2x2 in epoch 1 and 3 in epoch 2: one read a step with interval 1).
  for (const Case& c : std::vector<Case>{{"softmax", "2", {2, 2}},
                                        {"softmax", "3", {2, 2}},
                                        {"aamsoftmax", "100", {1, 1}},
                                        {"angleproto --nPerSpeaker 2 --batch_size 2", "1", {4, 3}}}) {
    CAPTURE(c.loss);
    CAPTURE(c.interval);
    const auto r = train("sync_" + c.interval + "_" + c.loss.substr(0, 5), "--trainfunc " + c.loss + " --log_interval " +
                                                                             c.interval);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    CHECK_MESSAGE(reads_per_epoch(r.output) == c.reads, r.output);
  }
}

TEST_CASE("training loop: --nan_policy skip reads every step (it decides before the update)") {
  const auto r = train("sync_skip", "--nan_policy skip --log_interval 100");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const std::vector<int> every_step{4, 4};
  CHECK_MESSAGE(reads_per_epoch(r.output) == every_step, r.output);
}

TEST_CASE("training loop: the printed figures and train_log.csv do not depend on --log_interval") {
  const auto a = train("sync_fig1", "--log_interval 1");
  const auto b = train("sync_fig100", "--log_interval 100");
  REQUIRE_MESSAGE(a.status == 0, a.output);
  REQUIRE_MESSAGE(b.status == 0, b.output);
  CHECK(epoch_figures(a.output).size() == 2);
  CHECK(epoch_figures(a.output) == epoch_figures(b.output));
  CHECK(log_figures(corpus().file("sync_fig1")).size() == 3);   // header and two epochs
  CHECK(log_figures(corpus().file("sync_fig1")) == log_figures(corpus().file("sync_fig100")));
}

TEST_CASE("--log_interval: a bad value fails before any work") {
  const auto r = train("sync_bad", "--log_interval 0");
  CHECK(r.status != 0);
  CHECK(r.output.find("--log_interval") != std::string::npos);
  CHECK(r.output.find("must be at least 1") != std::string::npos);
}

#endif  // SPK_TRAIN_BINARY
