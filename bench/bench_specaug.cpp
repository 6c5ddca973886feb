// SpecAugment's masking kernel (kernels/specaug) in GB/s beside the memory roofline measured in the same run: a copy
// of the same bytes on the same device (memcpy on the CPU, a device-to-device copy on the GPU). The kernel reads
// every feature once and writes it once (8 B per f32 element), as a copy does, so "x copy" near 1 means it runs at
// the memory bound. For scale: ECAPA's training batch (TaoRuijie: 400 × 80 mels × 202 frames) is 51.7 MB in and out,
// about 16 us at an H100 SXM's 3.35 TB/s (NVIDIA's datasheet). Also timed: the host draw of one batch's masks
// (engine/audio/spec_augment.h) and the whole engine call (draw + mask upload + kernel + allocation).
// Runs as the "specaug" suite of spk_bench (bench.h): spk_bench --filter specaug.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/audio/spec_augment.h"
#include "engine/cuda.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "kernels/specaug/specaug.h"

namespace {

using Clock = std::chrono::steady_clock;

// Bursts of 10 calls (one warm-up burst first), synchronised after each on CUDA, until budget_s has passed and
// at least 30 calls were timed; seconds per call.
template <class Fn>
double time_runs(Fn&& fn, double budget_s, bool cuda) {
  constexpr int kBurst = 10;
  for (int i = 0; i < kBurst; ++i) fn();
  if (cuda) spk::cuda::synchronize();
  int runs = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  while (runs < 3 * kBurst || elapsed < budget_s) {
    for (int i = 0; i < kBurst; ++i) fn();
    if (cuda) spk::cuda::synchronize();
    runs += kBurst;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return elapsed / runs;
}

struct Case {
  const char* what;
  int64_t B, F, T;
};

void bench_specaug_run(double budget_s, nlohmann::json& rows) {
  const std::string sha = SPK_GIT_SHA;
  spk::SpecAugConfig cfg;   // TaoRuijie's FbankAug
  for (int dev = 0; dev < 2; ++dev) {
    const bool cuda = dev == 1;
    if (cuda && !spk::cuda::available()) {
      std::printf("specaug: no CUDA device, GPU rows skipped\n");
      break;
    }
#if !SPK_HAVE_CUDA
    if (cuda) break;
#endif
    const spk::Device device = cuda ? spk::Device::cuda() : spk::Device::cpu();
    const std::string dname = cuda ? std::string(spk::cuda::device_name(spk::cuda::current_device())) : "cpu x1";
    const std::vector<Case> cases = cuda ? std::vector<Case>{{"ecapa batch 400", 400, 80, 202},
                                                             {"ecapa batch 1024", 1024, 80, 202}}
                                         : std::vector<Case>{{"ecapa batch 32", 32, 80, 202},
                                                             {"resnetse34l batch 200", 200, 40, 202}};
    for (const Case& c : cases) {
      spk::Rng rng(1);
      const spk::Tensor x = spk::Tensor::uniform({c.B, c.F, c.T}, rng, -1, 1, spk::DType::f32, device);
      spk::Tensor y = spk::Tensor::empty(x.shape(), spk::DType::f32, device);
      const spk::SpecAugMasks m = spk::spec_aug_draw(cfg, c.B, c.F, c.T, rng);
      const spk::Tensor md = spk::Tensor::from_vector(std::vector<double>(m.intervals.begin(), m.intervals.end()),
                                                      {int64_t(m.intervals.size())}, spk::DType::i32, device);
      const size_t bytes = size_t(c.B * c.F * c.T) * 4;
      const double s_kernel = time_runs(
          [&] {
            if (!cuda) {
              spk::specaug_forward_cpu<float>(x.data<float>(), y.data<float>(), c.B, c.F, c.T, m.intervals.data(),
                                              m.n_time, m.n_freq);
              return;
            }
#if SPK_HAVE_CUDA
            spk::specaug_forward_cuda(x.data<float>(), y.data<float>(), c.B, c.F, c.T, md.data<int32_t>(), m.n_time,
                                      m.n_freq, spk::cuda::current_stream());
#endif
          },
          budget_s, cuda);
      const double s_copy = time_runs(
          [&] {
            if (cuda)
              spk::cuda::copy_d2d(y.data_ptr(), x.data_ptr(), bytes);
            else
              std::memcpy(y.data_ptr(), x.data_ptr(), bytes);
          },
          budget_s / 2, cuda);
      spk::Rng draw_rng(2);
      const double s_draw = time_runs([&] { (void)spk::spec_aug_draw(cfg, c.B, c.F, c.T, draw_rng); }, budget_s / 4,
                                      false);
      const double s_op = time_runs([&] { (void)spk::spec_augment(x, cfg, draw_rng); }, budget_s / 2, cuda);
      const double gbs = 2.0 * double(bytes) / s_kernel / 1e9, copy_gbs = 2.0 * double(bytes) / s_copy / 1e9;
      std::printf("specaug(%s: B=%lld,F=%lld,T=%lld,1+1 masks) %s | %10.1f us | %7.1f GB/s | %.2fx copy (%.1f GB/s) "
                  "| draw %.1f us, whole op %.1f us | %s | %s\n",
                  c.what, (long long)c.B, (long long)c.F, (long long)c.T, cuda ? "cuda" : "cpu", s_kernel * 1e6, gbs,
                  gbs / copy_gbs, copy_gbs, s_draw * 1e6, s_op * 1e6, dname.c_str(), sha.c_str());
      rows.push_back({{"op", "specaug"}, {"case", c.what}, {"B", c.B}, {"F", c.F}, {"T", c.T}, {"device", dname},
                      {"time_us", s_kernel * 1e6}, {"gbs", gbs}, {"copy_gbs", copy_gbs},
                      {"fraction_of_copy", gbs / copy_gbs}, {"draw_us", s_draw * 1e6}, {"op_us", s_op * 1e6},
                      {"commit", sha}});
    }
  }
}

}  // namespace

SPK_BENCH_ENTRIES(specaug_suite) {
  spk::bench::add_suite({"specaug", [](double budget_s, nlohmann::json& rows) { bench_specaug_run(budget_s, rows); }});
}
