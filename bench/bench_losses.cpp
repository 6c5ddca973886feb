// Fused vs composed training losses, forward + backward through autograd (the cost a training step pays):
//   aamsoftmax / amsoftmax   B 256, C 5994, D 512 (the VoxCeleb2 classifier)   margin_softmax_ce vs l2_normalize +
//                            linear + margin + cross_entropy as losses/ composed them before the fused op
//   angleproto               N 200, 300, 400 speakers × 2, D 512               similarity_ce vs cosine_matrix + affine
//                                                                              + cross_entropy
//   anglecontrast, infonce   N 200, D 512                                      similarity_ce (both directions)
// on the CPU and, when a GPU is present, on CUDA ("skipped: no GPU" otherwise). GFLOP/s counts the three GEMMs
// (forward dots, d_x, d_W: 3·2·B·C·D); "x composed" is the composed time over the fused time (>1: fused wins).
// Runs as the "losses" suite of spk_bench (bench.h): spk_bench --filter losses.
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
#include "engine/rng.h"
#include "losses/common.h"

namespace {

using spk::Tensor;
using Clock = std::chrono::steady_clock;
using LossFn = std::function<Tensor(const std::vector<Tensor>&)>;

// One warm-up run, then runs until budget_s has passed and at least 3 were taken; median seconds per run.
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
  std::string name;                // op(params)
  double flops;                    // the three GEMMs
  std::vector<Tensor> inputs;      // CPU; floating ones become leaves that require grad
  LossFn fused, composed;
};

Tensor labels_for(int64_t n, int64_t classes, spk::Rng& rng) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.randint(0, classes);
  return Tensor::from_vector(v, {n});
}

std::vector<Case> make_cases() {
  using namespace spk;
  Rng rng(1337);
  std::vector<Case> cases;
  const int64_t B = 256, C = 5994, D = 512;
  const double margin_flops = 3 * 2.0 * double(B) * double(C) * double(D);
  {
    Tensor x = Tensor::normal({B, D}, rng), w = Tensor::normal({C, D}, rng, 0, 0.05), lab = labels_for(B, C, rng);
    cases.push_back({"aamsoftmax(B=256,C=5994,D=512,m=0.2,s=30)", margin_flops, {x, w, lab},
                     [](const std::vector<Tensor>& in) {
                       return margin_softmax_ce(in[0], in[1], in[2], {MarginKind::angular, 0.2, 30, false, false}).loss;
                     },
                     [C](const std::vector<Tensor>& in) {
                       Tensor cs = linear(l2_normalize(in[0], 1, 1e-12), l2_normalize(in[1], 1, 1e-12));
                       Tensor onehot = loss_util::one_hot(in[2], C, cs.dtype());
                       return cross_entropy(loss_util::additive_angular_margin(
                                                cs, onehot, 0.2, 30, false, loss_util::ArcFallback::voxceleb_trainer),
                                            in[2]);
                     }});
    Tensor wt = Tensor::normal({D, C}, rng, 0, 0.05);
    cases.push_back({"amsoftmax(B=256,C=5994,D=512,W=(D,C),m=0.1,s=30)", margin_flops, {x, wt, lab},
                     [](const std::vector<Tensor>& in) {
                       return margin_softmax_ce(in[0], in[1], in[2], {MarginKind::additive, 0.1, 30, false, true}).loss;
                     },
                     [C](const std::vector<Tensor>& in) {
                       Tensor cs = matmul(l2_normalize(in[0], 1, 1e-12), l2_normalize(in[1], 0, 1e-12));
                       Tensor onehot = loss_util::one_hot(in[2], C, cs.dtype());
                       return cross_entropy(mul_scalar(sub(cs, mul_scalar(onehot, 0.1)), 30), in[2]);
                     }});
  }
  for (int64_t N : {200, 300, 400}) {
    const double flops = 3 * 2.0 * double(N) * double(N) * double(D);
    // angleproto on (N, 2, D): query x[:, 0], prototype mean(x[:, 1:]) = x[:, 1] for M = 2.
    Tensor q = Tensor::normal({N, D}, rng), p = Tensor::normal({N, D}, rng);
    Tensor w = Tensor::scalar(10.0), b = Tensor::scalar(-5.0);
    Tensor target = Tensor::arange(N);
    cases.push_back({"angleproto(N=" + std::to_string(N) + ",M=2,D=512)", flops, {q, p, w, b},
                     [](const std::vector<Tensor>& in) { return similarity_ce(in[0], in[1], in[2], in[3], {}).loss; },
                     [target](const std::vector<Tensor>& in) {
                       return cross_entropy(add(mul(cosine_matrix(in[0], in[1], 1e-8), in[2]), in[3]), target);
                     }});
    if (N != 200) continue;
    cases.push_back({"anglecontrast(N=200,D=512)", flops, {q, p, w, b},
                     [](const std::vector<Tensor>& in) {
                       return similarity_ce(in[0], in[1], in[2], in[3], {true}).loss;
                     },
                     [target](const std::vector<Tensor>& in) {
                       Tensor cs = cosine_matrix(in[0], in[1], 1e-8);
                       Tensor z1 = add(mul(cs, in[2]), in[3]), z2 = add(mul(transpose(cs, 0, 1), in[2]), in[3]);
                       return mul_scalar(add(cross_entropy(z1, target), cross_entropy(z2, target)), 0.5);
                     }});
    cases.push_back({"infonce(N=200,D=512)", flops, {q, p, Tensor::scalar(2.659260036932778)},
                     [](const std::vector<Tensor>& in) {
                       return similarity_ce(in[0], in[1], in[2], Tensor(), {true, CosineEps::per_row, 1e-12}).loss;
                     },
                     [target](const std::vector<Tensor>& in) {
                       Tensor pm = mul(matmul(l2_normalize(in[0], 1, 1e-12),
                                              transpose(l2_normalize(in[1], 1, 1e-12), 0, 1)), in[2]);
                       return mul_scalar(add(cross_entropy(pm, target), cross_entropy(transpose(pm, 0, 1), target)),
                                         0.5);
                     }});
  }
  return cases;
}

void bench_losses_run(double budget_s, nlohmann::json& rows) {
  const std::vector<Case> cases = make_cases();
  const std::string sha = SPK_GIT_SHA;
  for (int dev = 0; dev < 2; ++dev) {
    const bool cuda = dev == 1;
    if (cuda && !spk::cuda::available()) {
      for (const Case& c : cases) std::printf("%s cuda fused vs composed | skipped: no GPU\n", c.name.c_str());
      break;
    }
    const spk::Device device = cuda ? spk::Device::cuda() : spk::Device::cpu();
    const std::string dname = cuda ? std::string(spk::cuda::device_name(spk::cuda::current_device()))
                                   : "cpu x" + std::to_string(spk::cpu_threads());
    for (const Case& c : cases) {
      std::vector<Tensor> leaves;
      for (const Tensor& t : c.inputs) {
        Tensor d = t.to(device);
        if (spk::is_floating(d.dtype())) d = d.clone().set_requires_grad(true);
        leaves.push_back(d);
      }
      double secs[2];
      for (int k = 0; k < 2; ++k) {
        const LossFn& f = k == 0 ? c.fused : c.composed;
        secs[k] = median_run([&] { f(leaves).backward(); }, budget_s, cuda);
      }
      for (int k = 0; k < 2; ++k) {
        const char* variant = k == 0 ? "fused" : "composed";
        std::printf("%s %s %s fwd+bwd | %10.1f us | %7.1f GFLOP/s | %s | %s", c.name.c_str(), cuda ? "cuda" : "cpu",
                    variant, secs[k] * 1e6, c.flops / secs[k] * 1e-9, dname.c_str(), sha.c_str());
        if (k == 0) std::printf(" | %.2fx composed", secs[1] / secs[0]);
        std::printf("\n");
        rows.push_back({{"op", c.name}, {"variant", std::string(cuda ? "cuda " : "cpu ") + variant + " fwd+bwd"},
                        {"device", dname}, {"time_us", secs[k] * 1e6}, {"flops", c.flops},
                        {"gflops", c.flops / secs[k] * 1e-9}, {"commit", sha},
                        {"speedup_vs_composed", secs[1] / secs[0]}});
      }
      std::fflush(stdout);
    }
  }
}

}  // namespace

SPK_BENCH_ENTRIES(losses_suite) {
  spk::bench::add_suite({"losses", [](double budget_s, nlohmann::json& rows) { bench_losses_run(budget_s, rows); }});
}
