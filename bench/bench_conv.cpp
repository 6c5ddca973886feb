// CPU conv2d on every distinct conv shape of ResNetSE34L (voxceleb_trainer models/ResNetSE34L.py) for a training
// batch of 16 200-frame crops, input (16, 1, 40, 202), plus the whole conv stack of the network (each shape as many
// times as it occurs). Passes: "fwd", and "fwd+bwd" = forward then d_input and d_weight (no bias: the
// net's convs have none). FLOPs: 2·N·C_out·H_out·W_out·(C_in/g)·KH·KW forward, twice that for the two
// backward GEMMs. Variants: "cpu" is spk's im2col + GEMM with its default threading (images x chunks on its
// work pool, OpenBLAS on one thread); "cpu blas-threads" lets OpenBLAS thread each GEMM instead; "cpu dnnl" is
// the oneDNN backend for every pass (builds with oneDNN only), plain NCHW in and out, reorders included;
// "cpu auto" is what training runs by default: oneDNN except where spk's kernels win (conv_cpu.cpp, use_dnnl). Every line prints
// its rate as a fraction of the best CPU sgemm rate measured in the same run.
#include <memory>
#include <string>

#include "bench.h"
#include "engine/conv_context.h"
#include "kernels/conv/conv.h"

namespace {

struct NetConv {
  const char* where;
  int64_t C_in, H, W, C_out, K, stride, pad;
  int count;   // occurrences in ResNetSE34L
};

constexpr int64_t kBatch = 16;
// Input sizes per stage for (16, 1, 40, 202): stem -> (20, 202), layer2 -> (10, 101), layer3/4 -> (5, 51).
constexpr NetConv kResNetSE34L[] = {
    {"stem", 1, 40, 202, 16, 7, 0, 3, 1},   // stride (2, 1): see geom()
    {"layer1", 16, 20, 202, 16, 3, 1, 1, 6},
    {"layer2.0", 16, 20, 202, 32, 3, 2, 1, 1},
    {"layer2", 32, 10, 101, 32, 3, 1, 1, 7},
    {"layer2.down", 16, 20, 202, 32, 1, 2, 0, 1},
    {"layer3.0", 32, 10, 101, 64, 3, 2, 1, 1},
    {"layer3", 64, 5, 51, 64, 3, 1, 1, 11},
    {"layer3.down", 32, 10, 101, 64, 1, 2, 0, 1},
    {"layer4.0", 64, 5, 51, 128, 3, 1, 1, 1},
    {"layer4", 128, 5, 51, 128, 3, 1, 1, 5},
    {"layer4.down", 64, 5, 51, 128, 1, 1, 0, 1},
};

// ECAPA-TDNN C=512 (speechbrain / wespeaker ECAPA_TDNN_c512) as conv1d over (16, C, 200): each distinct shape
// with its count. Res2Net scale 8: the 3-tap convs run on 64-channel splits, 7 per block, dilations 2, 3, 4.
struct EcapaConv {
  const char* where;
  int64_t C_in, C_out, K, dil;
  int count;
};
constexpr EcapaConv kEcapa512[] = {
    {"layer1 k5", 80, 512, 5, 1, 1},
    {"block 1x1", 512, 512, 1, 1, 6},
    {"res2 k3 d2", 64, 64, 3, 2, 7},
    {"res2 k3 d3", 64, 64, 3, 3, 7},
    {"res2 k3 d4", 64, 64, 3, 4, 7},
    {"mfa 1x1", 1536, 1536, 1, 1, 1},
    {"asp 1x1", 4608, 128, 1, 1, 1},
    {"asp 1x1 out", 128, 1536, 1, 1, 1},
};
constexpr int64_t kEcapaFrames = 200;

spk::ConvGeom geom1d(const EcapaConv& c) {
  return spk::conv1d_geom(kBatch, c.C_in, kEcapaFrames, c.C_out, c.K, 1, c.dil * (c.K - 1) / 2, c.dil, 1);
}

spk::ConvGeom geom(const NetConv& c) {
  spk::ConvGeom g;
  g.N = kBatch; g.C_in = c.C_in; g.H = c.H; g.W = c.W; g.C_out = c.C_out; g.KH = g.KW = c.K;
  g.stride_h = c.stride == 0 ? 2 : c.stride;   // 0 marks the stem's (2, 1)
  g.stride_w = c.stride == 0 ? 1 : c.stride;
  g.pad_h = g.pad_w = c.pad;
  return g;
}

std::string describe(const spk::ConvGeom& g) {
  auto s = [](int64_t v) { return std::to_string(v); };
  return "conv2d(N=" + s(g.N) + ",C=" + s(g.C_in) + "->" + s(g.C_out) + ",in=" + s(g.H) + "x" + s(g.W) + ",k=" +
         s(g.KH) + "x" + s(g.KW) + ",s=" + s(g.stride_h) + "x" + s(g.stride_w) + ",p=" + s(g.pad_h) + ",out=" +
         s(g.H_out()) + "x" + s(g.W_out()) + ")";
}

// Buffers of one conv, allocated when its entry is selected.
struct ConvBuffers {
  spk::ConvGeom g;
  std::vector<float> x, w, y, dy, dx, dw;
  explicit ConvBuffers(const spk::ConvGeom& geom) : g(geom) {
    const size_t xn = size_t(g.N * g.C_in * g.H * g.W), wn = size_t(g.C_out * g.K_g()),
                 yn = size_t(g.N * g.C_out * g.H_out() * g.W_out());
    x = spk::bench::random_floats(xn, 1);
    w = spk::bench::random_floats(wn, 2);
    dy = spk::bench::random_floats(yn, 3);
    y.resize(yn); dx.resize(xn); dw.resize(wn);
  }
  void run(bool backward) {
    const spk::ConvCpuOptions opt = spk::conv_cpu_call_options();
    spk::conv2d_forward_cpu<float>(g, x.data(), w.data(), nullptr, y.data(), opt);
    if (backward) spk::conv2d_backward_cpu<float>(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr, opt);
  }
};

// Compulsory traffic: the forward reads x, w and writes y; the backward reads x, w, dy and writes dx, dw.
double conv_bytes(const spk::ConvGeom& g, bool backward) {
  const double xn = double(g.N * g.C_in * g.H * g.W), wn = double(g.C_out * g.K_g()),
               yn = double(g.N * g.C_out * g.H_out() * g.W_out());
  return 4.0 * (xn + wn + yn + (backward ? 2 * xn + 2 * wn + yn : 0));
}

// Runs fn with the kernel's threading switched to `t` and the backend to `b`, restoring the settings after.
template <class F>
void with_threading(spk::ConvThreading t, spk::ConvCpuBackend b, F&& fn) {
  auto& opt = spk::conv_cpu_options();
  const auto saved = opt;
  opt.threading = t;
  opt.backend = b;
  fn();
  opt = saved;
}

}  // namespace

SPK_BENCH_ENTRIES(conv_entries) {
  struct Variant { const char* name; spk::ConvThreading threading; spk::ConvCpuBackend backend; };
  std::vector<Variant> variants = {{"cpu", spk::ConvThreading::units, spk::ConvCpuBackend::spk},
                                   {"cpu blas-threads", spk::ConvThreading::blas, spk::ConvCpuBackend::spk}};
  if (spk::conv_dnnl_built()) {
    variants.push_back({"cpu dnnl", spk::ConvThreading::units, spk::ConvCpuBackend::dnnl});
    variants.push_back({"cpu auto", spk::ConvThreading::units, spk::ConvCpuBackend::automatic});
  }
  for (const Variant& v : variants)
    for (bool backward : {false, true}) {
      const std::string pass = backward ? " fwd+bwd" : " fwd";
      for (const NetConv& c : kResNetSE34L) {
        const spk::ConvGeom g = geom(c);
        spk::bench::Entry e;
        e.op = describe(g);
        e.variant = v.name + pass;
        e.flops = g.flops() * (backward ? 3 : 1);
        e.bytes = conv_bytes(g, backward);
        e.compare_to = "sgemm";
        e.note = std::string(c.where) + " x" + std::to_string(c.count);
        const spk::ConvThreading t = v.threading;
        const spk::ConvCpuBackend be = v.backend;
        e.setup = [g, backward, t, be] {
          auto b = std::make_shared<ConvBuffers>(g);
          return std::function<void()>([b, backward, t, be] { with_threading(t, be, [&] { b->run(backward); }); });
        };
        spk::bench::add(std::move(e));
      }
      // The whole conv stack: every shape as often as it occurs in the net.
      spk::bench::Entry e;
      e.op = "resnetse34l_convs(N=16,in=1x40x202,36 convs)";
      e.variant = v.name + pass;
      for (const NetConv& c : kResNetSE34L) {
        e.flops += c.count * geom(c).flops() * (backward ? 3 : 1);
        e.bytes += c.count * conv_bytes(geom(c), backward);
      }
      e.compare_to = "sgemm";
      e.note = "whole ResNetSE34L conv stack";
      const spk::ConvThreading t = v.threading;
      const spk::ConvCpuBackend be = v.backend;
      e.setup = [backward, t, be] {
        auto all = std::make_shared<std::vector<std::pair<std::shared_ptr<ConvBuffers>, int>>>();
        for (const NetConv& c : kResNetSE34L) all->push_back({std::make_shared<ConvBuffers>(geom(c)), c.count});
        return std::function<void()>([all, backward, t, be] {
          with_threading(t, be, [&] {
            for (auto& [b, count] : *all)
              for (int i = 0; i < count; ++i) b->run(backward);
          });
        });
      };
      spk::bench::add(std::move(e));
    }
  // ECAPA-TDNN C=512's conv1d shapes and its whole conv stack, per variant and pass.
  for (const Variant& v : variants)
    for (bool backward : {false, true}) {
      const std::string pass = backward ? " fwd+bwd" : " fwd";
      const spk::ConvThreading t = v.threading;
      const spk::ConvCpuBackend be = v.backend;
      for (const EcapaConv& c : kEcapa512) {
        const spk::ConvGeom g = geom1d(c);
        spk::bench::Entry e;
        e.op = "conv1d(N=16,C=" + std::to_string(c.C_in) + "->" + std::to_string(c.C_out) + ",L=200,k=" +
               std::to_string(c.K) + ",d=" + std::to_string(c.dil) + ")";
        e.variant = v.name + pass;
        e.flops = g.flops() * (backward ? 3 : 1);
        e.bytes = conv_bytes(g, backward);
        e.compare_to = "sgemm";
        e.note = std::string("ecapa512 ") + c.where + " x" + std::to_string(c.count);
        e.setup = [g, backward, t, be] {
          auto b = std::make_shared<ConvBuffers>(g);
          return std::function<void()>([b, backward, t, be] { with_threading(t, be, [&] { b->run(backward); }); });
        };
        spk::bench::add(std::move(e));
      }
      spk::bench::Entry e;
      e.op = "ecapa512_convs(N=16,in=80x200,31 convs)";
      e.variant = v.name + pass;
      for (const EcapaConv& c : kEcapa512) {
        e.flops += c.count * geom1d(c).flops() * (backward ? 3 : 1);
        e.bytes += c.count * conv_bytes(geom1d(c), backward);
      }
      e.compare_to = "sgemm";
      e.note = "ECAPA-TDNN C=512 conv stack (no SE, BN, pooling)";
      e.setup = [backward, t, be] {
        auto all = std::make_shared<std::vector<std::pair<std::shared_ptr<ConvBuffers>, int>>>();
        for (const EcapaConv& c : kEcapa512) all->push_back({std::make_shared<ConvBuffers>(geom1d(c)), c.count});
        return std::function<void()>([all, backward, t, be] {
          with_threading(t, be, [&] {
            for (auto& [b, count] : *all)
              for (int i = 0; i < count; ++i) b->run(backward);
          });
        });
      };
      spk::bench::add(std::move(e));
    }
}
