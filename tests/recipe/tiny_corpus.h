// The tiny synthetic corpus of the spk_train tests: 7 speakers with their own fundamental, 4 utterances each, as
// wav files in a scratch directory, with a 4-speaker and a 3-speaker training list, a trial list, and `common`:
// the flags of a tiny, fast recipe (ResNetSE34L with 16-d embeddings, 4 batches of 4 crops of 0.2 s per epoch on
// the 4-speaker list). Set SPK_TEST_KEEP to keep the directory.
#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/audio/audio_file.h"

namespace spk::test {

// Speaker k: harmonics of its own fundamental; utterance u shifts the phase, the level and the length.
inline std::vector<float> tiny_voice(int k, int u, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  const double f0 = 110.0 + 70.0 * k;
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    for (int h = 1; h <= 5; ++h) v += std::sin(2 * M_PI * f0 * h * double(i) / 16000.0 + u * 0.9 * h) / h;
    x[size_t(i)] = float((0.1 + 0.04 * u) * v);
  }
  return x;
}

struct TinyCorpus {
  std::filesystem::path dir;
  std::string train4, train3, trials;
  std::string common;   // every flag but --train_list, --max_epoch, --save_path; evaluates on `trials`
  std::string no_eval;  // the same without evaluation (no --test_list)

  explicit TinyCorpus(const std::string& tag) {
    namespace fs = std::filesystem;
    dir = fs::temp_directory_path() / (tag + "_" + std::to_string(::getpid()));
    fs::create_directories(dir / "wav");
    train4 = file("train4.txt");
    train3 = file("train3.txt");
    std::ofstream t4(train4), t3(train3);
    for (int k = 0; k < 7; ++k)
      for (int u = 0; u < 4; ++u) {
        const std::string rel = "s" + std::to_string(k) + "/u" + std::to_string(u) + ".wav";
        fs::create_directories(dir / "wav" / ("s" + std::to_string(k)));
        audio::write_audio((dir / "wav" / rel).string(), tiny_voice(k, u, 6000 + 700 * u), 16000);
        if (k < 4) t4 << "spk" << k << " " << rel << "\n";
        else t3 << "spk" << k << " " << rel << "\n";
      }
    trials = file("trials.txt");
    std::ofstream tr(trials);
    tr << "1 s0/u0.wav s0/u1.wav\n0 s0/u0.wav s1/u0.wav\n1 s1/u2.wav s1/u3.wav\n0 s2/u1.wav s3/u1.wav\n";
    const std::string base =
        "--model ResNetSE34L --nOut 16 --trainfunc softmax --nClasses 0 --log_input --max_frames 20 --batch_size 4 "
        "--nDataLoaderThread 1 --eval_frames 20 --num_eval 2 --lr 0.001 --train_path " + (dir / "wav").string();
    no_eval = base + " --test_list ''";
    common = base + " --test_path " + (dir / "wav").string() + " --test_list " + trials;
  }
  ~TinyCorpus() {
    if (std::getenv("SPK_TEST_KEEP")) return;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TinyCorpus(const TinyCorpus&) = delete;
  TinyCorpus& operator=(const TinyCorpus&) = delete;
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

}  // namespace spk::test
