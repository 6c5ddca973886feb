// Data-pipeline throughput: 2-s training crops (max_frames 200 -> 32 240 samples) per second per core, from
// 16-bit 16-kHz WAV files in the page cache, without and with voxceleb_trainer --augment; plus the sampler's
// epoch planning time at VoxCeleb2-dev scale. The loader is the #1 user complaint about voxceleb_trainer and
// wespeaker (GPU starved by data loading: https://github.com/clovaai/voxceleb_trainer/issues/110, issues/125,
// https://github.com/wenet-e2e/wespeaker/issues/261, issues/402).
//
// "Per core" is crops / CPU-seconds of the process (getrusage), so the figure does not depend on how busy a
// shared machine is; wall-clock rates are printed next to it. Runs as the "loader" suite of spk_bench (bench.h):
// one line per configuration, and the same fields as JSON rows under --json.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/augment.h"
#include "engine/audio/crop.h"
#include "engine/audio/lists.h"
#include "engine/audio/loader.h"
#include "engine/audio/sampler.h"
#include "engine/rng.h"

namespace {

namespace fs = std::filesystem;
using namespace spk::audio;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "cpu";
}

std::vector<float> noise(int64_t n, uint64_t seed, double amp) {
  spk::Rng r(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = float(r.uniform(-amp, amp));
  return x;
}

// A corpus of `speakers` x `per_spk` WAV files of 4..12 s, plus a small MUSAN/RIR tree.
TrainList make_corpus(const fs::path& dir, int64_t speakers, int64_t per_spk) {
  std::string list;
  spk::Rng r(1);
  for (int64_t s = 0; s < speakers; ++s)
    for (int64_t u = 0; u < per_spk; ++u) {
      const std::string rel = "id" + std::to_string(s) + "/u" + std::to_string(u) + ".wav";
      fs::create_directories(dir / "wav" / ("id" + std::to_string(s)));
      const int64_t len = 16000 * (4 + r.randint(0, 9));
      write_audio((dir / "wav" / rel).string(), noise(len, uint64_t(s * 1000 + u), 0.3), 16000);
      list += "id" + std::to_string(s) + " " + rel + "\n";
    }
  std::ofstream(dir / "train_list.txt") << list;
  for (const char* cat : {"noise", "speech", "music"})
    for (int i = 0; i < 20; ++i) {
      fs::create_directories(dir / "musan" / cat / "set");
      write_audio((dir / "musan" / cat / "set" / ("f" + std::to_string(i) + ".wav")).string(), noise(80000, 77 + i, 0.2), 16000);
    }
  for (int i = 0; i < 20; ++i) {
    fs::create_directories(dir / "rirs" / "smallroom");
    std::vector<float> h = noise(16000, 500 + i, 1.0);
    for (size_t t = 0; t < h.size(); ++t) h[t] *= float(std::exp(-double(t) / 1600.0));
    write_audio((dir / "rirs" / "smallroom" / ("r" + std::to_string(i) + ".wav")).string(), h, 16000);
  }
  return read_train_list((dir / "train_list.txt").string(), (dir / "wav").string());
}

void report(const std::string& name, const std::string& variant, int64_t crops, double wall, double cpu,
            nlohmann::json& rows) {
  const std::string device = cpu_model();
  std::printf("%s %s | %.1f us/crop (cpu) | %.0f crops/s/core | %.0f crops/s wall | %s\n", name.c_str(), variant.c_str(),
              1e6 * cpu / double(crops), double(crops) / cpu, double(crops) / wall, device.c_str());
  rows.push_back({{"op", name}, {"variant", variant}, {"crops", crops}, {"wall_s", wall}, {"cpu_s", cpu},
                  {"crops_per_s_per_core", double(crops) / cpu}, {"crops_per_s_wall", double(crops) / wall},
                  {"device", device}, {"commit", SPK_GIT_SHA}});
  std::fflush(stdout);
}

// Runs loader epochs until `seconds` of wall time have passed; returns crops produced.
void bench_loader(const TrainList& list, std::shared_ptr<const Augmenter> aug, int workers, double seconds,
                  nlohmann::json& rows) {
  LoaderConfig cfg;
  cfg.sampler.batch_size = 50;
  cfg.max_frames = 200;
  cfg.num_workers = workers;
  cfg.augment = std::move(aug);
  TrainLoader loader(list, cfg);
  {   // warm-up: page cache, per-thread FFT plans
    loader.start_epoch(0);
    Batch b;
    for (int i = 0; i < 2 && loader.next(b); ++i) {}
  }
  int64_t crops = 0;
  const double w0 = wall_seconds(), c0 = cpu_seconds();
  for (int64_t epoch = 1; wall_seconds() - w0 < seconds; ++epoch) {
    loader.start_epoch(epoch);
    Batch b;
    while (loader.next(b)) {
      crops += b.n * b.m;
      if (wall_seconds() - w0 >= seconds) break;
    }
  }
  loader.stop();
  const double wall = wall_seconds() - w0, cpu = cpu_seconds() - c0;
  report("loader(2.015s crops, wav16)", std::string(cfg.augment ? "aug=vt" : "aug=off") + " workers=" + std::to_string(workers),
         crops, wall, cpu, rows);
}

// The bare decode + crop path on the calling thread (no loader machinery).
void bench_crop_only(const TrainList& list, double seconds, nlohmann::json& rows) {
  std::vector<float> out(static_cast<size_t>(max_audio_samples(200)));
  int64_t crops = 0;
  const double w0 = wall_seconds(), c0 = cpu_seconds();
  while (wall_seconds() - w0 < seconds) {
    for (int64_t i = 0; i < 200; ++i, ++crops) {
      spk::Rng rng = spk::Rng(3).fork(uint64_t(crops));
      train_crop_from_file(list.paths[size_t(crops % list.size())], 200, 16000, rng, out.data());
    }
  }
  report("train_crop_from_file(2.015s, wav16)", "1 thread", crops, wall_seconds() - w0, cpu_seconds() - c0, rows);
}

void bench_sampler(nlohmann::json& rows) {
  // VoxCeleb2-dev scale: 1 092 009 utterances over 5 994 speakers.
  std::vector<int64_t> labels;
  spk::Rng r(9);
  for (int64_t s = 0; s < 5994; ++s) {
    const int64_t n = 20 + r.randint(0, 325);   // mean ~182 utterances per speaker
    for (int64_t i = 0; i < n; ++i) labels.push_back(s);
  }
  SamplerConfig cfg;
  cfg.batch_size = 200;
  const double w0 = wall_seconds();
  const EpochPlan p = plan_epoch(labels, cfg, 1);
  const double wall = wall_seconds() - w0;
  std::printf("sampler(utts=%zu, spk=5994, bs=200, M=1) | %.1f ms/epoch plan | eligible %lld placed %lld unplaceable %lld\n",
              labels.size(), 1e3 * wall, (long long)p.eligible_groups, (long long)p.placed_groups,
              (long long)p.unplaceable_groups);
  rows.push_back({{"op", "sampler_plan"}, {"utterances", labels.size()}, {"wall_s", wall},
                  {"placed_groups", p.placed_groups}, {"device", cpu_model()}, {"commit", SPK_GIT_SHA}});
}

}  // namespace

// work_dir: where the synthetic corpus goes (created, then removed); seconds: wall time per configuration.
static void bench_loader_run(const std::string& work_dir, double seconds, nlohmann::json& rows) {
  const fs::path dir = fs::path(work_dir) / "spk_bench_loader";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const TrainList list = make_corpus(dir, 100, 4);   // 400 files, ~8 s each on average (~100 MB)
  auto aug = std::make_shared<const Augmenter>((dir / "musan").string(), (dir / "rirs").string());
  bench_crop_only(list, seconds, rows);
  bench_loader(list, nullptr, 1, seconds, rows);
  bench_loader(list, nullptr, 2, seconds, rows);
  bench_loader(list, aug, 1, seconds, rows);
  bench_loader(list, aug, 2, seconds, rows);
  bench_sampler(rows);
  fs::remove_all(dir);
}

SPK_BENCH_ENTRIES(loader_suite) {
  spk::bench::add_suite({"loader", [](double budget_s, nlohmann::json& rows) {
    bench_loader_run(fs::temp_directory_path().string(), std::max(1.0, 10 * budget_s), rows);
  }});
}
