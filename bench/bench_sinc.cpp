// The SincNet ops against a plain conv1d of the same size: sinc_conv1d (filters from 80 or 128 cut-off pairs,
// convolved with a (B, 1, L) waveform) vs conv1d with a (F, 1, K) weight tensor, forward and forward+backward,
// through the engine ops (so the filter construction, the conv and, backward, the filters' gradient all count).
// The ratio sinc / conv1d is the cost of learning the cut-offs instead of the taps; the target is within 2x on
// the CPU. Shapes: pyannote's SincNet first layer (80 filters, K 251, stride 1, 1 s at 16 kHz; batch 4) and
// RawNet3's ParamSincFB (256 filters from 128 pairs, K 251, stride 10, 1 s; batch 8). Suite "sinc".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/cuda.h"
#include "engine/ops.h"

namespace {

using spk::Tensor;
using Clock = std::chrono::steady_clock;

double median_run(const std::function<void()>& fn, double budget_s, bool cuda) {
  fn();
  if (cuda) spk::cuda::synchronize();
  std::vector<double> ts;
  const auto start = Clock::now();
  while (ts.size() < 3 || std::chrono::duration<double>(Clock::now() - start).count() < budget_s) {
    const auto a = Clock::now();
    fn();
    if (cuda) spk::cuda::synchronize();
    ts.push_back(std::chrono::duration<double>(Clock::now() - a).count());
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

struct Case {
  const char* name;
  spk::SincConvention conv;
  int64_t C, K, stride, B, L;
};

void bench_sinc_run(double budget_s, nlohmann::json& rows) {
  const std::string sha = SPK_GIT_SHA;
  const Case cases[] = {{"sincnet(F=80,K=251,s=1,B=4,L=16000)", spk::SincConvention::sincnet, 80, 251, 1, 4, 16000},
                        {"asteroid(F=256,K=251,s=10,B=8,L=16000)", spk::SincConvention::asteroid, 128, 251, 10, 8,
                         16000}};
  for (int dev = 0; dev < 2; ++dev) {
    const bool cuda = dev == 1;
    if (cuda && !spk::cuda::available()) {
      std::printf("sinc_conv1d cuda | skipped: no GPU\n");
      break;
    }
    const spk::Device device = cuda ? spk::Device::cuda() : spk::Device::cpu();
    const std::string dname = cuda ? std::string(spk::cuda::device_name(spk::cuda::current_device()))
                                   : "cpu x" + std::to_string(spk::cpu_threads());
    for (const Case& c : cases) {
      spk::SincOptions o;
      o.convention = c.conv;
      o.kernel_size = c.K;
      o.stride = c.stride;
      auto [low0, band0] = spk::sinc_init_cutoffs(c.C, o);
      Tensor low = low0.to(device).clone().set_requires_grad(true);
      Tensor band = band0.to(device).clone().set_requires_grad(true);
      const std::vector<float> xs = spk::bench::random_floats(size_t(c.B * c.L));
      Tensor x = Tensor::from_vector(xs, {c.B, 1, c.L}).to(device).clone().set_requires_grad(true);
      Tensor w = spk::sinc_filters(low0, band0, o).detach();
      const int64_t F = w.size(0);
      w = spk::reshape(w, {F, 1, c.K}).to(device).clone().set_requires_grad(true);
      const int64_t L_out = (c.L - c.K) / c.stride + 1;
      const double flops = 2.0 * double(c.B * F * L_out * c.K);
      for (int pass = 0; pass < 2; ++pass) {
        const bool bwd = pass == 1;
        auto sinc = [&] {
          Tensor y = spk::sinc_conv1d(x, low, band, o);
          if (bwd) spk::sum(y).backward();
        };
        auto plain = [&] {
          Tensor y = spk::conv1d(x, w, Tensor(), c.stride);
          if (bwd) spk::sum(y).backward();
        };
        const double ts = median_run(sinc, budget_s, cuda), tc = median_run(plain, budget_s, cuda);
        const char* pname = bwd ? "fwd+bwd" : "fwd";
        const double f = bwd ? 3 * flops : flops;
        std::printf("sinc_conv1d %s %s %s | %10.1f us | %7.1f GFLOP/s | conv1d %10.1f us | %.2fx conv1d | %s | %s\n",
                    c.name, cuda ? "cuda" : "cpu", pname, ts * 1e6, f / ts * 1e-9, tc * 1e6, ts / tc, dname.c_str(),
                    sha.c_str());
        rows.push_back({{"op", std::string("sinc_conv1d(") + c.name + ")"},
                        {"variant", std::string(cuda ? "cuda " : "cpu ") + pname},
                        {"device", dname}, {"time_us", ts * 1e6}, {"flops", f}, {"gflops", f / ts * 1e-9},
                        {"conv1d_time_us", tc * 1e6}, {"ratio_vs_conv1d", ts / tc}, {"commit", sha}});
        std::fflush(stdout);
      }
    }
  }
}

}  // namespace

SPK_BENCH_ENTRIES(sinc_suite) {
  spk::bench::add_suite({"sinc", [](double budget_s, nlohmann::json& rows) { bench_sinc_run(budget_s, rows); }});
}
