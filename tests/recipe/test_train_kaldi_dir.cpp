// spk_train --train_list DIR with a Kaldi data dir: it trains exactly as the equivalent voxceleb_trainer list (the
// same speakers in the same order, bit-identical parameters after an epoch), with `segments` cutting one long
// recording per speaker into the list's utterances (with the default sampler and with --sampler pyannote), and
// every malformed dir fails before any work naming the file and line.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/recipe/checkpoint.h"
#include "engine/audio/audio_file.h"
#include "engine/safetensors.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_train_kaldi_dir");
  return f;
}

spk::test::AppRun run_train(const std::string& args) { return spk::test::run_binary(SPK_TRAIN_BINARY, args); }

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// Largest |a - b| over the model and loss tensors of two checkpoints (names must match).
double max_difference(const std::string& a, const std::string& b) {
  const auto ta = load_safetensors(a).tensors, tb = load_safetensors(b).tensors;
  REQUIRE(ta.size() == tb.size());
  double worst = 0;
  for (size_t i = 0; i < ta.size(); ++i) {
    REQUIRE(ta[i].first == tb[i].first);
    if (ta[i].first.rfind("__S__.", 0) != 0 && ta[i].first.rfind("__L__.", 0) != 0) continue;
    const Tensor x = ta[i].second.to(DType::f64), y = tb[i].second.to(DType::f64);
    for (int64_t j = 0; j < x.numel(); ++j) worst = std::max(worst, std::abs(x.data<double>()[j] - y.data<double>()[j]));
  }
  return worst;
}

// The tiny corpus's 4-speaker list (`spk<k> s<k>/u<u>.wav`, k < 4, u < 4) as a data dir; with segments, each
// speaker's four utterances concatenated into one float WAV per speaker and cut back out by `segments`.
std::string make_dir(const spk::test::TinyCorpus& f, const std::string& name, bool segments) {
  const std::string d = f.file(name);
  std::string scp, u2s, seg;
  for (int k = 0; k < 4; ++k) {
    const std::string s = "spk" + std::to_string(k);
    std::vector<float> rec;
    for (int u = 0; u < 4; ++u) {
      const std::string utt = s + "-u" + std::to_string(u), rel = "s" + std::to_string(k) + "/u" + std::to_string(u) + ".wav";
      u2s += utt + " " + s + "\n";
      if (!segments) {
        scp += utt + " " + rel + "\n";
        continue;
      }
      const std::vector<float> x = audio::read_audio((f.dir / "wav" / rel).string());
      // Lengths are multiples of 100 samples (6000 + 700u), so the times are exact decimals.
      seg += utt + " rec" + std::to_string(k) + " " + std::to_string(double(rec.size()) / 16000) + " " +
             std::to_string(double(rec.size() + x.size()) / 16000) + "\n";
      rec.insert(rec.end(), x.begin(), x.end());
    }
    if (segments) {
      const std::string rel = "rec" + std::to_string(k) + ".wav";
      audio::write_audio((f.dir / "wav" / rel).string(), rec, 16000, audio::AudioFormat::wav_float);
      scp += "rec" + std::to_string(k) + " " + rel + "\n";
    }
  }
  write(d + "/wav.scp", scp);
  write(d + "/utt2spk", u2s);
  if (segments) write(d + "/segments", seg);
  return d;
}

}  // namespace

TEST_CASE("spk_train: a Kaldi data dir trains exactly as the equivalent voxceleb_trainer list") {
  spk::test::TinyCorpus& f = fx();
  const std::string args = f.no_eval + " --max_epoch 1 --save_path ";
  const spk::test::AppRun list = run_train(args + f.file("by_list") + " --train_list " + f.train4);
  INFO(list.output);
  REQUIRE(list.status == 0);
  const std::string by_list = f.file("by_list") + "/model/last.safetensors";
  for (const bool segments : {false, true}) {
    CAPTURE(segments);
    const std::string out = f.file(segments ? "by_segments" : "by_dir");
    const spk::test::AppRun dir = run_train(args + out + " --train_list " + make_dir(f, segments ? "seg" : "plain", segments));
    INFO(dir.output);
    REQUIRE(dir.status == 0);
    const std::string ckpt = out + "/model/last.safetensors";
    CHECK(read_checkpoint(ckpt).state.speakers.names() == std::vector<std::string>{"spk0", "spk1", "spk2", "spk3"});
    CHECK(read_checkpoint(ckpt).state.speakers == read_checkpoint(by_list).state.speakers);
    CHECK(max_difference(ckpt, by_list) == 0.0);   // same utterances, labels, order and samples
  }
}

TEST_CASE("spk_train --train_utt2spk: a data dir's files named one by one train as the dir") {
  spk::test::TinyCorpus& f = fx();
  const std::string args = f.no_eval + " --max_epoch 1 --save_path ";
  for (const bool segments : {false, true}) {
    CAPTURE(segments);
    const std::string d = make_dir(f, segments ? "named_seg" : "named", segments);
    const std::string by_dir = f.file(segments ? "named_dir_seg" : "named_dir"),
                      by_files = f.file(segments ? "named_files_seg" : "named_files");
    const spk::test::AppRun a = run_train(args + by_dir + " --train_list " + d);
    const spk::test::AppRun b = run_train(args + by_files + " --train_list " + d + "/wav.scp --train_utt2spk " + d +
                                          "/utt2spk" + (segments ? " --train_segments " + d + "/segments" : ""));
    INFO(a.output << b.output);
    REQUIRE(a.status == 0);
    REQUIRE(b.status == 0);
    CHECK(max_difference(by_dir + "/model/last.safetensors", by_files + "/model/last.safetensors") == 0.0);
  }
}

TEST_CASE("spk_train --train_utt2spk / --train_segments: misuse fails before any work, naming the flag") {
  spk::test::TinyCorpus& f = fx();
  const std::string d = make_dir(f, "named_bad", false);
  const std::string args = f.no_eval + " --max_epoch 1 --save_path " + f.file("named_bad_out");
  auto fails = [&](const std::string& extra, const std::string& needle) {
    const spk::test::AppRun r = run_train(args + extra);
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(r.signal == 0);
    CHECK(r.output.find(needle) != std::string::npos);
  };
  fails(" --train_list " + d + "/wav.scp --train_segments " + d + "/segments", "--train_segments: is read with");
  fails(" --train_list " + d + " --train_utt2spk " + d + "/utt2spk", "--train_utt2spk: --train_list " + d + " is a directory");
  fails(" --train_list " + d + "/wav.scp --train_utt2spk " + d + "/nope", "--train_utt2spk: no such file '" + d + "/nope'");
  CHECK(!fs::exists(f.file("named_bad_out") + "/model"));
}

TEST_CASE("spk_train --sampler pyannote: chunks from Kaldi segments are the list's chunks") {
  spk::test::TinyCorpus& f = fx();
  const std::string args = f.no_eval + " --max_epoch 1 --sampler pyannote --chunk_duration 0.3 --chunk_min_duration 0.2"
                           " --per_fold 4 --per_label 1 --label_min_duration 1 --save_path ";
  const spk::test::AppRun list = run_train(args + f.file("chunks_list") + " --train_list " + f.train4);
  INFO(list.output);
  REQUIRE(list.status == 0);
  const spk::test::AppRun seg = run_train(args + f.file("chunks_seg") + " --train_list " + make_dir(f, "seg_chunks", true));
  INFO(seg.output);
  REQUIRE(seg.status == 0);
  CHECK(max_difference(f.file("chunks_seg") + "/model/last.safetensors", f.file("chunks_list") + "/model/last.safetensors") ==
        0.0);
}

TEST_CASE("spk_train: a bad Kaldi data dir fails before any work, naming the file and line") {
  spk::test::TinyCorpus& f = fx();
  const std::string args = f.no_eval + " --max_epoch 1 --save_path " + f.file("bad_kaldi") + " --train_list ";
  auto fails = [&](const std::string& dir, const std::string& needle) {
    const spk::test::AppRun r = run_train(args + dir);
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(r.signal == 0);
    CHECK(r.output.find("spk_train: error:") != std::string::npos);
    CHECK(r.output.find(needle) != std::string::npos);
  };
  const std::string d = f.file("badk");
  write(d + "/wav.scp", "spk0-u0 s0/u0.wav\nspk1-u0 s1/u0.wav\n");
  fails(d, "no file '" + d + "/utt2spk'");
  write(d + "/utt2spk", "spk0-u0 spk0\nspk1-u0 spk1\nspk1-u1 spk1\n");
  fails(d, d + "/utt2spk:3: utterance 'spk1-u1' is not in " + d + "/wav.scp");
  write(d + "/utt2spk", "spk0-u0 spk0\n");
  fails(d, d + "/wav.scp:2: utterance 'spk1-u0' has no speaker in " + d + "/utt2spk");
  write(d + "/wav.scp", "spk0-u0 s0/u0.wav\nspk0-u0 s1/u0.wav\n");
  fails(d, d + "/wav.scp:2: id 'spk0-u0' appears twice");
  write(d + "/wav.scp", "spk0-u0 sox s0/u0.flac -t wav - |\n");
  fails(d, d + "/wav.scp:1: piped commands are not supported");
  // segments: s0/u0.wav is 6000 samples, 0.375 s.
  write(d + "/wav.scp", "r0 s0/u0.wav\n");
  write(d + "/utt2spk", "a spk0\nb spk1\n");
  write(d + "/segments", "a r0 0 0.2\nb r1 0.2 0.3\n");
  fails(d, d + "/segments:2: recording 'r1' of utterance 'b' is not in");
  write(d + "/segments", "a r0 0 0.2\nb r0 0.3 0.2\n");
  fails(d, d + "/segments:2: segment of utterance 'b' ends at 0.2 s, not after its start 0.3 s");
  write(d + "/segments", "a r0 0 0.2\nb r0 0.2 0.4\n");
  fails(d, d + "/segments:2: segment [0.2, 0.4) s ends past the end of");
  CHECK(!fs::exists(f.file("bad_kaldi") + "/model"));
}

#endif  // SPK_TRAIN_BINARY
