// fbank throughput in hours of audio per second, beside a memory-bandwidth floor measured in the same run: a copy
// of the same bytes the op must move at least once (the f32 waveforms in + the f32 features out), so
// "floor h/s" is what a perfectly memory-bound front end would reach on this machine. For scale, on an H100: a
// fused front end moves 32,240·4 B in + 202·80·2 B out ≈ 161 KB per 2-s crop (bf16 out; we write f32), so the
// 3.35 TB/s of an H100 SXM (NVIDIA's H100 datasheet) bounds it at ≈ 20.8 M crops/s ≈ 11,600 h of audio per second.
// The same suite times the MFCC op (engine/audio/mfcc.h: fbank, then a DCT matmul and, for Kaldi's use_energy,
// the frame energies from table ops) beside the fbank of its own mel config, so the rows show what the cepstra add.
// CPU rows also time the reference kernel (FbankCpuPath::reference, double inside) beside the fast path the op runs.
// Runs as the "fbank" suite of spk_bench (bench.h), on its --clock.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/audio/fbank.h"
#include "engine/audio/mfcc.h"
#include "engine/cpu_threads.h"
#include "engine/cuda.h"
#include "engine/rng.h"

namespace {

// Repeats fn (after one warm-up call) until budget_s has passed and at least 3 runs were timed; seconds per run,
// on spk_bench's --clock.
template <class Fn>
double time_runs(Fn&& fn, double budget_s, bool cuda) {
  fn();
  if (cuda) spk::cuda::synchronize();
  int runs = 0;
  const double t0 = spk::bench::now_s();
  double elapsed = 0;
  while (runs < 3 || elapsed < budget_s) {
    fn();
    ++runs;
    if (cuda) spk::cuda::synchronize();
    elapsed = spk::bench::now_s() - t0;
  }
  return elapsed / runs;
}

struct Case {
  const char* preset;
  int64_t B, L;
};

}  // namespace

static void bench_fbank_run(double budget_s, nlohmann::json& rows) {
  const std::vector<Case> cases = {
      {"resnetse34l", 0, 32240},   // voxceleb_trainer 200-frame training crops (202 frames)
      {"ecapa", 0, 32240},         // 80 mels, pre-emphasis, mean subtraction
      {"wespeaker", 0, 32240},     // Kaldi mode, 200 frames
      {"resnetse34l", 0, 64240},   // 400-frame evaluation crops
  };
  const std::string sha = SPK_GIT_SHA;
  for (int dev = 0; dev < 2; ++dev) {
    const bool cuda = dev == 1;
    if (cuda && !spk::cuda::available()) {
      std::printf("fbank: no CUDA device, GPU rows skipped\n");
      break;
    }
    const spk::Device device = cuda ? spk::Device::cuda() : spk::Device::cpu();
    const std::string dname = cuda ? std::string(spk::cuda::device_name(spk::cuda::current_device()))
                                   : "cpu x" + std::to_string(spk::cpu_threads());
    for (Case c : cases) {
      c.B = cuda ? 1024 : 16;   // the CPU reference is a spec, not a production path: keep its runs short
      const spk::FbankConfig cfg = spk::fbank_preset(c.preset);
      spk::Rng rng(1);
      const spk::Tensor wav = spk::Tensor::uniform({c.B, c.L}, rng, -0.5, 0.5, spk::DType::f32, device);
      const int64_t T = spk::fbank_frames(cfg, c.L);
      const double s_op = time_runs([&] { (void)spk::fbank(wav, cfg); }, budget_s, cuda);

      // Floor: move the same bytes once (in + out), on the same device.
      const size_t in_bytes = size_t(c.B * c.L) * 4, out_bytes = size_t(c.B * cfg.n_mels * T) * 4;
      const spk::Tensor src = spk::Tensor::empty({int64_t((in_bytes + out_bytes) / 4)}, spk::DType::f32, device);
      spk::Tensor dst = spk::Tensor::empty(src.shape(), spk::DType::f32, device);
      const double s_copy = time_runs(
          [&] {
            if (cuda)
              spk::cuda::copy_d2d(dst.data_ptr(), src.data_ptr(), in_bytes + out_bytes);
            else
              std::memcpy(dst.data_ptr(), src.data_ptr(), in_bytes + out_bytes);
          },
          budget_s / 4, cuda);

      const double audio_h = double(c.B * c.L) / cfg.sample_rate / 3600.0;
      // The CPU reference kernel (double inside) beside the fast path the op runs, for the speed-up.
      const double s_ref = cuda ? 0 : time_runs([&] { (void)spk::fbank(wav, cfg, spk::FbankCpuPath::reference); },
                                                budget_s / 3, false);
      // A copy reads and writes each byte: the op must at least read `in` and write `out`, i.e. move half the
      // bytes a copy of (in + out) moves, so the floor time is half the copy time.
      const double s_floor = s_copy / 2;
      const double gbs = 2.0 * double(in_bytes + out_bytes) / s_copy / 1e9;
      std::printf("fbank(%s,B=%lld,L=%lld,T=%lld,mels=%d) %s | %.1f us/run | %.4g h/s | floor %.4g h/s (copy %.1f GB/s) "
                  "| %.3g%% of floor | %s%s\n",
                  c.preset, (long long)c.B, (long long)c.L, (long long)T, cfg.n_mels, cuda ? "cuda" : "cpu",
                  s_op * 1e6, audio_h / s_op, audio_h / s_floor, gbs, 100.0 * s_floor / s_op, dname.c_str(),
                  cuda ? "" : (" | reference kernel " + std::to_string(audio_h / s_ref).substr(0, 6) + " h/s").c_str());
      rows.push_back({{"op", "fbank"}, {"preset", c.preset}, {"B", c.B}, {"L", c.L}, {"device", dname},
                      {"time_us", s_op * 1e6}, {"hours_per_s", audio_h / s_op}, {"floor_hours_per_s", audio_h / s_floor},
                      {"copy_gbs", gbs}, {"commit", sha}});
      if (!cuda) rows.back()["reference_hours_per_s"] = audio_h / s_ref;
    }
  }
}

// mfcc on 200-frame crops: Kaldi's x-vector MFCC (energy from mirrored frames) and torchaudio's dB MFCC on the ecapa
// mel config; time of the op and of fbank alone on the same mel config.
static void bench_mfcc_run(double budget_s, nlohmann::json& rows) {
  const std::string sha = SPK_GIT_SHA;
  for (int dev = 0; dev < 2; ++dev) {
    const bool cuda = dev == 1;
    if (cuda && !spk::cuda::available()) break;
    const spk::Device device = cuda ? spk::Device::cuda() : spk::Device::cpu();
    const std::string dname = cuda ? std::string(spk::cuda::device_name(spk::cuda::current_device()))
                                   : "cpu x" + std::to_string(spk::cpu_threads());
    const int64_t B = cuda ? 1024 : 16, L = 32240;
    const std::pair<const char*, spk::MfccConfig> cases[] = {
        {"kaldi_voxceleb", spk::mfcc_preset("kaldi_voxceleb")},
        {"torchaudio_db_ecapa40", spk::mfcc_torchaudio_config(40, false, spk::fbank_preset("ecapa"))}};
    for (const auto& [name, cfg] : cases) {
      spk::Rng rng(1);
      const spk::Tensor wav = spk::Tensor::uniform({B, L}, rng, -0.5, 0.5, spk::DType::f32, device);
      const double s_op = time_runs([&] { (void)spk::mfcc(wav, cfg); }, budget_s, cuda);
      const double s_fb = time_runs([&] { (void)spk::fbank(wav, cfg.fbank); }, budget_s, cuda);
      const double audio_h = double(B * L) / cfg.fbank.sample_rate / 3600.0;
      std::printf("mfcc(%s,B=%lld,L=%lld,ceps=%d) %s | %.1f us/run | %.4g h/s | fbank alone %.1f us (+%.3g%%) | %s\n",
                  name, (long long)B, (long long)L, cfg.n_ceps, cuda ? "cuda" : "cpu", s_op * 1e6, audio_h / s_op,
                  s_fb * 1e6, 100.0 * (s_op - s_fb) / s_fb, dname.c_str());
      rows.push_back({{"op", "mfcc"}, {"preset", name}, {"B", B}, {"L", L}, {"device", dname}, {"time_us", s_op * 1e6},
                      {"hours_per_s", audio_h / s_op}, {"fbank_time_us", s_fb * 1e6}, {"commit", sha}});
    }
  }
}

SPK_BENCH_ENTRIES(fbank_suite) {
  spk::bench::add_suite({"fbank", [](double budget_s, nlohmann::json& rows) {
                           bench_fbank_run(3 * budget_s, rows);
                           bench_mfcc_run(budget_s, rows);
                         }});
}
