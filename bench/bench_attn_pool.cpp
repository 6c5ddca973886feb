// The fused attentive pooling (kernels/attnpool) on the shapes of issue 18's training steps (bench_step.cpp):
//   sap_pool              ResNetSE34L's SAP/ASP: 40 crops of 202 frames -> (40, 51, 128) after layer4's mean
//   attentive_stats_pool  ECAPA-TDNN C=512: (40, 1536, 202) per-channel logits and features
// `cpu fwd` / `cpu fwd+bwd` time the kernels alone (as every entry of spk_bench); `engine fused fwd+bwd` and
// `engine composed fwd+bwd` time the op through autograd against the table ops the nets composed before
// (tanh, matmul, softmax, mul, sum, sub, clamp, sqrt, concat), allocation and tape included, in the same run.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "kernels/attnpool/attnpool.h"

namespace {

using spk::Shape;
using spk::Tensor;

constexpr int64_t kB = 40, kSapL = 51, kSapD = 128, kEcapaC = 1536, kEcapaL = 202;
const double kInf = std::numeric_limits<double>::infinity();

std::vector<float> zeros(int64_t n) { return std::vector<float>(size_t(n)); }

struct SapBuffers {
  std::vector<float> h = spk::bench::random_floats(size_t(kB * kSapL * kSapD), 1),
                     a = spk::bench::random_floats(size_t(kSapD), 2),
                     x = spk::bench::random_floats(size_t(kB * kSapL * kSapD), 3),
                     dy = spk::bench::random_floats(size_t(kB * 2 * kSapD), 4), y = zeros(kB * 2 * kSapD),
                     th = zeros(kB * kSapL * kSapD), w = zeros(kB * kSapL), v = zeros(kB * kSapD),
                     dh = zeros(kB * kSapL * kSapD), da = zeros(kSapD), dx = zeros(kB * kSapL * kSapD),
                     ds = zeros(kB * kSapL);
  void run(bool backward) {
    const spk::StatClamp c{1e-5, kInf};
    const int threads = spk::cpu_threads();
    spk::sap_pool_forward_cpu<float>(h.data(), a.data(), x.data(), y.data(), th.data(), w.data(), v.data(), kB,
                                     kSapL, kSapD, kSapD, true, c, threads);
    if (backward)
      spk::sap_pool_backward_cpu<float>(th.data(), a.data(), x.data(), w.data(), y.data(), v.data(), dy.data(),
                                        dh.data(), da.data(), dx.data(), ds.data(), kB, kSapL, kSapD, kSapD, true, c,
                                        threads);
  }
};

struct StatsBuffers {
  std::vector<float> l = spk::bench::random_floats(size_t(kB * kEcapaC * kEcapaL), 1),
                     x = spk::bench::random_floats(size_t(kB * kEcapaC * kEcapaL), 2),
                     dy = spk::bench::random_floats(size_t(kB * 2 * kEcapaC), 3), y = zeros(kB * 2 * kEcapaC),
                     w = zeros(kB * kEcapaC * kEcapaL), v = zeros(kB * kEcapaC), dl = zeros(kB * kEcapaC * kEcapaL),
                     dx = zeros(kB * kEcapaC * kEcapaL);
  void run(bool backward) {
    const spk::StatClamp c{1e-4, kInf};
    const int threads = spk::cpu_threads();
    spk::attentive_stats_forward_cpu<float>(l.data(), x.data(), y.data(), w.data(), v.data(), kB, kEcapaC, kEcapaC,
                                            kEcapaL, true, c, threads);
    if (backward)
      spk::attentive_stats_backward_cpu<float>(x.data(), w.data(), y.data(), v.data(), dy.data(), dl.data(),
                                               dx.data(), kB, kEcapaC, kEcapaC, kEcapaL, true, c, threads);
  }
};

Tensor leaf(const Shape& s, spk::Rng& rng) {
  Tensor t = Tensor::uniform(s, rng, -1, 1);
  t.set_requires_grad(true);
  return t;
}

// The statistics as nets/blocks.cpp composed them before the fused ops (w sums to 1 over dim t).
Tensor composed_stats(const Tensor& x, const Tensor& w, int64_t t, double lo) {
  Tensor mu = spk::sum(x * w, {t});
  return spk::concat({mu, spk::sqrt(spk::clamp(spk::sum(x * x * w, {t}) - mu * mu, lo, kInf))}, 1);
}

// One engine forward + backward of the fused op or its composition on fresh leaves of the given shapes.
std::function<void()> engine_run(bool sap, bool fused) {
  auto in = std::make_shared<std::vector<Tensor>>();
  spk::Rng rng(9);
  if (sap)
    *in = {leaf({kB, kSapL, kSapD}, rng), leaf({kSapD, 1}, rng), leaf({kB, kSapL, kSapD}, rng)};
  else
    *in = {leaf({kB, kEcapaC, kEcapaL}, rng), leaf({kB, kEcapaC, kEcapaL}, rng)};
  return [in, sap, fused] {
    const auto& v = *in;
    Tensor y;
    if (sap)
      y = fused ? spk::sap_pool(v[0], v[1], v[2], true)
                : composed_stats(v[2], spk::softmax(spk::matmul(spk::tanh(v[0]), v[1]), 1), 1, 1e-5);
    else
      y = fused ? spk::attentive_stats_pool(v[0], v[1], true, 1e-4) : composed_stats(v[1], spk::softmax(v[0], 2), 2, 1e-4);
    spk::sum(y, {0, 1}).backward();
    for (const Tensor& t : v) t.zero_grad();
  };
}

}  // namespace

SPK_BENCH_ENTRIES(attn_pool_entries) {
  for (bool sap : {true, false}) {
    const std::string op = sap ? "sap_pool(B=40,L=51,H=D=128,ASP)" : "attentive_stats_pool(B=40,C=1536,L=202)";
    const std::string note = sap ? "ResNetSE34L ASP, 2-s crops" : "ECAPA-TDNN C=512, 2-s crops";
    const double elems = sap ? double(kB * kSapL * kSapD) : double(kB * kEcapaC * kEcapaL);
    for (bool backward : {false, true}) {
      spk::bench::Entry e;
      e.op = op;
      e.variant = backward ? "cpu fwd+bwd" : "cpu fwd";
      e.bytes = 4.0 * elems * (backward ? 6 : 3);   // fwd: read 2 inputs, write w/th; bwd: read 3, write 2 (approx.)
      e.note = note;
      e.setup = [sap, backward] {
        if (sap) {
          auto b = std::make_shared<SapBuffers>();
          return std::function<void()>([b, backward] { b->run(backward); });
        }
        auto b = std::make_shared<StatsBuffers>();
        return std::function<void()>([b, backward] { b->run(backward); });
      };
      spk::bench::add(std::move(e));
    }
    for (bool fused : {true, false}) {
      spk::bench::Entry e;
      e.op = op;
      e.variant = fused ? "engine fused fwd+bwd" : "engine composed fwd+bwd";
      e.note = note + (fused ? "" : ": the composition the nets used before");
      e.setup = [sap, fused] { return engine_run(sap, fused); };
      spk::bench::add(std::move(e));
    }
  }
}
