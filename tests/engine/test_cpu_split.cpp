// The CPU elementwise, sum, batch-norm, GEMM, conv-bias-gradient, Adam and fused SE kernels split large tensors between the work pool's threads
// (kernels/elementwise/elementwise.h kCpuSplitMin, kernels/norm/norm.h). The split must not change a bit: every
// element, and every channel's or row's sum, is computed by one thread in one order. Checked on tensors above the
// split threshold, at the shapes the nets give them (a batch-1 SE scale split along channels, a residual add
// split along the batch, a broadcast operand with stride 0 on the split dim, odd extents), for 2, 3 and 5
// threads against 1. Batch-norm statistics are also checked bit for bit against the plain two-pass loop they
// replaced (channels in groups of four must not change any channel's order of summation).
#include <cmath>
#include <string>
#include <vector>

#include "kernels/conv/conv.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/gemm/gemm.h"
#include "kernels/norm/norm.h"
#include "kernels/optim/optim.h"
#include "kernels/reduce/reduce.h"
#include "kernels/se/se.h"
#include "support/check.h"
#include "support/random_floats.h"

using namespace spk;
using spk::test::random_floats;

namespace {

std::vector<int64_t> dense_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = 1;
  for (size_t d = shape.size(); d-- > 0;) { s[d] = acc; acc *= shape[d]; }
  return s;
}

const int kThreads[] = {2, 3, 5};

}  // namespace

TEST_CASE("CPU unary kernels: the thread split changes no bit") {
  const int64_t n = 3 * kCpuSplitMin + 17;
  const auto x = random_floats(size_t(n), 1), dy = random_floats(size_t(n), 2);
  for (UnaryOp op : {UnaryOp::relu, UnaryOp::sigmoid, UnaryOp::mul_scalar}) {
    const UnaryParams p{0.5, 0};
    std::vector<float> y1(static_cast<size_t>(n)), dx1(static_cast<size_t>(n));
    unary_forward_cpu<float>(op, x.data(), y1.data(), n, p, 1);
    unary_backward_cpu<float>(op, x.data(), y1.data(), dy.data(), dx1.data(), n, p, 1);
    for (int t : kThreads) {
      std::vector<float> y(size_t(n), NAN), dx(size_t(n), NAN);
      unary_forward_cpu<float>(op, x.data(), y.data(), n, p, t);
      unary_backward_cpu<float>(op, x.data(), y.data(), dy.data(), dx.data(), n, p, t);
      INFO("op ", int(op), ", threads ", t);
      CHECK(y == y1);
      CHECK(dx == dx1);
    }
  }
}

TEST_CASE("CPU binary kernel: the thread split changes no bit") {
  struct Case { const char* name; std::vector<int64_t> a, b; BinaryOp op; };
  const Case cases[] = {
      {"SE scale, batch 1: (1,16,40,150) * (1,16,1,1)", {1, 16, 40, 150}, {1, 16, 1, 1}, BinaryOp::mul},
      {"residual add, batch 3: (3,8,50,61) + same", {3, 8, 50, 61}, {3, 8, 50, 61}, BinaryOp::add},
      {"b broadcast along the split dim: (5,4099,7) - (1,4099,7)", {5, 4099, 7}, {1, 4099, 7}, BinaryOp::sub},
      {"a broadcast along the split dim: (1,7,9000) / (6,7,9000)", {1, 7, 9000}, {6, 7, 9000}, BinaryOp::div},
  };
  for (const Case& c : cases) {
    std::vector<int64_t> shape(c.a.size());
    for (size_t d = 0; d < shape.size(); ++d) shape[d] = std::max(c.a[d], c.b[d]);
    int64_t an = 1, bn = 1, on = 1;
    for (size_t d = 0; d < shape.size(); ++d) { an *= c.a[d]; bn *= c.b[d]; on *= shape[d]; }
    REQUIRE(on >= kCpuSplitMin);
    auto as = dense_strides(c.a), bs = dense_strides(c.b);
    for (size_t d = 0; d < shape.size(); ++d) {
      if (c.a[d] == 1) as[d] = 0;
      if (c.b[d] == 1) bs[d] = 0;
    }
    const auto a = random_floats(size_t(an), 3), b = random_floats(size_t(bn), 4);
    std::vector<float> o1(static_cast<size_t>(on));
    binary_forward_cpu<float>(c.op, a.data(), as.data(), b.data(), bs.data(), o1.data(), shape.data(),
                              int(shape.size()), 1);
    for (int t : kThreads) {
      std::vector<float> o(size_t(on), NAN);
      binary_forward_cpu<float>(c.op, a.data(), as.data(), b.data(), bs.data(), o.data(), shape.data(),
                                int(shape.size()), t);
      INFO(c.name, ", threads ", t);
      CHECK(o == o1);
    }
  }
}

TEST_CASE("CPU sum along an axis: the thread split changes no bit") {
  struct Case { int64_t outer, K, inner; };
  // (rows, last axis) as the SE and pooling means; one image's channels (outer 1); odd row counts around the
  // groups of eight rows.
  const Case cases[] = {{64, 2000, 1}, {13, 5001, 1}, {1, 100, 5000}, {3, 50, 1000}};
  for (const Case& c : cases) {
    const auto x = random_floats(size_t(c.outer * c.K * c.inner), 5);
    std::vector<float> y1(static_cast<size_t>(c.outer * c.inner));
    sum_axis_cpu<float>(x.data(), y1.data(), c.outer, c.K, c.inner, 1);
    // The reference: each output one ascending chain of double adds.
    std::vector<float> ref(y1.size());
    for (int64_t o = 0; o < c.outer; ++o)
      for (int64_t i = 0; i < c.inner; ++i) {
        double s = 0;
        for (int64_t k = 0; k < c.K; ++k) s += double(x[size_t((o * c.K + k) * c.inner + i)]);
        ref[size_t(o * c.inner + i)] = float(s);
      }
    INFO("outer ", c.outer, " K ", c.K, " inner ", c.inner);
    CHECK(y1 == ref);
    for (int t : kThreads) {
      std::vector<float> y(y1.size(), NAN);
      sum_axis_cpu<float>(x.data(), y.data(), c.outer, c.K, c.inner, t);
      INFO("threads ", t);
      CHECK(y == y1);
    }
  }
}

TEST_CASE("CPU batch norm: channel groups and the thread split change no bit") {
  const int64_t N = 3, C = 13, S = 2011;   // 13 channels: three groups of four and one of one
  const double eps = 1e-5;
  const auto x = random_floats(size_t(N * C * S), 6), dy = random_floats(size_t(N * C * S), 7),
             w = random_floats(size_t(C), 8), b = random_floats(size_t(C), 9);
  auto run = [&](int t) {
    const size_t c = static_cast<size_t>(C);
    std::vector<float> mean(c), var(c), is(c), y(x.size()), yr(x.size()), dx(x.size()), dxr(x.size()), dw(c), db(c),
        dxe(x.size());
    batch_norm_stats_cpu<float>(x.data(), mean.data(), var.data(), is.data(), N, C, S, eps, t);
    batch_norm_forward_cpu<float>(x.data(), mean.data(), is.data(), w.data(), b.data(), y.data(), N, C, S, t);
    batch_norm_relu_forward_cpu<float>(x.data(), mean.data(), is.data(), w.data(), b.data(), yr.data(), N, C, S, t);
    batch_norm_backward_cpu<float>(x.data(), mean.data(), is.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                   db.data(), N, C, S, true, t);
    batch_norm_relu_backward_cpu<float>(x.data(), yr.data(), mean.data(), is.data(), w.data(), dy.data(),
                                        dxr.data(), nullptr, nullptr, N, C, S, true, t);
    batch_norm_backward_cpu<float>(x.data(), mean.data(), is.data(), w.data(), dy.data(), dxe.data(), nullptr,
                                   nullptr, N, C, S, false, t);
    return std::vector<std::vector<float>>{mean, var, is, y, yr, dx, dxr, dw, db, dxe};
  };
  const auto one = run(1);
  // Statistics as the plain loop computes them: per channel, Σx over (n, i) in order, then Σ(x − m)².
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) s += double(x[size_t((n * C + c) * S + i)]);
    const double m = s / double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const double d = double(x[size_t((n * C + c) * S + i)]) - m;
        q += d * d;
      }
    INFO("channel ", c);
    CHECK(one[0][size_t(c)] == float(m));
    CHECK(one[1][size_t(c)] == float(q / double(N * S)));
  }
  for (int t : kThreads) {
    const auto many = run(t);
    for (size_t k = 0; k < one.size(); ++k) {
      INFO("threads ", t, ", output ", k, " (mean var invstd y y_relu dx dx_relu dw db dx_eval)");
      CHECK(many[k] == one[k]);
    }
  }
}

// gemm_cpu with threads > 1 splits the batch or op(B)'s columns (kernels/gemm/gemm.h), one single-threaded sgemm
// per part: each C element is the same sum over K by the same kernel, so the split must not change a bit. Every
// transpose combination, leading dimensions wider than the matrices, beta != 0; the AAM-softmax logits (40 x 5994
// classes, cut to 1999 here), a tall product, and one too narrow to split (97 columns).
TEST_CASE("CPU GEMM: the thread split changes no bit") {
  struct Case { const char* name; int64_t batch, M, N, K; };
  const Case cases[] = {{"batch split", 6, 40, 33, 700},
                        {"columns split, AAM logits", 1, 40, 1999, 192},
                        {"columns split, tall", 1, 301, 256, 64},
                        {"narrow, not split", 1, 301, 97, 64}};
  for (const Case& c : cases)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        GemmArgs g;
        g.trans_a = ta; g.trans_b = tb;
        g.M = c.M; g.N = c.N; g.K = c.K;
        g.lda = (ta ? c.M : c.K) + 3;
        g.ldb = (tb ? c.K : c.N) + 5;
        g.ldc = c.N + 2;
        const int64_t rows_a = ta ? c.K : c.M, rows_b = tb ? c.N : c.K;
        g.batch = c.batch;
        g.stride_a = rows_a * g.lda; g.stride_b = rows_b * g.ldb; g.stride_c = c.M * g.ldc;
        g.alpha = 0.75; g.beta = 0.5;
        const auto A = random_floats(size_t(c.batch * g.stride_a), 10), B = random_floats(size_t(c.batch * g.stride_b), 11),
                   C0 = random_floats(size_t(c.batch * g.stride_c), 12);
        auto C1 = C0;
        gemm_cpu<float>(g, A.data(), B.data(), C1.data(), 1);
        for (int t : kThreads) {
          auto C = C0;
          gemm_cpu<float>(g, A.data(), B.data(), C.data(), t);
          double worst = 0;
          for (size_t i = 0; i < C.size(); ++i) worst = std::max(worst, double(std::fabs(C[i] - C1[i])));
          INFO(std::string(c.name), ", trans_a ", ta, ", trans_b ", tb, ", threads ", t, ", worst ", worst);
          CHECK(C == C1);
        }
      }
}

// The conv bias gradient (Σ over images and positions per channel, four channels' chains side by side, channel
// ranges split between threads): the plain per-channel loop's bits, on any thread count.
TEST_CASE("CPU conv bias gradient: channel groups and the thread split change no bit") {
  ConvGeom g = conv1d_geom(5, 8, 301, 13, 3, 1, 1, 1, 1);   // 13 channels: groups of four and one left over
  const auto dy = random_floats(size_t(g.N * g.C_out * g.W_out()), 13);
  const int64_t P = g.W_out();
  std::vector<float> ref(size_t(g.C_out));
  for (int64_t c = 0; c < g.C_out; ++c) {
    double s = 0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t p = 0; p < P; ++p) s += double(dy[size_t((n * g.C_out + c) * P + p)]);
    ref[size_t(c)] = float(s);
  }
  ConvCpuOptions opt;
  opt.backend = ConvCpuBackend::spk;
  for (int t : {1, 2, 3, 5}) {
    opt.threads = t;
    std::vector<float> db(size_t(g.C_out), NAN);
    conv2d_backward_cpu<float>(g, nullptr, nullptr, dy.data(), nullptr, nullptr, db.data(), opt);
    INFO("threads ", t);
    CHECK(db == ref);
  }
}

// The fused Adam step in units of 64K elements over the parameter list: each element's update is the same
// formula on whichever thread.
TEST_CASE("CPU fused Adam: the thread split changes no bit") {
  const int64_t sizes[] = {3, 70000, 131072 + 5, 1000};
  auto run = [&](int t) {
    std::vector<std::vector<float>> p, b0, b1;
    std::vector<std::vector<float>> g;
    std::vector<OptimSlot<float>> slots;
    for (size_t k = 0; k < 4; ++k) {
      p.push_back(random_floats(size_t(sizes[k]), 20 + k));
      g.push_back(random_floats(size_t(sizes[k]), 30 + k));
      b0.push_back(random_floats(size_t(sizes[k]), 40 + k));
      b1.push_back(std::vector<float>(size_t(sizes[k]), 0.25f));
    }
    for (size_t k = 0; k < 4; ++k) {
      OptimSlot<float> s;
      s.p = p[k].data(); s.g = g[k].data(); s.b0 = b0[k].data(); s.b1 = b1[k].data(); s.n = sizes[k];
      s.step_size = 1e-3 / (1 - 0.9); s.inv_bc2_sqrt = 1 / std::sqrt(1 - 0.999);
      slots.push_back(s);
    }
    AdamArgs a;
    a.l2 = 1e-4;
    a.threads = t;
    adam_step_cpu<float>(slots.data(), int64_t(slots.size()), a);
    p.insert(p.end(), b0.begin(), b0.end());
    p.insert(p.end(), b1.begin(), b1.end());
    return p;
  };
  const auto one = run(1);
  for (int t : kThreads) {
    INFO("threads ", t);
    CHECK(run(t) == one);
  }
}

// The fused squeeze-excitation and add+ReLU (kernels/se): the passes over x split by (n, c) rows or element
// ranges; every output bit the same on 2, 3 and 5 threads as on 1, at a batch-1 ResNetSE34L layer-1 shape.
TEST_CASE("CPU squeeze_excite and add_relu: the thread split changes no bit") {
  const int64_t N = 1, C = 16, S = 40 * 301 / 2, R = 2;
  const auto x = random_floats(size_t(N * C * S), 50), dy = random_floats(size_t(N * C * S), 51),
             w1 = random_floats(size_t(R * C), 52), b1 = random_floats(size_t(R), 53),
             w2 = random_floats(size_t(C * R), 54), b2 = random_floats(size_t(C), 55);
  auto run = [&](int t) {
    std::vector<float> y(x.size()), pooled(size_t(N * C)), hidden(size_t(N * R)), scale(size_t(N * C)),
        dx(x.size()), dw1(w1.size()), db1(b1.size()), dw2(w2.size()), db2(b2.size()), ar(x.size()), dar(x.size());
    squeeze_excite_forward_cpu<float>(x.data(), w1.data(), b1.data(), w2.data(), b2.data(), y.data(), pooled.data(),
                                      hidden.data(), scale.data(), N, C, S, R, t);
    squeeze_excite_backward_cpu<float>(x.data(), dy.data(), w1.data(), w2.data(), pooled.data(), hidden.data(),
                                       scale.data(), dx.data(), dw1.data(), db1.data(), dw2.data(), db2.data(), N, C,
                                       S, R, t);
    add_relu_forward_cpu<float>(x.data(), dy.data(), ar.data(), int64_t(x.size()), t);
    add_relu_backward_cpu<float>(ar.data(), dy.data(), dar.data(), int64_t(x.size()), t);
    return std::vector<std::vector<float>>{y, pooled, scale, dx, dw1, db1, dw2, db2, ar, dar};
  };
  const auto one = run(1);
  for (int t : kThreads) {
    INFO("threads ", t);
    CHECK(run(t) == one);
  }
}
