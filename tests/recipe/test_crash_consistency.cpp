// Crash consistency of spk_train (docs/reliability.md), on the tiny corpus: SIGKILL at each step of a checkpoint
// write (SPK_FAULT, engine/fault.h: in the middle of the bytes, before the fsync, before the rename, before the
// directory fsync, after it), for the first checkpoint of the run, a numbered one and the last.safetensors after it;
// every file left in the model folder is then complete, and the resumed run ends with checkpoints and a log equal
// to an uninterrupted run's, bit for bit. A full disk (a real file size limit, `ulimit -f`, and ENOSPC through
// SPK_FAULT) stops the run with a clear error and leaves the previous checkpoint as it was; an unreadable training
// file found mid-epoch (without --skip_bad_files) names the file and the checkpoint to resume from.
#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/recipe/checkpoint.h"
#include "engine/safetensors.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"
#include "support/tmp_files.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& corpus() {
  static spk::test::TinyCorpus c("spk_test_crash");
  return c;
}

Run run_train(const std::string& args, const std::string& env = "") {
  return spk::test::run_binary(SPK_TRAIN_BINARY, args, env);
}

// Two epochs of 2 batches, a numbered checkpoint at epoch 2: the run writes 3 checkpoints, in this order:
// #1 last.safetensors (epoch 1), #2 model000000002.safetensors, #3 last.safetensors (epoch 2).
std::string train_args(const std::string& save_path) {
  const auto& c = corpus();
  return c.no_eval + " --train_list " + c.train4 + " --max_seg_per_spk 2 --max_epoch 2 --test_interval 2 --save_path " +
         save_path;
}

// Files in <save_path>/model, sorted.
std::vector<std::string> model_files(const std::string& save_path) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(save_path) / "model")) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// "" when the two checkpoints hold the same tensors, bit for bit, and the same metadata (the recorded
// --save_path aside); else the first difference.
std::string checkpoint_difference(const std::string& a, const std::string& b) {
  const SafetensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
  if (fa.tensors.size() != fb.tensors.size()) return "tensor counts differ";
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    const auto& [na, ta] = fa.tensors[i];
    const auto& [nb, tb] = fb.tensors[i];
    if (na != nb || ta.shape() != tb.shape() || ta.dtype() != tb.dtype()) return "entry " + na + " differs in kind";
    const size_t bytes = size_t(ta.numel()) * dtype_size(ta.dtype());
    if (std::memcmp(ta.contiguous().data_ptr(), tb.contiguous().data_ptr(), bytes) != 0) return na + " differs";
  }
  auto meta = [](Metadata m) {
    auto c = nlohmann::json::parse(m.at("spk.config"));
    c.erase("save_path");
    m["spk.config"] = c.dump();
    return m;
  };
  return meta(fa.metadata) == meta(fb.metadata) ? "" : "metadata differs";
}

// train_log.csv without the columns that measure time (samples_per_s, seconds, time).
std::vector<std::string> log_rows(const std::string& save_path) {
  std::ifstream f(save_path + "/train_log.csv");
  std::vector<std::string> rows;
  for (std::string line; std::getline(f, line);) {
    std::vector<std::string> cols;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cols.push_back(c);
    REQUIRE(cols.size() == 14);
    cols.erase(cols.begin() + 13);
    cols.erase(cols.begin() + 6, cols.begin() + 8);
    std::string r;
    for (const auto& c : cols) r += c + ",";
    rows.push_back(r);
  }
  return rows;
}

struct Reference {
  std::string dir;
  size_t writes_per_checkpoint = 0;   // write(2) calls of the atomic writer per checkpoint file
};

const Reference& reference() {
  static const Reference ref = [] {
    Reference r;
    r.dir = corpus().file("uninterrupted");
    const Run run = run_train(train_args(r.dir));
    INFO(run.output);
    REQUIRE(run.status == 0);
    REQUIRE(model_files(r.dir) == std::vector<std::string>{"last.safetensors", "model000000002.safetensors"});
    REQUIRE(log_rows(r.dir).size() == 3);
    // engine/safetensors.cpp writes the header length, the header, then one write per tensor.
    r.writes_per_checkpoint = 2 + load_safetensors(r.dir + "/model/last.safetensors").tensors.size();
    return r;
  }();
  return ref;
}

}  // namespace

TEST_CASE("crash consistency: SIGKILL anywhere in a checkpoint write, then resume: the same run, bit for bit") {
  const Reference& ref = reference();
  const uint64_t w = ref.writes_per_checkpoint;
  struct Kill {
    std::string point;
    uint64_t hit;        // of the point, counted over the run's writes
    int checkpoint;      // the write it falls in
  };
  // Checkpoint #1 (nothing to resume from: the rerun starts afresh), #2 (a numbered file; last.safetensors holds
  // epoch 1) and #3 (last.safetensors, after the numbered file of the same epoch is complete), at every step.
  const std::vector<Kill> kills = {
      {"atomic.write", w / 2, 1},         {"atomic.rename", 1, 1},   {"atomic.fsync", 2, 2},
      {"atomic.dir_fsync", 2, 2},         {"atomic.committed", 2, 2}, {"atomic.write", 2 * w + w / 2, 3},
      {"atomic.fsync", 3, 3},             {"atomic.rename", 3, 3},   {"atomic.dir_fsync", 3, 3},
      {"atomic.committed", 3, 3},
  };
  for (const Kill& k : kills) {
    const std::string rule = k.point + ":kill@" + std::to_string(k.hit);
    CAPTURE(rule);
    const std::string dir = corpus().file("kill_" + k.point + "_" + std::to_string(k.hit));
    const Run killed = run_train(train_args(dir), "SPK_FAULT=" + rule);
    INFO(killed.output);
    REQUIRE(killed.signal == SIGKILL);
    CHECK(killed.output.find("spk: SPK_FAULT: kill at " + k.point) != std::string::npos);
    // Whatever the moment, every checkpoint in the folder is complete; an interrupted one is a temporary file.
    int temporaries = 0;
    for (const std::string& f : model_files(dir)) {
      CAPTURE(f);
      if (f.find(".tmp.") != std::string::npos) ++temporaries;
      else CHECK_NOTHROW(read_checkpoint(dir + "/model/" + f));
    }
    const bool mid_write = k.point == "atomic.write" || k.point == "atomic.fsync" || k.point == "atomic.rename";
    CHECK(temporaries == (mid_write ? 1 : 0));

    const Run resumed = run_train(train_args(dir));
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK((resumed.output.find("resuming from") != std::string::npos) == (k.checkpoint > 1));
    CHECK((resumed.output.find("left by a checkpoint write that was interrupted") != std::string::npos) == mid_write);
    CHECK(model_files(dir) == model_files(ref.dir));   // no temporary file left
    for (const char* f : {"/model/last.safetensors", "/model/model000000002.safetensors"}) {
      CAPTURE(f);
      CHECK(checkpoint_difference(ref.dir + f, dir + f) == "");
    }
    CHECK(log_rows(dir) == log_rows(ref.dir));   // each epoch once, with the same figures
  }
}

TEST_CASE("crash consistency: a full disk stops the run with a clear error and the previous checkpoint intact") {
  const Reference& ref = reference();
  const std::string dir = corpus().file("disk_full");
  const std::string one_epoch = train_args(dir) + " --max_epoch 1";
  REQUIRE(run_train(one_epoch).status == 0);
  const std::string last = dir + "/model/last.safetensors";
  const std::string before = spk::test::read_bytes(last);
  REQUIRE(before.size() > 100000);
  const struct {
    const char* name;
    std::string env;     // shell prefix of the command
    const char* error;   // what the message says about the cause
  } cases[] = {
      // A real limit: writes past it fail with EFBIG (SIGXFSZ ignored, as a daemon would). In 1024-byte blocks
      // (bash) or 512 (dash): either way far below a checkpoint and far above the log and config.yaml.
      {"ulimit -f", "trap '' XFSZ; ulimit -f " + std::to_string(before.size() / 4 / 1024) + ";",
       "File too large (the file size limit was reached, see `ulimit -f`; the previous file is unchanged)"},
      {"ENOSPC", "SPK_FAULT=atomic.write:fail@3",
       "No space left on device (the disk or quota is full: free space and retry; the previous file is unchanged)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run full = run_train(train_args(dir), c.env);
    INFO(full.output);
    CHECK(full.status == 1);
    CHECK(full.output.find("spk_train: error: cannot write the checkpoint of epoch 2: ") != std::string::npos);
    CHECK(full.output.find(c.error) != std::string::npos);
    CHECK(full.output.find("the last complete checkpoint is " + last + " (epoch 1): a rerun with the same "
                           "--save_path resumes from it") != std::string::npos);
    CHECK(spk::test::read_bytes(last) == before);
    CHECK(model_files(dir) == std::vector<std::string>{"last.safetensors"});   // the temporary file is gone
  }
  // The small files are checked too: a limit below config.yaml's size stops the run before any training.
  {
    const std::string small = corpus().file("disk_full_small");
    const Run r = run_train(train_args(small), "trap '' XFSZ; ulimit -f 1;");
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("spk_train: error: cannot write " + small + "/config.yaml: File too large (is the disk full?)")
          != std::string::npos);
    CHECK(!fs::exists(small + "/model"));
  }
  // With space again, the rerun resumes from epoch 1 and ends as the uninterrupted run.
  const Run again = run_train(train_args(dir));
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK(again.output.find("resuming from " + last + " (epoch 1") != std::string::npos);
  CHECK(checkpoint_difference(ref.dir + "/model/last.safetensors", last) == "");
  CHECK(log_rows(dir) == log_rows(ref.dir));
}

TEST_CASE("spk_train: an unreadable training file mid-epoch stops the run naming it and the checkpoint to resume") {
  const auto& c = corpus();
  // A list of its own with a file that is fine for epoch 1 and damaged before epoch 2 (every file is read in
  // every epoch: 4 speakers of 4 utterances, batches of 4 speakers).
  const std::string wav = c.file("wav/s0/damaged.wav");
  fs::copy_file(c.file("wav/s0/u0.wav"), wav, fs::copy_options::overwrite_existing);
  const std::string list = c.file("train_damaged.txt");
  {
    std::ifstream in(c.train4);
    std::ofstream out(list);
    for (std::string line; std::getline(in, line);)
      out << (line == "spk0 s0/u0.wav" ? "spk0 s0/damaged.wav" : line) << "\n";
  }
  const std::string dir = c.file("damaged");
  const std::string args = c.no_eval + " --train_list " + list + " --max_epoch 2 --save_path " + dir;
  REQUIRE(run_train(args + " --max_epoch 1").status == 0);
  spk::test::write_bytes(wav, "RIFF and then nothing a wave file needs");
  const Run r = run_train(args);
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("'" + wav + "': ") != std::string::npos);
  CHECK(r.output.find("the last complete checkpoint is " + dir + "/model/last.safetensors (epoch 1)") !=
        std::string::npos);
  CHECK(read_checkpoint(dir + "/model/last.safetensors").state.epoch == 1);
  fs::remove(wav);
}

#endif  // SPK_TRAIN_BINARY
