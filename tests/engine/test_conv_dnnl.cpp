// The dnnl CPU conv backend (kernels/conv/conv_dnnl_cpu.cpp, oneDNN) against spk's im2col + GEMM kernels, the
// reference, on random f32 inputs at the shapes the nets run (ResNetSE34L's 7×7 stem, 3×3 stride 2, 1×1 stride 2
// downsample; ECAPA's dilated conv1d with bias), forward and both backwards, with one image and with an odd
// image count (the backend splits images between threads). Plus the backend names and the flag errors.
// In a build without oneDNN the comparisons are skipped with a visible message, and choosing dnnl must throw.
#include <cmath>
#include <string>
#include <vector>

#include "engine/conv_context.h"
#include "kernels/common/half.h"
#include "kernels/conv/conv.h"
#include "support/check.h"
#include "support/random_floats.h"

using namespace spk;
using spk::test::random_floats;

namespace {

// Worst |a − b| over max(1, max |b|) must stay below rtol; prints the worst pair.
void expect_near(const std::vector<float>& a, const std::vector<float>& b, double rtol, const char* what) {
  double worst = 0, scale = 1;
  size_t at = 0;
  for (size_t i = 0; i < b.size(); ++i) scale = std::max(scale, double(std::fabs(b[i])));
  for (size_t i = 0; i < b.size(); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= worst)) { worst = d; at = i; }   // NaN lands here too
  }
  INFO(what, ": worst |dnnl - spk| = ", worst, " at ", at, " (dnnl ", a[at], ", spk ", b[at], "), scale ", scale);
  CHECK(worst <= rtol * scale);
}

void compare(const ConvGeom& g, bool bias, int threads) {
  const size_t xn = size_t(g.N * g.C_in * g.H * g.W), wn = size_t(g.C_out * g.K_g()),
               yn = size_t(g.N * g.C_out * g.H_out() * g.W_out());
  const auto x = random_floats(xn, 1), w = random_floats(wn, 2), b = random_floats(size_t(g.C_out), 3),
             dy = random_floats(yn, 4);
  ConvCpuOptions ref = conv_cpu_call_options(), dn = ref;
  ref.backend = ConvCpuBackend::spk;
  ref.threads = dn.threads = threads;
  dn.backend = ConvCpuBackend::dnnl;
  conv_cpu_options().backend = ConvCpuBackend::dnnl;
  dn.dnnl = conv_cpu_call_options().dnnl;   // the engine's oneDNN state (the caller restores the settings)
  std::vector<float> y0(yn), y1(yn), dx0(xn), dx1(xn), dw0(wn), dw1(wn), db0(size_t(g.C_out)), db1(size_t(g.C_out));
  conv2d_forward_cpu<float>(g, x.data(), w.data(), bias ? b.data() : nullptr, y0.data(), ref);
  conv2d_forward_cpu<float>(g, x.data(), w.data(), bias ? b.data() : nullptr, y1.data(), dn);
  conv2d_backward_cpu<float>(g, x.data(), w.data(), dy.data(), dx0.data(), dw0.data(), db0.data(), ref);
  conv2d_backward_cpu<float>(g, x.data(), w.data(), dy.data(), dx1.data(), dw1.data(), db1.data(), dn);
  // f32 sums of K_g (y, dx: C_out_g·KH·KW) or N·P (dw) terms in two different orders: a few ulps of the
  // largest partial sum. 1e-5 of the output scale bounds what we saw (~1e-6) with room, and catches any
  // wrong tap, stride or padding (errors of order 1).
  expect_near(y1, y0, 1e-5, "y");
  expect_near(dx1, dx0, 1e-5, "dx");
  expect_near(dw1, dw0, 1e-5, "dw");
  if (bias) expect_near(db1, db0, 0, "db");   // both sum db in spk's loop
  // dw alone (the stem: its input wants no gradient) must equal dw of the pass with dx.
  std::vector<float> dw2(wn);
  conv2d_backward_cpu<float>(g, x.data(), w.data(), dy.data(), nullptr, dw2.data(), nullptr, dn);
  expect_near(dw2, dw1, 0, "dw without dx");
}

ConvGeom geom2d(int64_t N, int64_t C_in, int64_t H, int64_t W, int64_t C_out, int64_t K, int64_t sh, int64_t sw,
                int64_t pad) {
  ConvGeom g;
  g.N = N; g.C_in = C_in; g.H = H; g.W = W; g.C_out = C_out; g.KH = g.KW = K;
  g.stride_h = sh; g.stride_w = sw; g.pad_h = g.pad_w = pad;
  return g;
}

}  // namespace

TEST_CASE("dnnl CPU conv backend matches spk's kernels") {
  if (!conv_dnnl_built()) {
    MESSAGE("dnnl CPU conv backend not built (no oneDNN at configure time): comparisons skipped");
    return;
  }
  const ConvCpuOptions saved = conv_cpu_options();
  struct Case { const char* name; ConvGeom g; bool bias; };
  ConvGeom dil2 = conv1d_geom(3, 16, 60, 16, 3, 1, 2, 2, 1), dil4 = conv1d_geom(2, 24, 50, 8, 3, 1, 4, 4, 1),
           k5 = conv1d_geom(2, 10, 40, 12, 5, 1, 2, 1, 1), grouped = geom2d(3, 8, 9, 13, 12, 3, 1, 1, 1);
  grouped.groups = 4;
  const Case cases[] = {
      {"stem 7x7 stride (2,1) pad 3, C 1->16", geom2d(3, 1, 16, 41, 16, 7, 2, 1, 3), false},
      {"3x3 stride 2 pad 1, C 16->32 (layer2.0)", geom2d(3, 16, 12, 31, 32, 3, 2, 2, 1), false},
      {"1x1 stride 2, C 16->32 (downsample)", geom2d(3, 16, 12, 31, 32, 1, 2, 2, 0), false},
      {"3x3 stride 1 pad 1, odd sizes, bias", geom2d(2, 5, 7, 9, 6, 3, 1, 1, 1), true},
      {"3x3 stride 3, no padding (floor drops columns)", geom2d(2, 4, 11, 14, 4, 3, 3, 3, 0), false},
      {"conv2d groups 4", grouped, true},
      {"conv1d K=3 dilation 2 pad 2 (ECAPA), bias", dil2, true},
      {"conv1d K=3 dilation 4 pad 4 (ECAPA)", dil4, false},
      {"conv1d K=5 pad 2 (ECAPA layer 1), bias", k5, true},
  };
  for (const Case& c : cases)
    for (int threads : {1, 2}) {
      SUBCASE((std::string(c.name) + ", threads " + std::to_string(threads)).c_str()) { compare(c.g, c.bias, threads); }
    }
  conv_cpu_options() = saved;
}

// Fewer images than threads (batch-1 extraction): each image's output columns are cut into windows, one
// oneDNN call each, with the padding only at the outer edges (conv_dnnl_cpu.cpp, run_columns). Same 1e-5 bound
// against the reference, at the shapes above with one image and with windows of odd widths, and the split must
// really happen (or this checks the unsplit path twice).
TEST_CASE("dnnl CPU conv backend: one image split into column windows") {
  if (!conv_dnnl_built()) {
    MESSAGE("dnnl CPU conv backend not built (no oneDNN at configure time): comparisons skipped");
    return;
  }
  const ConvCpuOptions saved = conv_cpu_options();
  struct Case { const char* name; ConvGeom g; bool bias; };
  const Case cases[] = {
      {"stem 7x7 stride (2,1) pad 3, C 1->16", geom2d(1, 1, 16, 41, 16, 7, 2, 1, 3), false},
      {"3x3 stride 2 pad 1, C 16->32 (layer2.0)", geom2d(1, 16, 12, 37, 32, 3, 2, 2, 1), false},
      {"3x3 stride 1 pad 1, bias", geom2d(1, 5, 7, 53, 6, 3, 1, 1, 1), true},
      {"3x3 stride 3, no padding (floor drops columns)", geom2d(1, 4, 11, 70, 4, 3, 3, 3, 0), false},
      {"conv1d K=3 dilation 4 pad 4 (ECAPA), bias", conv1d_geom(1, 24, 50, 8, 3, 1, 4, 4, 1), true},
      {"conv1d K=5 pad 2 (ECAPA layer 1), two images on 5 threads", conv1d_geom(2, 10, 77, 12, 5, 1, 2, 1, 1), true},
  };
  for (const Case& c : cases)
    for (int threads : {2, 3, 5}) {
      if (threads < 2 * c.g.N) continue;   // two images on 2 or 3 threads: one thread each, no windows
      SUBCASE((std::string(c.name) + ", threads " + std::to_string(threads)).c_str()) {
        CHECK(conv_dnnl_column_windows(c.g, threads) >= 2);
        compare(c.g, c.bias, threads);
      }
    }
  CHECK(conv_dnnl_column_windows(geom2d(2, 4, 8, 64, 4, 3, 1, 1, 1), 2) == 1);   // images enough for threads
  CHECK(conv_dnnl_column_windows(geom2d(1, 4, 8, 12, 4, 3, 1, 1, 1), 2) == 1);   // too few columns to share
  conv_cpu_options() = saved;
}

// auto picks per pass (conv_cpu.cpp, use_dnnl): small 1×1 convs and the stem's input gradient stay on spk's
// kernels, the rest goes to oneDNN. Checked bit for bit against each backend's own result.
TEST_CASE("CPU conv auto backend: which passes go to oneDNN") {
  if (!conv_dnnl_built()) {
    MESSAGE("dnnl CPU conv backend not built: auto is spk, nothing to check");
    return;
  }
  const ConvCpuOptions saved = conv_cpu_options();
  conv_cpu_options().backend = ConvCpuBackend::dnnl;
  ConvDnnlState* state = conv_cpu_call_options().dnnl;
  auto run = [&](const ConvGeom& g, ConvCpuBackend b) {
    ConvCpuOptions o;
    o.backend = b;
    o.dnnl = state;
    o.threads = 2;
    const auto x = random_floats(size_t(g.N * g.C_in * g.H * g.W), 1), w = random_floats(size_t(g.C_out * g.K_g()), 2),
               dy = random_floats(size_t(g.N * g.C_out * g.H_out() * g.W_out()), 3);
    std::vector<float> out(dy.size()), dx(x.size()), dw(w.size());
    conv2d_forward_cpu<float>(g, x.data(), w.data(), nullptr, out.data(), o);
    conv2d_backward_cpu<float>(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr, o);
    out.insert(out.end(), dx.begin(), dx.end());
    out.insert(out.end(), dw.begin(), dw.end());
    return out;
  };
  const ConvGeom down = geom2d(2, 16, 10, 21, 32, 1, 2, 2, 0), mid = geom2d(2, 16, 10, 21, 32, 3, 1, 1, 1);
  CHECK(run(down, ConvCpuBackend::automatic) == run(down, ConvCpuBackend::spk));
  CHECK(run(mid, ConvCpuBackend::automatic) == run(mid, ConvCpuBackend::dnnl));
  CHECK(run(mid, ConvCpuBackend::dnnl) != run(mid, ConvCpuBackend::spk));   // or this test checks nothing
  conv_cpu_options() = saved;
}

TEST_CASE("CPU conv backend names and errors") {
  CHECK(parse_conv_cpu_backend("auto") == ConvCpuBackend::automatic);
  CHECK(parse_conv_cpu_backend("spk") == ConvCpuBackend::spk);
  CHECK(std::string(conv_cpu_backend_name(ConvCpuBackend::dnnl)) == "dnnl");
  CHECK_THROWS_WITH_AS(parse_conv_cpu_backend("mkl"),
                       doctest::Contains("unknown name \"mkl\" (expected auto, spk or dnnl)"), Error);
  const ConvCpuOptions saved = conv_cpu_options();
  if (conv_dnnl_built()) {
    CHECK(parse_conv_cpu_backend("dnnl") == ConvCpuBackend::dnnl);
    set_conv_cpu_backend("auto");
    CHECK(conv_cpu_resolved_backend(conv_cpu_call_options()) == ConvCpuBackend::dnnl);
    CHECK(conv_cpu_call_options().dnnl != nullptr);
  } else {
    MESSAGE("dnnl CPU conv backend not built: checking that choosing it fails");
    CHECK_THROWS_WITH_AS(set_conv_cpu_backend("dnnl"), doctest::Contains("built without oneDNN"), Error);
    set_conv_cpu_backend("auto");
    CHECK(conv_cpu_resolved_backend(conv_cpu_call_options()) == ConvCpuBackend::spk);
  }
  set_conv_cpu_backend("spk");
  CHECK(conv_cpu_call_options().dnnl == nullptr);
  conv_cpu_options() = saved;
}

// Autocast bf16 (ConvCpuOptions::bf16): the dnnl backend rounds the fp32 operands to bf16 itself (oneDNN's bf16
// kernels in their reorders, where the CPU has them; else, or for a shape without a bf16 jit kernel such as the
// grouped one, before the f32 kernels). Products of two bf16 values are exact in f32 and the sums run in f32, so
// against the reference on operands rounded by hand the bound is the f32 case's: a different summation order,
// 1e-5 of the output scale. A missed rounding would differ by ~1e-3 of the scale.
TEST_CASE("dnnl CPU conv backend: bf16 operands (autocast) match the reference on the rounded values") {
  auto grouped4 = [] {
    ConvGeom g = geom2d(2, 8, 9, 13, 12, 3, 1, 1, 1);
    g.groups = 4;
    return g;
  };
  if (!conv_dnnl_built()) {
    MESSAGE("dnnl CPU conv backend not built (no oneDNN at configure time): comparisons skipped");
    return;
  }
  const char* which = bf16_dnnl_usable() ? "this CPU runs oneDNN's bf16 kernels" : "no bf16 kernels here: f32 ones run";
  MESSAGE(std::string(which));
  const ConvCpuOptions saved = conv_cpu_options();
  conv_cpu_options().backend = ConvCpuBackend::dnnl;
  struct Case { const char* name; ConvGeom g; bool bias; };
  const Case cases[] = {
      {"3x3 stride 1 pad 1, C 16->32", geom2d(4, 16, 10, 37, 32, 3, 1, 1, 1), false},
      {"stem 7x7 stride (2,1), C 1->16", geom2d(3, 1, 16, 41, 16, 7, 2, 1, 3), false},
      {"1x1 stride 2, C 16->32, bias", geom2d(2, 16, 12, 31, 32, 1, 2, 2, 0), true},
      {"conv1d K=3 dilation 2, bias, one image (column windows)", conv1d_geom(1, 32, 90, 32, 3, 1, 2, 2, 1), true},
      {"conv2d groups 4, bias", grouped4(), true},
  };
  // Twice: oneDNN's bf16 kernels, then the f32 fallback that rounds the operands itself (conv_dnnl_refuse_bf16).
  for (const bool fallback : {false, true})
  for (const Case& c : cases) {
    conv_dnnl_refuse_bf16(*conv_cpu_call_options().dnnl, fallback);
    const ConvGeom& g = c.g;
    const size_t xn = size_t(g.N * g.C_in * g.H * g.W), wn = size_t(g.C_out * g.K_g()),
                 yn = size_t(g.N * g.C_out * g.H_out() * g.W_out());
    const auto x0 = random_floats(xn, 1), w0 = random_floats(wn, 2), dy0 = random_floats(yn, 4),
               b = random_floats(size_t(g.C_out), 3);
    auto x = x0, w = w0, dy = dy0;   // rounded by hand, for the reference
    for (auto* v : {&x, &w, &dy})
      for (float& f : *v) f = bf16_to_f32(f32_to_bf16(f));
    ConvCpuOptions ref = conv_cpu_call_options(), lo = ref;
    ref.backend = ConvCpuBackend::spk;
    lo.bf16 = true;
    ref.threads = lo.threads = 2;
    std::vector<float> y0(yn), y1(yn), dx0(xn), dx1(xn), dw0(wn), dw1(wn);
    conv2d_forward_cpu<float>(g, x.data(), w.data(), c.bias ? b.data() : nullptr, y0.data(), ref);
    conv2d_forward_cpu<float>(g, x0.data(), w0.data(), c.bias ? b.data() : nullptr, y1.data(), lo);
    conv2d_backward_cpu<float>(g, x.data(), w.data(), dy.data(), dx0.data(), dw0.data(), nullptr, ref);
    conv2d_backward_cpu<float>(g, x0.data(), w0.data(), dy0.data(), dx1.data(), dw1.data(), nullptr, lo);
    INFO(c.name, fallback ? " (f32 fallback)" : "");
    expect_near(y1, y0, 1e-5, "y");
    expect_near(dx1, dx0, 1e-5, "dx");
    expect_near(dw1, dw0, 1e-5, "dw");
  }
  conv_dnnl_refuse_bf16(*conv_cpu_call_options().dnnl, false);
  conv_cpu_options() = saved;
}
