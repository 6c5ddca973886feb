// CPU pooling on the pools of the 2-d nets (VGGVox's max pools, the (5,1) frequency average of the
// ResNetSE34L-derived TDNN, an SE-style global average). Pools are memory-bound: read the GB/s column
// (compulsory traffic: x and y forward; dy, dx and the argmax indices backward).
#include <memory>
#include <string>

#include "bench.h"
#include "engine/cpu_threads.h"
#include "kernels/pool/pool.h"

namespace {

enum class Kind { max, avg, adaptive };

struct PoolCase {
  const char* where;
  Kind kind;
  spk::PoolGeom g;   // for adaptive: output size in (KH, KW), strides and padding unused
};

spk::PoolGeom pg(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                 int64_t ph, int64_t pw) {
  spk::PoolGeom g;
  g.N = N; g.C = C; g.H = H; g.W = W; g.KH = kh; g.KW = kw; g.stride_h = sh; g.stride_w = sw; g.pad_h = ph; g.pad_w = pw;
  return g;
}

const PoolCase kCases[] = {
    {"VGGVox pool1", Kind::max, pg(16, 96, 40, 100, 1, 3, 1, 2, 0, 0)},
    {"VGGVox pool2", Kind::max, pg(16, 256, 19, 24, 3, 3, 2, 2, 0, 0)},
    {"TDNN (5,1) freq average", Kind::avg, pg(16, 128, 5, 51, 5, 1, 5, 1, 0, 0)},
    {"SE squeeze (global mean)", Kind::adaptive, pg(16, 16, 20, 202, 1, 1, 1, 1, 0, 0)},
};

int64_t out_h(const PoolCase& c) { return c.kind == Kind::adaptive ? c.g.KH : c.g.H_out(); }
int64_t out_w(const PoolCase& c) { return c.kind == Kind::adaptive ? c.g.KW : c.g.W_out(); }

std::string describe(const PoolCase& c) {
  auto s = [](int64_t v) { return std::to_string(v); };
  const spk::PoolGeom& g = c.g;
  std::string head = c.kind == Kind::max ? "max_pool2d" : c.kind == Kind::avg ? "avg_pool2d" : "adaptive_avg_pool2d";
  std::string win = c.kind == Kind::adaptive ? "" : ",k=" + s(g.KH) + "x" + s(g.KW) + ",s=" + s(g.stride_h) + "x" +
                                                        s(g.stride_w);
  return head + "(N=" + s(g.N) + ",C=" + s(g.C) + ",in=" + s(g.H) + "x" + s(g.W) + win + ",out=" + s(out_h(c)) +
         "x" + s(out_w(c)) + ")";
}

struct PoolBuffers {
  PoolCase c;
  std::vector<float> x, y, dy, dx;
  std::vector<int64_t> idx;
  explicit PoolBuffers(const PoolCase& pc) : c(pc) {
    const size_t xn = size_t(c.g.N * c.g.C * c.g.H * c.g.W), yn = size_t(c.g.N * c.g.C * out_h(c) * out_w(c));
    x = spk::bench::random_floats(xn, 1);
    dy = spk::bench::random_floats(yn, 2);
    y.resize(yn); dx.resize(xn); idx.resize(yn);
  }
  void run(bool backward) {
    const spk::PoolGeom& g = c.g;
    const int threads = spk::cpu_threads();
    switch (c.kind) {
      case Kind::max:
        spk::max_pool2d_forward_cpu<float>(g, x.data(), y.data(), idx.data(), threads);
        if (backward) spk::max_pool2d_backward_cpu<float>(g, dy.data(), idx.data(), dx.data(), threads);
        break;
      case Kind::avg:
        spk::avg_pool2d_forward_cpu<float>(g, x.data(), y.data(), threads);
        if (backward) spk::avg_pool2d_backward_cpu<float>(g, dy.data(), dx.data(), threads);
        break;
      case Kind::adaptive:
        spk::adaptive_avg_pool2d_forward_cpu<float>(x.data(), y.data(), g.N, g.C, g.H, g.W, g.KH, g.KW, threads);
        if (backward)
          spk::adaptive_avg_pool2d_backward_cpu<float>(dy.data(), dx.data(), g.N, g.C, g.H, g.W, g.KH, g.KW, threads);
        break;
    }
  }
};

}  // namespace

SPK_BENCH_ENTRIES(pool_entries) {
  for (bool backward : {false, true})
    for (const PoolCase& c : kCases) {
      const double xn = double(c.g.N * c.g.C * c.g.H * c.g.W), yn = double(c.g.N * c.g.C * out_h(c) * out_w(c));
      const double idx_bytes = c.kind == Kind::max ? 8.0 * yn : 0.0;
      spk::bench::Entry e;
      e.op = describe(c);
      e.variant = backward ? "cpu fwd+bwd" : "cpu fwd";
      e.bytes = 4.0 * (xn + yn) + idx_bytes + (backward ? 4.0 * (yn + xn) + idx_bytes : 0.0);
      e.note = c.where;
      e.setup = [c, backward] {
        auto b = std::make_shared<PoolBuffers>(c);
        return std::function<void()>([b, backward] { b->run(backward); });
      };
      spk::bench::add(std::move(e));
    }
}
