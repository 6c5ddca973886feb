// conv1d / conv2d: forward and backward against direct loops written here (every config, including ones
// large enough to take the threaded and chunked kernel paths), finite-difference gradient checks in double
// on small odd shapes, and the error messages for bad arguments.
#include <string>

#include "engine/conv_context.h"
#include "engine/cpu_threads.h"
#include "kernels/conv/conv.h"
#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

struct ConvCfg {
  int64_t N, C_in, H, W, C_out, KH, KW;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool bias = false;
  std::string name() const {
    return "x(" + std::to_string(N) + "," + std::to_string(C_in) + "," + std::to_string(H) + "," + std::to_string(W) +
           ") w(" + std::to_string(C_out) + "," + std::to_string(C_in / groups) + "," + std::to_string(KH) + "," +
           std::to_string(KW) + ") s(" + std::to_string(sh) + "," + std::to_string(sw) + ") p(" + std::to_string(ph) +
           "," + std::to_string(pw) + ") d(" + std::to_string(dh) + "," + std::to_string(dw) + ") g" +
           std::to_string(groups) + (bias ? " bias" : "");
  }
  int64_t Ho() const { return (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1; }
  int64_t Wo() const { return (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1; }
};

// Visits every (n, co, oh, ow, ci, kh, kw) term of the direct convolution sum with in-bounds input pixel
// (n, ci, ih, iw), handing flat indices of y, x and w to f.
template <class F>
void each_term(const ConvCfg& c, F&& f) {
  const int64_t Cig = c.C_in / c.groups, Cog = c.C_out / c.groups, Ho = c.Ho(), Wo = c.Wo();
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t co = 0; co < c.C_out; ++co)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow)
          for (int64_t cg = 0; cg < Cig; ++cg)
            for (int64_t kh = 0; kh < c.KH; ++kh)
              for (int64_t kw = 0; kw < c.KW; ++kw) {
                const int64_t ih = oh * c.sh - c.ph + kh * c.dh, iw = ow * c.sw - c.pw + kw * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const int64_t ci = (co / Cog) * Cig + cg;
                f(((n * c.C_out + co) * Ho + oh) * Wo + ow, ((n * c.C_in + ci) * c.H + ih) * c.W + iw,
                  ((co * Cig + cg) * c.KH + kh) * c.KW + kw);
              }
}

struct Reference { std::vector<double> y, dx, dw, db; };

Reference reference(const ConvCfg& c, const std::vector<double>& x, const std::vector<double>& w,
                    const std::vector<double>& b, const std::vector<double>& dy) {
  const int64_t P = c.Ho() * c.Wo();
  Reference r{std::vector<double>(size_t(c.N * c.C_out * P)), std::vector<double>(x.size()),
              std::vector<double>(w.size()), std::vector<double>(size_t(c.C_out))};
  each_term(c, [&](int64_t yi, int64_t xi, int64_t wi) {
    r.y[size_t(yi)] += x[size_t(xi)] * w[size_t(wi)];
    r.dx[size_t(xi)] += dy[size_t(yi)] * w[size_t(wi)];
    r.dw[size_t(wi)] += dy[size_t(yi)] * x[size_t(xi)];
  });
  for (int64_t i = 0; i < int64_t(r.y.size()); ++i) {
    const int64_t co = (i / P) % c.C_out;
    if (c.bias) r.y[size_t(i)] += b[size_t(co)];
    r.db[size_t(co)] += dy[size_t(i)];
  }
  return r;
}

// Runs conv2d (or conv1d when H == KH == 1 and as1d) forward and backward in `dt` and compares everything
// with the direct loops; tolerances scale with the f32 rounding of sums of K_g terms.
void check_against_loops(const ConvCfg& c, DType dt, bool as1d = false) {
  Rng rng(1337);
  Tensor x = Tensor::uniform({c.N, c.C_in, c.H, c.W}, rng, -1, 1, dt);
  Tensor w = Tensor::uniform({c.C_out, c.C_in / c.groups, c.KH, c.KW}, rng, -1, 1, dt);
  Tensor b = c.bias ? Tensor::uniform({c.C_out}, rng, -1, 1, dt) : Tensor();
  Tensor dy = Tensor::uniform({c.N, c.C_out, c.Ho(), c.Wo()}, rng, -1, 1, dt);
  Reference r = reference(c, x.to_double(), w.to_double(), c.bias ? b.to_double() : std::vector<double>{},
                          dy.to_double());
  x.set_requires_grad(); w.set_requires_grad();
  if (c.bias) b.set_requires_grad();
  Tensor y;
  if (as1d) {
    Tensor y1 = conv1d(reshape(x, {c.N, c.C_in, c.W}), reshape(w, {c.C_out, c.C_in / c.groups, c.KW}), b, c.sw, c.pw,
                       c.dw, c.groups);
    REQUIRE(y1.shape() == Shape{c.N, c.C_out, c.Wo()});
    y = reshape(y1, {c.N, c.C_out, 1, c.Wo()});
  } else {
    y = conv2d(x, w, b, {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw}, c.groups);
  }
  REQUIRE(y.shape() == Shape{c.N, c.C_out, c.Ho(), c.Wo()});
  sum(mul(y, dy)).backward();
  // Absolute tolerance per value: proportional to how many products of magnitude <= 1 it sums.
  const double unit = dt == DType::f32 ? 1e-6 : 1e-14, rtol = dt == DType::f32 ? 1e-5 : 1e-12;
  const double taps = double(c.KH * c.KW), positions = double(c.N * c.Ho() * c.Wo());
  test::expect_close(y, r.y, unit * double(c.C_in / c.groups) * taps, rtol, "y");
  test::expect_close(x.grad(), r.dx, unit * double(c.C_out / c.groups) * taps, rtol, "dx");
  test::expect_close(w.grad(), r.dw, unit * positions, rtol, "dw");
  if (c.bias) test::expect_close(b.grad(), r.db, unit * positions, rtol, "db");
}

// f32 runs once per CPU backend: spk's im2col + GEMM and, where built, oneDNN (the dnnl backend; a build without
// oneDNN says so). f64 always runs spk's kernels.
void check_f32_backends(const ConvCfg& c, bool as1d = false) {
  const ConvCpuOptions saved = conv_cpu_options();
  for (ConvCpuBackend b : {ConvCpuBackend::spk, ConvCpuBackend::dnnl}) {
    if (b == ConvCpuBackend::dnnl && !conv_dnnl_built()) {
      MESSAGE("dnnl CPU conv backend not built (no oneDNN at configure time): its f32 check skipped");
      continue;
    }
    CAPTURE(conv_cpu_backend_name(b));
    conv_cpu_options().backend = b;
    check_against_loops(c, DType::f32, as1d);
  }
  conv_cpu_options() = saved;
}

}  // namespace

TEST_CASE("conv2d forward and backward match direct loops") {
  const std::vector<ConvCfg> cfgs = {
      {2, 3, 7, 9, 4, 3, 3},                                       // odd sizes, no padding
      {2, 3, 8, 11, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, true},             // stride 2, padding 1, bias
      {1, 2, 9, 10, 3, 3, 3, 1, 1, 2, 2, 2, 2},                      // dilation 2 (N = 1: the serial path)
      {2, 4, 6, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, true},              // groups 2
      {2, 3, 7, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3},                    // depthwise
      {2, 3, 7, 8, 6, 3, 3, 2, 1, 1, 1, 1, 1, 3},                    // depthwise with channel multiplier 2
      {2, 5, 6, 7, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},              // 1×1 (GEMM on the input directly)
      {2, 6, 6, 7, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2},                    // 1×1, groups 2
      {2, 5, 7, 9, 4, 1, 1, 2, 2},                                   // 1×1 stride 2 (downsample)
      {1, 2, 7, 9, 3, 3, 5, 1, 2, 1, 2},                             // non-square kernel, stride (1, 2)
      {2, 1, 12, 15, 4, 7, 7, 2, 1, 3, 3},                           // ResNetSE34L stem: 7×7 stride (2, 1) pad 3
      {2, 3, 5, 5, 2, 5, 5, 3, 3, 2, 2, 1, 1, 1, true},              // stride 3, kernel = input
      {3, 16, 20, 61, 16, 3, 3, 1, 1, 1, 1},                         // threaded over (image, chunk)
      {4, 16, 20, 61, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, true},          // threaded, stride 2
      {3, 8, 9, 40, 8, 3, 3, 1, 1, 2, 2, 2, 2, 2},                   // threaded, dilation 2, groups 2
  };
  for (const auto& c : cfgs) {
    SUBCASE((c.name() + " f64").c_str()) { check_against_loops(c, DType::f64); }
    SUBCASE((c.name() + " f32").c_str()) { check_f32_backends(c); }
  }
}

TEST_CASE("conv2d chunks long images and images of one row") {
  // f64 columns of K_g = 144 rows give ~900-column chunks: these cut output rows in the middle.
  SUBCASE("2-d, chunk boundaries inside output rows") { check_against_loops({2, 16, 20, 61, 8, 3, 3, 1, 1, 1, 1}, DType::f64); }
  SUBCASE("2-d, N = 1 long image (serial backward)") { check_against_loops({1, 16, 9, 300, 8, 3, 3, 1, 1, 1, 1}, DType::f64); }
  SUBCASE("2-d, a chunk ends inside an output row's left padding") {
    // K_g = 49 (the ResNetSE34L stem), 1 KiB chunks -> the 64-column minimum; W_out = 63, so the first chunk
    // ends at column 1 of row 1, left of where the 7-tap kernel's first tap meets the image (column 3).
    // This once wrote past the end of the column buffer (found by spk_train's whole-utterance evaluation).
    const ConvCpuOptions saved = conv_cpu_options();
    conv_cpu_options().col_chunk_bytes = 1024;
    conv_cpu_options().backend = ConvCpuBackend::spk;   // the chunking is spk's
    check_against_loops({1, 1, 6, 63, 4, 7, 7, 2, 1, 3, 3}, DType::f32);
    check_against_loops({1, 1, 6, 63, 4, 7, 7, 2, 1, 3, 3}, DType::f64);
    conv_cpu_options() = saved;
  }
  SUBCASE("1-d, L = 2000 cut into chunks") { check_against_loops({2, 64, 1, 2000, 16, 1, 3, 1, 1, 0, 1, 1, 2}, DType::f64, true); }
}

TEST_CASE("conv1d forward and backward match direct loops") {
  const std::vector<ConvCfg> cfgs = {
      {2, 3, 1, 11, 4, 1, 3},                                      // odd length
      {2, 4, 1, 13, 6, 1, 3, 1, 2, 0, 1, 1, 1, 1, true},           // stride 2, padding 1, bias
      {2, 4, 1, 17, 4, 1, 3, 1, 1, 0, 2, 1, 2, 2},                 // dilation 2, groups 2 (ECAPA-style)
      {2, 8, 1, 50, 8, 1, 5, 1, 1, 0, 4, 1, 2, 8},                 // depthwise, dilation 2
      {2, 6, 1, 9, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},            // 1×1 (TDNN / attention)
      {4, 32, 1, 200, 32, 1, 3, 1, 1, 0, 2, 1, 2},                 // threaded
  };
  for (const auto& c : cfgs) {
    SUBCASE((c.name() + " f64").c_str()) { check_against_loops(c, DType::f64, true); }
    SUBCASE((c.name() + " f32").c_str()) { check_f32_backends(c, true); }
  }
}

TEST_CASE("conv2d hand-worked example") {
  // x = 1..9 as (1,1,3,3), w = [[1,0],[0,-1]] with padding 0: y[i][j] = x[i][j] − x[i+1][j+1] = −4 everywhere.
  std::vector<double> xs{1, 2, 3, 4, 5, 6, 7, 8, 9};
  Tensor x = Tensor::from_vector(xs, {1, 1, 3, 3}, DType::f32);
  Tensor w = Tensor::from_vector(std::vector<double>{1, 0, 0, -1}, {1, 1, 2, 2}, DType::f32);
  Tensor b = Tensor::from_vector(std::vector<double>{0.5}, {1}, DType::f32);
  test::expect_close(conv2d(x, w, b), {-3.5, -3.5, -3.5, -3.5}, 0, 0, "2x2 difference kernel + bias");
  // With padding 1 and stride 2 the outputs sit at (−1,−1), (−1,1), (1,−1), (1,1) of the padded grid.
  test::expect_close(conv2d(x, w, Tensor(), {2, 2}, {1, 1}), {-1, -3, -7, -4}, 0, 0, "stride 2 pad 1");
}

// ---- finite-difference gradient checks (double, small odd shapes) ----

SPK_GRADCHECK_CASE(conv2d, "stride 2, padding 1, bias; dilation 2 groups 2; (7,3) kernel stride (2,1); 1x1") {
  Rng rng(1337);
  {
    auto x = rand_input({2, 3, 5, 6}, rng), w = rand_input({4, 3, 3, 3}, rng), b = rand_input({4}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {2, 2}, {1, 1}); }, {x, w, b});
  }
  {
    auto x = rand_input({1, 4, 7, 6}, rng), w = rand_input({2, 2, 3, 2}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], {}, {1, 1}, {2, 1}, {2, 2}, 2); },
              {x, w});
  }
  {
    auto x = rand_input({2, 1, 9, 5}, rng), w = rand_input({3, 1, 7, 3}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], {}, {2, 1}, {3, 1}); }, {x, w});
  }
  {
    auto x = rand_input({2, 3, 3, 5}, rng), w = rand_input({3, 1, 3, 3}, rng), b = rand_input({3}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {1, 2}, {1, 1}, {1, 1}, 3); },
              {x, w, b});   // depthwise
  }
  {
    auto x = rand_input({2, 5, 3, 4}, rng), w = rand_input({2, 5, 1, 1}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1]); }, {x, w});
  }
}

SPK_GRADCHECK_CASE(conv1d, "stride 2 padding 1 bias; dilation 2 groups 2; 1x1") {
  Rng rng(1337);
  {
    auto x = rand_input({2, 3, 9}, rng), w = rand_input({4, 3, 3}, rng), b = rand_input({4}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], in[2], 2, 1); }, {x, w, b});
  }
  {
    auto x = rand_input({2, 4, 11}, rng), w = rand_input({6, 2, 3}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], {}, 1, 2, 2, 2); }, {x, w});
  }
  {
    auto x = rand_input({2, 5, 7}, rng), w = rand_input({3, 5, 1}, rng), b = rand_input({3}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], in[2]); }, {x, w, b});
  }
}

TEST_CASE("conv gradients flow only to inputs that want them") {
  Rng rng(7);
  // Data without grad (the stem's input): only dw is computed.
  Tensor x = Tensor::uniform({2, 4, 6, 6}, rng, -1, 1, DType::f64);
  Tensor w = rand_input({4, 2, 3, 3}, rng);
  sum(conv2d(x, w, {}, {1, 1}, {1, 1}, {1, 1}, 2)).backward();
  CHECK(w.grad().defined());
  CHECK_FALSE(x.grad().defined());
  // Frozen weights: only dx; compare with the run where both are wanted.
  Tensor x2 = rand_input({2, 4, 6, 6}, rng), w2 = Tensor::uniform({4, 2, 3, 3}, rng, -1, 1, DType::f64);
  sum(conv2d(x2, w2, {}, {1, 1}, {1, 1}, {1, 1}, 2)).backward();
  REQUIRE(x2.grad().defined());
  Tensor dx_only = x2.grad();
  x2.zero_grad();
  w2.set_requires_grad();
  sum(conv2d(x2, w2, {}, {1, 1}, {1, 1}, {1, 1}, 2)).backward();
  test::expect_close(dx_only, x2.grad(), 0, 0, "dx without dw");
}

TEST_CASE("conv errors name the op and the shapes") {
  Tensor x = Tensor::zeros({2, 3, 8, 8});
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 4, 3, 3})),
                       doctest::Contains("conv2d: input f32(2, 3, 8, 8) cpu has 3 channels but weight f32(4, 4, 3, 3) cpu expects 4"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({2, 4, 8, 8}), Tensor::zeros({3, 2, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 2),
                       doctest::Contains("3 output channels, not divisible by groups 2"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 3, 9, 3})),
                       doctest::Contains("conv2d: kernel size 9 along H (dilation 1) is larger than the padded input"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 3, 3, 3}), {}, {1, 1}, {0, 0}, {4, 4}),
                       doctest::Contains("kernel size 3 along H (dilation 4)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 3, 3, 3}), {}, {1, 0}),
                       doctest::Contains("conv2d: stride along W must be >= 1, got 0"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor::zeros({3})),
                       doctest::Contains("conv2d: bias f32(3) cpu must be (4)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({3, 8, 8}), Tensor::zeros({4, 3, 3, 3})),
                       doctest::Contains("conv2d: input f32(3, 8, 8) cpu must be (N, C_in, H, W)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({4, 3, 3, 3}, DType::f64)),
                       doctest::Contains("differ in device or dtype"), Error);
  CHECK_THROWS_WITH_AS(conv1d(Tensor::zeros({2, 3, 10}), Tensor::zeros({4, 2, 3})),
                       doctest::Contains("conv1d: input f32(2, 3, 10) cpu has 3 channels but weight f32(4, 2, 3) cpu expects 2"),
                       Error);
  CHECK_THROWS_WITH_AS(conv1d(Tensor::zeros({2, 3, 4}), Tensor::zeros({4, 3, 7}), {}, 1, 1),
                       doctest::Contains("conv1d: kernel size 7 (dilation 1) is larger than the padded input: f32(2, 3, 4) cpu has 4 + 2*1 = 6"),
                       Error);
  CHECK_THROWS_WITH_AS(conv1d(Tensor::zeros({2, 3, 10}), Tensor::zeros({4, 3, 3, 3})),
                       doctest::Contains("conv1d: weight f32(4, 3, 3, 3) cpu must be (C_out, C_in/groups, K)"), Error);
}

// The CPU kernels get their thread count from the engine at each call (engine/conv_context.h): the stored
// settings say 0 ("the engine's cpu_threads()"), a fixed count wins, and set_cpu_threads changes what convs use.
TEST_CASE("conv CPU options: the engine resolves the thread count per call") {
  const ConvCpuOptions saved = conv_cpu_options();
  CHECK(saved.threads == 0);
  CHECK(conv_cpu_call_options().threads == cpu_threads());
  set_cpu_threads(3);
  CHECK(cpu_threads() == 3);
  CHECK(conv_cpu_call_options().threads == 3);
  conv_cpu_options().threads = 2;
  CHECK(conv_cpu_call_options().threads == 2);
  conv_cpu_options() = saved;
  set_cpu_threads(0);
  CHECK(cpu_threads() >= 1);
  CHECK_THROWS_WITH_AS(set_cpu_threads(-1), doctest::Contains("thread count must be >= 1"), Error);
}
