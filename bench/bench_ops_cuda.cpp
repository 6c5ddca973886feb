// GPU pooling and normalisation kernels (kernels/pool, kernels/norm) on training-batch shapes of our nets,
// beside the device's copy bandwidth measured in the same run: each line gives the time per run, the GB/s of
// the op's compulsory traffic (each input read once, each output written once) and that rate as a fraction
// of a device-to-device copy's — the roofline for these memory-bound kernels. Shapes are sized past the
// H100's 50 MB L2 so the rates are HBM rates. Runs as the "ops_cuda" suite of spk_bench (bench.h); without
// a GPU it prints "ops_cuda: skipped: no GPU" and returns. The file follows the *_cuda.cpp naming rule of
// CMakeLists.txt, so it is compiled only in CUDA builds (a CPU-only spk_bench has no GPU rows to skip).
//
// Timing: host clock around bursts of 10 launches followed by a stream synchronise (launch overhead is part
// of the time, as in training); one warm-up burst first. The traffic the kernels really move is larger than
// the compulsory bytes where they read an input twice (batch-norm statistics are two-pass: x is read three
// times in training forward, x and dy twice in backward), so "fraction of copy" is the end-to-end figure.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/cuda.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "kernels/norm/norm.h"
#include "kernels/pool/pool.h"

namespace {

using Clock = std::chrono::steady_clock;
using spk::DType;
using spk::Tensor;

// Seconds per call of fn: bursts of 10 calls + synchronise, until budget_s has passed and >= 3 bursts ran.
double time_gpu(const std::function<void()>& fn, double budget_s) {
  constexpr int kBurst = 10;
  for (int i = 0; i < kBurst; ++i) fn();
  spk::cuda::synchronize();
  int runs = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  while (runs < 3 * kBurst || elapsed < budget_s) {
    for (int i = 0; i < kBurst; ++i) fn();
    spk::cuda::synchronize();
    runs += kBurst;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return elapsed / runs;
}

Tensor dev_uniform(int64_t n, uint64_t seed) {
  spk::Rng rng(seed);
  return Tensor::uniform({n}, rng, -1, 1, DType::f32, spk::Device::cuda());
}
Tensor dev_empty(int64_t n, DType dt = DType::f32) { return Tensor::empty({n}, dt, spk::Device::cuda()); }

struct Row {
  std::string op, variant, note;
  double bytes;                  // compulsory traffic per run
  std::function<void()> run;     // launches on the current stream; keeps its buffers alive
};

std::string s(int64_t v) { return std::to_string(v); }

spk::PoolGeom pg(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                 int64_t ph, int64_t pw) {
  spk::PoolGeom g;
  g.N = N; g.C = C; g.H = H; g.W = W;
  g.KH = kh; g.KW = kw; g.stride_h = sh; g.stride_w = sw; g.pad_h = ph; g.pad_w = pw;
  return g;
}

void add_pool_rows(std::vector<Row>& rows) {
  void* st = spk::cuda::current_stream();
  struct P { const char* where; bool max; spk::PoolGeom g; };
  for (const P& c : {P{"VGGVox pool1 (N=128)", true, pg(128, 96, 40, 100, 1, 3, 1, 2, 0, 0)},
                     P{"VGGVox pool2 (N=128)", true, pg(128, 256, 19, 24, 3, 3, 2, 2, 0, 0)},
                     P{"TDNN (5,1) freq average (N=256)", false, pg(256, 128, 5, 200, 5, 1, 5, 1, 0, 0)}}) {
    const spk::PoolGeom g = c.g;
    const int64_t xn = g.N * g.C * g.H * g.W, yn = g.N * g.C * g.H_out() * g.W_out();
    Tensor x = dev_uniform(xn, 1), dy = dev_uniform(yn, 2), y = dev_empty(yn), dx = dev_empty(xn);
    Tensor idx = dev_empty(yn, DType::i64);
    const std::string op = std::string(c.max ? "max_pool2d" : "avg_pool2d") + "(N=" + s(g.N) + ",C=" + s(g.C) +
                           ",in=" + s(g.H) + "x" + s(g.W) + ",k=" + s(g.KH) + "x" + s(g.KW) + ",s=" + s(g.stride_h) +
                           "x" + s(g.stride_w) + ")";
    const double idx_b = c.max ? 8.0 * double(yn) : 0.0;
    if (c.max) {
      rows.push_back({op, "cuda fwd", c.where, 4.0 * double(xn + yn) + idx_b, [=] {
        spk::max_pool2d_forward_cuda(g, x.data<float>(), y.data<float>(), idx.data<int64_t>(), st);
      }});
      rows.push_back({op, "cuda bwd", c.where, 4.0 * double(yn + xn) + idx_b, [=] {
        spk::max_pool2d_backward_cuda(g, dy.data<float>(), idx.data<int64_t>(), dx.data<float>(), st);
      }});
    } else {
      rows.push_back({op, "cuda fwd", c.where, 4.0 * double(xn + yn),
                      [=] { spk::avg_pool2d_forward_cuda(g, x.data<float>(), y.data<float>(), st); }});
      rows.push_back({op, "cuda bwd", c.where, 4.0 * double(yn + xn),
                      [=] { spk::avg_pool2d_backward_cuda(g, dy.data<float>(), dx.data<float>(), st); }});
    }
  }
  // SE squeeze: a global mean per (n, c) plane.
  const int64_t N = 128, C = 64, H = 20, W = 202, xn = N * C * H * W, yn = N * C;
  Tensor x = dev_uniform(xn, 3), dy = dev_uniform(yn, 4), y = dev_empty(yn), dx = dev_empty(xn);
  const std::string op = "adaptive_avg_pool2d(N=128,C=64,in=20x202,out=1x1)";
  rows.push_back({op, "cuda fwd", "SE squeeze", 4.0 * double(xn + yn), [=] {
    spk::adaptive_avg_pool2d_forward_cuda(x.data<float>(), y.data<float>(), N, C, H, W, 1, 1, st);
  }});
  rows.push_back({op, "cuda bwd", "SE squeeze", 4.0 * double(yn + xn), [=] {
    spk::adaptive_avg_pool2d_backward_cuda(dy.data<float>(), dx.data<float>(), N, C, H, W, 1, 1, st);
  }});
}

void add_norm_rows(std::vector<Row>& rows) {
  void* st = spk::cuda::current_stream();
  struct B { const char* where; int64_t N, C, S; std::string shape; };
  for (const B& c : {B{"ResNet stage 2 BN2d (N=128)", 128, 32, 20 * 202, "(128,32,20,202)"},
                     B{"ECAPA BN1d (N=128)", 128, 512, 200, "(128,512,200)"}}) {
    const int64_t N = c.N, C = c.C, S = c.S, n = N * C * S;
    Tensor x = dev_uniform(n, 5), dy = dev_uniform(n, 6), y = dev_empty(n), dx = dev_empty(n);
    Tensor w = dev_uniform(C, 7), b = dev_uniform(C, 8), mean = dev_empty(C), var = dev_empty(C), inv = dev_empty(C);
    Tensor dw = dev_empty(C), db = dev_empty(C), ws = dev_empty(spk::batch_norm_cuda_workspace(N, C, S), DType::f64);
    for (bool relu : {false, true}) {
      const std::string op = std::string(relu ? "batch_norm_relu" : "batch_norm") + c.shape;
      // Training forward: statistics (two passes over x) + the normalising pass.
      rows.push_back({op, "cuda train fwd", c.where, 8.0 * double(n), [=] {
        spk::batch_norm_stats_cuda(x.data<float>(), mean.data<float>(), var.data<float>(), inv.data<float>(), N, C, S,
                                   1e-5, ws.data<double>(), st);
        auto f = relu ? spk::batch_norm_relu_forward_cuda : spk::batch_norm_forward_cuda;
        f(x.data<float>(), mean.data<float>(), inv.data<float>(), w.data<float>(), b.data<float>(), y.data<float>(), N,
          C, S, st);
      }});
      rows.push_back({op, "cuda train bwd", c.where, 12.0 * double(n) + (relu ? 4.0 * double(n) : 0.0), [=] {
        if (relu)
          spk::batch_norm_relu_backward_cuda(x.data<float>(), y.data<float>(), mean.data<float>(), inv.data<float>(),
                                             w.data<float>(), dy.data<float>(), dx.data<float>(), dw.data<float>(),
                                             db.data<float>(), N, C, S, true, ws.data<double>(), st);
        else
          spk::batch_norm_backward_cuda(x.data<float>(), mean.data<float>(), inv.data<float>(), w.data<float>(),
                                        dy.data<float>(), dx.data<float>(), dw.data<float>(), db.data<float>(), N, C,
                                        S, true, ws.data<double>(), st);
      }});
    }
  }
  const int64_t N = 128, C = 80, T = 200, n = N * C * T;
  Tensor x = dev_uniform(n, 9), dy = dev_uniform(n, 10), y = dev_empty(n), dx = dev_empty(n);
  Tensor mean = dev_empty(N * C), inv = dev_empty(N * C);
  Tensor ws = dev_empty(spk::instance_norm_cuda_workspace(N, C), DType::f64);
  const std::string op = "instance_norm1d(128,80,200)";
  rows.push_back({op, "cuda fwd", "fbank instance norm", 8.0 * double(n), [=] {
    spk::instance_norm_forward_cuda(x.data<float>(), nullptr, nullptr, y.data<float>(), mean.data<float>(),
                                    inv.data<float>(), N, C, T, 1e-5, st);
  }});
  rows.push_back({op, "cuda bwd", "fbank instance norm", 12.0 * double(n), [=] {
    spk::instance_norm_backward_cuda(x.data<float>(), mean.data<float>(), inv.data<float>(), nullptr, dy.data<float>(),
                                     dx.data<float>(), nullptr, nullptr, N, C, T, ws.data<double>(), st);
  }});
}

void bench_ops_cuda_run(double budget_s, nlohmann::json& out) {
  if (!spk::cuda::available()) {
    std::printf("ops_cuda: skipped: no GPU\n");
    return;
  }
  const std::string dname = spk::cuda::device_name(spk::cuda::current_device()), sha = SPK_GIT_SHA;
  // The roofline: a 512 MB device-to-device copy reads and writes every byte.
  const size_t copy_bytes = size_t(512) << 20;
  Tensor src = dev_empty(int64_t(copy_bytes / 4)), dst = dev_empty(int64_t(copy_bytes / 4));
  const double t_copy = time_gpu([&] { spk::cuda::copy_d2d(dst.data_ptr(), src.data_ptr(), copy_bytes); }, budget_s);
  const double copy_gbs = 2.0 * double(copy_bytes) / t_copy / 1e9;
  std::printf("ops_cuda: device-to-device copy %.1f GB/s (read + write) | %s\n", copy_gbs, dname.c_str());

  std::vector<Row> rows;
  add_pool_rows(rows);
  add_norm_rows(rows);
  for (const Row& r : rows) {
    const double t = time_gpu(r.run, budget_s);
    const double gbs = r.bytes / t / 1e9;
    std::printf("%s %s | %10.1f us | %7.1f GB/s | %.2fx copy | %s | %s | %s\n", r.op.c_str(), r.variant.c_str(),
                t * 1e6, gbs, gbs / copy_gbs, dname.c_str(), sha.c_str(), r.note.c_str());
    out.push_back({{"op", r.op}, {"variant", r.variant}, {"device", dname}, {"time_us", t * 1e6}, {"gbs", gbs},
                   {"copy_gbs", copy_gbs}, {"fraction_of_copy", gbs / copy_gbs}, {"note", r.note}, {"commit", sha}});
  }
}

}  // namespace

SPK_BENCH_ENTRIES(ops_cuda_suite) {
  spk::bench::add_suite(
      {"ops_cuda", [](double budget_s, nlohmann::json& rows) { bench_ops_cuda_run(budget_s, rows); }});
}
