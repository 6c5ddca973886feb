// spk_train, the built binary and the Trainer in-process, on a tiny synthetic corpus (4 speakers with their own
// fundamental): the loss falls, a run killed mid-epoch (SIGKILL, injected at a fixed step) and resumed ends with
// the same parameters as an uninterrupted one, --initial_model fine-tunes onto another class count, and every
// kind of bad input fails before any work with a message naming the flag, file or line and a non-zero exit.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/trainer.h"
#include "engine/safetensors.h"
#include "engine/schedule.h"
#include "support/check.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

Run run_train(const std::string& args, const std::string& env = "") {
  return spk::test::run_binary(SPK_TRAIN_BINARY, args, env);
}

spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_spk_train");
  return f;
}

NamedTensors model_tensors(const std::string& ckpt) {
  NamedTensors out;
  for (auto& [n, t] : load_safetensors(ckpt).tensors)
    if (n.rfind("__S__.", 0) == 0 || n.rfind("__L__.", 0) == 0) out.emplace_back(n, t);
  return out;
}

void check_failure(const std::string& args, const std::string& needle, int status = 2) {
  const Run r = run_train(args);
  INFO("spk_train " << args << "\n" << r.output);
  CHECK(r.status == status);
  CHECK(r.output.find("spk_train: error:") != std::string::npos);
  CHECK(r.output.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("spk_train: the loss falls on a tiny corpus, and the run writes its log, config and checkpoints") {
  spk::test::TinyCorpus& f = fx();
  const std::string out = f.file("learn");
  const Run r = run_train(f.common + " --train_list " + f.train4 + " --max_epoch 8 --test_interval 4 --save_path " + out);
  INFO(r.output);
  REQUIRE(r.status == 0);
  // The last line is the final evaluation, as spk_eval prints it.
  std::smatch m;
  const std::string last = r.output.substr(r.output.rfind("EER "));
  CHECK(std::regex_match(last, m, std::regex(R"(EER [0-9]+\.[0-9]{4} MinDCF [0-9]+\.[0-9]{5}\n)")));
  // The CSV log: a row per epoch; the evaluation columns are filled on test_interval epochs only.
  std::ifstream log(out + "/train_log.csv");
  std::string line;
  std::getline(log, line);
  CHECK(line.rfind("epoch,steps,lr,loss,", 0) == 0);
  std::vector<double> losses;
  while (std::getline(log, line)) {
    std::vector<std::string> cols;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cols.push_back(c);
    REQUIRE(cols.size() == 14);
    const int epoch = std::stoi(cols[0]);
    CHECK(epoch == int(losses.size()) + 1);
    CHECK(std::stoi(cols[1]) == 4 * epoch);   // 16 utterances / batch 4
    losses.push_back(std::stod(cols[3]));
    CHECK(cols[9].empty() == (epoch % 4 != 0));
  }
  REQUIRE(losses.size() == 8);
  CHECK(losses.back() < 0.5 * losses.front());
  CHECK(fs::exists(out + "/model/model000000004.safetensors"));
  CHECK(fs::exists(out + "/model/model000000008.safetensors"));
  CHECK(fs::exists(out + "/model/last.safetensors"));
  // config.yaml is the effective configuration and can be read back with --config.
  OptionParser p("spk_train", "", TRAIN);
  const std::string cfg = "--config " + out + "/config.yaml";
  std::vector<const char*> argv = {"spk_train", "--config", nullptr};
  const std::string path = out + "/config.yaml";
  argv[2] = path.c_str();
  REQUIRE(p.parse(3, argv.data()));
  CHECK(p.str("model") == "ResNetSE34L");
  CHECK(p.integer("nOut") == 16);
  CHECK(p.boolean("log_input"));
  CHECK(p.real("lr") == 0.001);
}

TEST_CASE("spk_train: a run killed mid-epoch resumes to the same parameters as an uninterrupted run") {
  spk::test::TinyCorpus& f = fx();
  const std::string args = f.common + " --train_list " + f.train4 + " --max_epoch 4 --test_interval 2 --save_path ";
  const Run a = run_train(args + f.file("whole"));
  INFO(a.output);
  REQUIRE(a.status == 0);

  // Killed by SIGKILL after step 7: epoch 2 (steps 5-8) is half done; last.safetensors holds epoch 1.
  const std::string b_dir = f.file("killed");
  const Run killed = run_train(args + b_dir, "SPK_FAULT=train.step:kill@7");
  INFO(killed.output);
  REQUIRE(killed.signal == SIGKILL);
  REQUIRE(read_checkpoint(b_dir + "/model/last.safetensors").state.epoch == 1);
  // A write cut short by a kill leaves a temporary file; the resume must ignore it.
  { std::ofstream junk(b_dir + "/model/last.safetensors.tmp.12345"); junk << "partial"; }

  const Run b = run_train(args + b_dir);
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(b.output.find("resuming from") != std::string::npos);

  const Checkpoint ca = read_checkpoint(f.file("whole") + "/model/last.safetensors");
  const Checkpoint cb = read_checkpoint(b_dir + "/model/last.safetensors");
  CHECK(ca.state.epoch == 4);
  CHECK(cb.state.epoch == 4);
  CHECK(ca.state.step == cb.state.step);
  CHECK(ca.state.rng_offset == cb.state.rng_offset);
  const NamedTensors ta = model_tensors(ca.path), tb = model_tensors(cb.path);
  REQUIRE(ta.size() == tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    CAPTURE(ta[i].first);
    REQUIRE(ta[i].first == tb[i].first);
    const Tensor x = ta[i].second.to(DType::f64), y = tb[i].second.to(DType::f64);
    double worst = 0;
    for (int64_t j = 0; j < x.numel(); ++j) worst = std::max(worst, std::abs(x.data<double>()[j] - y.data<double>()[j]));
    CHECK(worst == 0.0);   // bit-identical: same data order, same arithmetic
  }
  // The log has each epoch once: the resumed run dropped nothing and repeated nothing.
  std::ifstream log(b_dir + "/train_log.csv");
  std::string line;
  int rows = 0;
  std::getline(log, line);
  while (std::getline(log, line)) CHECK(std::stoi(line) == ++rows);
  CHECK(rows == 4);
}

TEST_CASE("spk_train: --initial_model fine-tunes onto another class count, re-initialising the head") {
  spk::test::TinyCorpus& f = fx();
  const std::string base = f.file("base");
  REQUIRE(run_train(f.common + " --train_list " + f.train4 + " --max_epoch 1 --save_path " + base).status == 0);
  const std::string ckpt = base + "/model/last.safetensors";

  const Run other = run_train(f.common + " --train_list " + f.train3 + " --batch_size 3 --max_epoch 1 --initial_model " +
                              ckpt + " --save_path " + f.file("ft3"));
  INFO(other.output);
  REQUIRE(other.status == 0);
  CHECK(other.output.find("loss weights not loaded, re-initialised") != std::string::npos);
  CHECK(other.output.find("(another class count?)") != std::string::npos);
  const Checkpoint c3 = read_checkpoint(f.file("ft3") + "/model/last.safetensors");
  CHECK(c3.state.speakers.size() == 3);
  CHECK(c3.state.config["nClasses"] == 3);

  const Run same = run_train(f.common + " --train_list " + f.train4 + " --max_epoch 1 --initial_model " + ckpt +
                             " --save_path " + f.file("ft4"));
  INFO(same.output);
  REQUIRE(same.status == 0);
  CHECK(same.output.find("loss weights loaded") != std::string::npos);

  // A voxceleb_trainer-style weights-only file (model under __S__.) is accepted too.
  NamedTensors w;
  for (auto& [n, t] : load_safetensors(ckpt).tensors)
    if (n.rfind("__S__.", 0) == 0) w.emplace_back(n, t);
  save_safetensors(f.file("vt_weights.safetensors"), w);
  const Run vt = run_train(f.common + " --train_list " + f.train4 + " --max_epoch 1 --initial_model " +
                           f.file("vt_weights.safetensors") + " --save_path " + f.file("ftvt"));
  INFO(vt.output);
  REQUIRE(vt.status == 0);
  CHECK(vt.output.find("(voxceleb_trainer)") != std::string::npos);
  CHECK(vt.output.find("the file has no loss weights") != std::string::npos);
}

TEST_CASE("spk_train: wespeaker's margin ramp sets the loss margin every step") {
  spk::test::TinyCorpus& f = fx();
  const std::string out = f.file("ramp");
  const Run r = run_train(f.common + " --train_list " + f.train4 + " --trainfunc aamsoftmax --margin 0.2 --initial_margin "
                          "0.05 --increase_start_epoch 2 --fix_start_epoch 3 --max_epoch 3 --test_interval 1 --save_path " +
                          out);
  INFO(r.output);
  REQUIRE(r.status == 0);
  MarginSchedule ms;
  ms.initial_margin = 0.05;
  ms.final_margin = 0.2;
  ms.increase_start_epoch = 2;
  ms.fix_start_epoch = 3;
  ms.epoch_iter = 4;
  for (int e = 1; e <= 3; ++e) {
    CAPTURE(e);
    const Checkpoint ck = read_checkpoint(numbered_checkpoint_path(out, e));
    // The margin of the epoch's last step (iteration 4e - 1): 0.05 before the ramp, 0.2 after it.
    const double m = std::stod(ck.file.metadata.at("spk.margin"));
    CHECK(m == doctest::Approx(ms(4 * e - 1)).epsilon(1e-12));
  }
  CHECK(std::stod(read_checkpoint(numbered_checkpoint_path(out, 1)).file.metadata.at("spk.margin")) == 0.05);
  CHECK(std::stod(read_checkpoint(numbered_checkpoint_path(out, 3)).file.metadata.at("spk.margin")) == 0.2);
  const double mid = std::stod(read_checkpoint(numbered_checkpoint_path(out, 2)).file.metadata.at("spk.margin"));
  CHECK(mid > 0.05);
  CHECK(mid < 0.2);
}

TEST_CASE("spk_train: bad input fails before any work, naming the flag, file or line") {
  spk::test::TinyCorpus& f = fx();
  const std::string ok = f.common + " --train_list " + f.train4 + " --max_epoch 1 --save_path " + f.file("bad");
  SUBCASE("flags") {
    check_failure(ok + " --nonsense 3", "--nonsense");
    check_failure(ok + " --lr abc", "--lr: 'abc' is not a finite number");
    check_failure(ok + " --lr -1", "--lr: must be positive");
    check_failure(ok + " --max_epoch 0", "--max_epoch");
    check_failure(ok + " --batch_size 2.5", "--batch_size: '2.5' is not an integer");
    check_failure(ok + " --augment maybe", "--augment: 'maybe' is not a boolean");
    check_failure(ok + " --lr", "--lr");
    check_failure(ok + " --model NoSuchNet", "--model: unknown model 'NoSuchNet'");
    check_failure(ok + " --trainfunc nosuchloss", "--trainfunc: unknown loss 'nosuchloss'");
    check_failure(ok + " --trainfunc angleproto", "--nPerSpeaker: 1 does not suit --trainfunc angleproto");
    check_failure(ok + " --trainfunc softmax --nPerSpeaker 2", "--nPerSpeaker: 2 does not suit --trainfunc softmax");
    check_failure(ok + " --optimizer lbfgs", "--optimizer: unknown optimizer 'lbfgs'");
    check_failure(ok + " --scheduler wild", "--scheduler: unknown scheduler 'wild'");
    check_failure(ok + " --frontend nope", "--frontend: unknown preset 'nope'");
    check_failure(ok + " --device tpu", "--device: 'tpu' is not cpu or cuda");
    check_failure(ok + " --cpu_conv mkl", "--cpu_conv: unknown backend 'mkl' (auto, spk or dnnl)");
  }
  SUBCASE("inconsistent settings") {
    check_failure(ok + " --nClasses 2", "--nClasses: 2 is fewer than the 4 speakers");
    check_failure(ok + " --batch_size 5", "--batch_size: 5 speakers per batch, but --train_list");
    check_failure(ok + " --augment --musan_path " + f.file("no_musan"), "--musan_path: no such directory");
    check_failure(ok + " --warm_up_epoch 3 --scheduler cosine", "--warm_up_epoch");
    check_failure(ok + " --increase_start_epoch 3 --fix_start_epoch 2 --trainfunc aamsoftmax", "--fix_start_epoch");
    check_failure(ok + " --increase_start_epoch 1 --fix_start_epoch 2", "a margin ramp needs a margin loss");
  }
  SUBCASE("files and lists") {
    check_failure(ok + " --train_list " + f.file("missing.txt"), "--train_list: no such file");
    check_failure(ok + " --train_path " + f.file("nowhere"), "--train_path: no such directory");
    check_failure(ok + " --test_list " + f.file("missing_trials.txt"), "--test_list: no such file");
    {
      std::ofstream o(f.file("one_column.txt"));
      o << "spk0 s0/u0.wav\nlonely\n";
    }
    check_failure(ok + " --train_list " + f.file("one_column.txt"), "one_column.txt:2", 1);
    {
      std::ofstream o(f.file("ghost.txt"));
      o << "spk0 s0/u0.wav\nspk1 s1/ghost.wav\n";
    }
    check_failure(ok + " --train_list " + f.file("ghost.txt"), "ghost.wav' (check --train_path");
    {
      std::ofstream o(f.file("ghost_trials.txt"));
      o << "1 s0/u0.wav s0/nothere.wav\n";
    }
    check_failure(ok + " --test_list " + f.file("ghost_trials.txt"), "nothere.wav' does not exist");
  }
  SUBCASE("config files") {
    {
      std::ofstream o(f.file("typo.yaml"));
      o << "model: ResNetSE34L\nnLcasses: 10\n";
    }
    check_failure(ok + " --config " + f.file("typo.yaml"), "typo.yaml:2: unknown option 'nLcasses'");
    {
      std::ofstream o(f.file("list.yaml"));
      o << "lr: [1, 2]\n";
    }
    check_failure(ok + " --config " + f.file("list.yaml"), "list.yaml:1: lr: expected a single value");
    {
      std::ofstream o(f.file("badval.yaml"));
      o << "\nmax_frames: lots\n";
    }
    check_failure(ok + " --config " + f.file("badval.yaml"), "badval.yaml:2: max_frames: 'lots' is not an integer");
    check_failure(ok + " --config " + f.file("absent.yaml"), "--config: cannot open");
  }
  SUBCASE("resuming with other settings") {
    const std::string dir = f.file("resume_other");
    REQUIRE(run_train(f.common + " --train_list " + f.train4 + " --max_epoch 1 --save_path " + dir).status == 0);
    check_failure(f.common + " --train_list " + f.train4 + " --max_epoch 2 --nOut 8 --save_path " + dir,
                  "--nOut 8 differs from 16 in the checkpoint");
    check_failure(f.common + " --train_list " + f.train3 + " --nClasses 4 --batch_size 3 --max_epoch 2 --save_path " + dir,
                  "its speakers differ from those of the checkpoint");
  }
  // Nothing was trained by any failing run.
  CHECK(!fs::exists(f.file("bad") + "/model"));
}

#endif  // SPK_TRAIN_BINARY
