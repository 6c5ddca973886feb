// The CUDA conv's host-side logic, checked without a GPU (every build runs these):
//   - the implicit-GEMM kernel emulated on the CPU: the same tile plan, block jobs, tile-loading maps, gathers
//     and epilogue stores as kernels/conv/conv_cuda.cu (all from conv_cuda_igemm.h), with the wmma fragment
//     products replaced by plain loops over the same shared-memory tiles. Forward, backward-data and
//     backward-weight (with split-K and its reduction) are compared with the CPU conv in double, for every tile
//     config, on odd shapes with stride, padding, dilation and groups. Outputs are poisoned with NaN and
//     fenced with sentinels, shared tiles start as NaN: a missed write, a stray write or a read of an unloaded
//     tile entry fails. What this cannot check is wmma itself (fragment loads, mma, stores), which follows the
//     documented usage.
//   - the direct kernels' per-element bodies (conv_cuda_direct.h) with the weight gradient's shuffle tree.
//   - the TF32 tolerance the GPU parity tests use, on the emulation with TF32 rounding.
//   - the launch plan's invariants, the backend selection and its "built without cuDNN" error.
#include <cmath>
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/conv_context.h"
#include "kernels/conv/conv_cuda_direct.h"
#include "kernels/conv/conv_cuda_igemm.h"
#include "support/check.h"

using namespace spk;
namespace ci = spk::conv_igemm;

namespace {

// cvt.rna.tf32.f32: keep 10 mantissa bits, round to nearest with ties away from zero.
float to_tf32(float v) {
  if (!std::isfinite(v)) return v;
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

// The kernel, one block and one thread at a time. Barriers become phase boundaries: every thread finishes
// a phase (load, store, multiply) before any starts the next, which is what __syncthreads guarantees.
template <class Cfg, class Prob>
void emulate(const ci::Plan& pl, const Prob& prob, bool tf32) {
  struct Regs { float a[Cfg::A_PER]; float b[Cfg::B_PER]; };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t bz = 0; bz < pl.grid_z; ++bz)
    for (int64_t by = 0; by < pl.grid_y; ++by)
      for (int64_t bx = 0; bx < pl.grid_x; ++bx) {
        Prob pr = prob;
        const ci::BlockJob job = ci::block_job<Cfg>(pr, int(bx), int(by), int(bz));
        pr.set_group(job.grp);
        std::vector<float> As(2 * Cfg::BM * Cfg::LDA, nan), Bs(2 * Cfg::BK * Cfg::LDB, nan);
        float* Abuf[2] = {As.data(), As.data() + Cfg::BM * Cfg::LDA};
        float* Bbuf[2] = {Bs.data(), Bs.data() + Cfg::BK * Cfg::LDB};
        std::vector<Regs> regs(Cfg::NT);
        std::vector<float> acc(size_t(Cfg::NWARPS) * Cfg::FM * Cfg::FN * 256, 0.f);
        auto acc_of = [&](int warp, int fi, int fj) { return &acc[size_t(((warp * Cfg::FM + fi) * Cfg::FN + fj) * 256)]; };

        const int slices = (job.k_hi - job.k_lo + Cfg::BK - 1) / Cfg::BK;
        REQUIRE(slices >= 1);
        for (int t = 0; t < Cfg::NT; ++t) ci::load_slices<Cfg>(pr, job, t, job.k_lo, regs[t].a, regs[t].b);
        for (int t = 0; t < Cfg::NT; ++t) ci::store_slices<Cfg, Prob::kBFixK>(t, regs[t].a, regs[t].b, Abuf[0], Bbuf[0]);
        for (int s = 0; s < slices; ++s) {
          const int cur = s & 1;
          const bool more = s + 1 < slices;
          if (more)
            for (int t = 0; t < Cfg::NT; ++t)
              ci::load_slices<Cfg>(pr, job, t, job.k_lo + (s + 1) * Cfg::BK, regs[t].a, regs[t].b);
          for (int warp = 0; warp < Cfg::NWARPS; ++warp) {
            int wm0, wn0;
            ci::warp_origin<Cfg>(warp, wm0, wn0);
            for (int kk = 0; kk < Cfg::BK; kk += 8)
              for (int fi = 0; fi < Cfg::FM; ++fi)
                for (int fj = 0; fj < Cfg::FN; ++fj) {
                  // The operands exactly as load_matrix_sync reads them: row-major with the kernel's pitches.
                  const float* a = Abuf[cur] + (wm0 + fi * 16) * Cfg::LDA + kk;
                  const float* b = Bbuf[cur] + kk * Cfg::LDB + wn0 + fj * 16;
                  float* c = acc_of(warp, fi, fj);
                  for (int r = 0; r < 16; ++r)
                    for (int col = 0; col < 16; ++col) {
                      float sum = c[r * 16 + col];
                      for (int q = 0; q < 8; ++q) {
                        const float av = a[r * Cfg::LDA + q], bv = b[q * Cfg::LDB + col];
                        sum += tf32 ? to_tf32(av) * to_tf32(bv) : av * bv;
                      }
                      c[r * 16 + col] = sum;
                    }
                }
          }
          if (more)
            for (int t = 0; t < Cfg::NT; ++t)
              ci::store_slices<Cfg, Prob::kBFixK>(t, regs[t].a, regs[t].b, Abuf[cur ^ 1], Bbuf[cur ^ 1]);
        }
        for (int warp = 0; warp < Cfg::NWARPS; ++warp)
          for (int fi = 0; fi < Cfg::FM; ++fi)
            for (int fj = 0; fj < Cfg::FN; ++fj)
              for (int lane = 0; lane < 32; ++lane)
                ci::store_fragment<Cfg>(pr, job, warp, fi, fj, acc_of(warp, fi, fj), lane);
      }
}

template <class Prob>
void emulate_cfg(const ci::Plan& pl, const Prob& pr, bool tf32) {
  switch (pl.cfg) {
    case 0: emulate<ci::CfgSmall>(pl, pr, tf32); break;
    case 1: emulate<ci::CfgMedium>(pl, pr, tf32); break;
    default: emulate<ci::CfgLarge>(pl, pr, tf32); break;
  }
}

// An output buffer poisoned with NaN between two fences of sentinels.
struct Fenced {
  static constexpr size_t kFence = 4096;
  static constexpr float kSentinel = 12345.f;
  std::vector<float> buf;
  explicit Fenced(size_t n) : buf(n + 2 * kFence, kSentinel) {
    std::fill(buf.begin() + kFence, buf.end() - kFence, std::numeric_limits<float>::quiet_NaN());
  }
  float* data() { return buf.data() + kFence; }
  std::vector<double> values() const {
    return std::vector<double>(buf.begin() + kFence, buf.end() - kFence);
  }
  void check_fences(const std::string& what) const {
    int64_t bad = 0;
    for (size_t i = 0; i < kFence; ++i) bad += (buf[i] != kSentinel) + (buf[buf.size() - 1 - i] != kSentinel);
    CHECK_MESSAGE(bad == 0, what << ": " << bad << " writes outside the output");
  }
};

struct Case {
  const char* name;
  ConvGeom g;
  bool bias;
};

ConvGeom geom2d(int64_t N, int64_t C_in, int64_t H, int64_t W, int64_t C_out, int64_t KH, int64_t KW, int64_t sh,
                int64_t sw, int64_t ph, int64_t pw, int64_t dh = 1, int64_t dw = 1, int64_t groups = 1) {
  ConvGeom g;
  g.N = N; g.C_in = C_in; g.H = H; g.W = W; g.C_out = C_out; g.KH = KH; g.KW = KW;
  g.stride_h = sh; g.stride_w = sw; g.pad_h = ph; g.pad_w = pw; g.dil_h = dh; g.dil_w = dw; g.groups = groups;
  return g;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> c{
      {"3x3 s1 p1 odd, bias", geom2d(2, 5, 7, 9, 6, 3, 3, 1, 1, 1, 1), true},
      {"3x3 s2 p1 odd", geom2d(3, 4, 9, 11, 7, 3, 3, 2, 2, 1, 1), false},
      {"3x2 groups 2, dil (2,1), pad (2,0), stride (1,2), bias", geom2d(2, 6, 8, 10, 4, 3, 2, 1, 2, 2, 0, 2, 1, 2), true},
      {"1x1 s2 downsample, C_out 33", geom2d(2, 16, 9, 13, 33, 1, 1, 2, 2, 0, 0), false},
      {"7x7 stem C_in 1, s (2,1) p3", geom2d(2, 1, 12, 15, 16, 7, 7, 2, 1, 3, 3), false},
      {"conv1d k5 d3 p6, C_out 70, bias", conv1d_geom(2, 20, 37, 70, 5, 1, 6, 3, 1), true},
      {"3x3 p1 K 216, several N tiles and K splits", geom2d(4, 24, 10, 12, 40, 3, 3, 1, 1, 1, 1), false},
  };
  return c;
}

struct Data {
  std::vector<float> x, w, b, dy;
};

Data make_data(const ConvGeom& g, uint64_t seed) {
  Rng rng(seed);
  auto fill = [&](int64_t n) { return Tensor::uniform({n}, rng, -1, 1, DType::f32).to_vector<float>(); };
  Data d;
  d.x = fill(g.N * g.C_in * g.H * g.W);
  d.w = fill(g.C_out * g.K_g());
  d.b = fill(g.C_out);
  d.dy = fill(g.N * g.C_out * g.H_out() * g.W_out());
  return d;
}

std::vector<double> to_d(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// The CPU conv in double: the reference for every pass.
struct Ref { std::vector<double> y, dx, dw; };
Ref reference(const ConvGeom& g, const Data& d, bool bias) {
  const std::vector<double> x = to_d(d.x), w = to_d(d.w), b = to_d(d.b), dy = to_d(d.dy);
  Ref r{std::vector<double>(dy.size()), std::vector<double>(x.size()), std::vector<double>(w.size())};
  conv2d_forward_cpu<double>(g, x.data(), w.data(), bias ? b.data() : nullptr, r.y.data(), conv_cpu_call_options());
  conv2d_backward_cpu<double>(g, x.data(), w.data(), dy.data(), r.dx.data(), r.dw.data(), nullptr,
                              conv_cpu_call_options());
  return r;
}

// Runs one pass of the emulated kernel into a fenced buffer and returns its values.
std::vector<double> run_pass(const ConvGeom& cg, Data& d, bool bias, ci::Pass pass, int cfg, int sms, bool tf32,
                             const std::string& what, int* splits_out = nullptr) {
  const ci::Geom g = ci::make_geom(cg);
  const ci::Plan pl = ci::plan(g, pass, sms, cfg);
  if (splits_out) *splits_out = pl.dims.splits;
  if (pass == ci::Pass::forward) {
    Fenced y(d.dy.size());
    ci::Forward pr;
    static_cast<ci::GemmDims&>(pr) = pl.dims;
    pr.g = g; pr.x = d.x.data(); pr.w = d.w.data(); pr.bias = bias ? d.b.data() : nullptr; pr.y = y.data();
    emulate_cfg(pl, pr, tf32);
    y.check_fences(what);
    return y.values();
  }
  if (pass == ci::Pass::backward_data) {
    Fenced dx(d.x.size());
    ci::BackwardData pr;
    static_cast<ci::GemmDims&>(pr) = pl.dims;
    pr.g = g; pr.w = d.w.data(); pr.dy = d.dy.data(); pr.dx = dx.data();
    emulate_cfg(pl, pr, tf32);
    dx.check_fences(what);
    return dx.values();
  }
  Fenced dw(d.w.size());
  Fenced ws(size_t(pl.workspace_floats));
  ci::BackwardWeight pr;
  static_cast<ci::GemmDims&>(pr) = pl.dims;
  pr.g = g; pr.x = d.x.data(); pr.dy = d.dy.data(); pr.dw = dw.data(); pr.ws = pl.dims.splits > 1 ? ws.data() : nullptr;
  emulate_cfg(pl, pr, tf32);
  ws.check_fences(what + " workspace");
  if (pl.dims.splits > 1) {   // splitk_reduce_kernel, in the same order
    const int64_t MN = int64_t(pl.dims.M) * pl.dims.N;
    for (int64_t i = 0; i < g.groups * MN; ++i) {
      const int64_t grp = i / MN, j = i - grp * MN;
      float s = 0.f;
      for (int64_t sp = 0; sp < pl.dims.splits; ++sp) s += ws.data()[(grp * pl.dims.splits + sp) * MN + j];
      dw.data()[i] = s;
    }
  }
  dw.check_fences(what);
  return dw.values();
}

int64_t inner_size(const ConvGeom& g, ci::Pass pass) {
  switch (pass) {
    case ci::Pass::forward: return g.K_g();
    case ci::Pass::backward_data: return g.C_out_g() * g.KH * g.KW;
    default: return g.N * g.H_out() * g.W_out();
  }
}

const char* pass_name(ci::Pass p) {
  return p == ci::Pass::forward ? "forward" : p == ci::Pass::backward_data ? "backward_data" : "backward_weight";
}

}  // namespace

TEST_CASE("conv CUDA igemm, emulated on the CPU in fp32: every pass and tile config matches the CPU conv") {
  for (const Case& c : cases()) {
    Data d = make_data(c.g, 1337);
    const Ref ref = reference(c.g, d, c.bias);
    for (ci::Pass pass : {ci::Pass::forward, ci::Pass::backward_data, ci::Pass::backward_weight})
      for (int cfg = 0; cfg < ci::kConfigs; ++cfg)
        for (int sms : {1, 132}) {   // 1 SM: no split-K; 132 (an H100): split-K where K is long enough
          if (pass != ci::Pass::backward_weight && sms == 1) continue;
          const std::string what = std::string(c.name) + " " + pass_name(pass) + " cfg " + std::to_string(cfg) +
                                   " sms " + std::to_string(sms);
          int splits = 1;
          const std::vector<double> got = run_pass(c.g, d, c.bias, pass, cfg, sms, false, what, &splits);
          const std::vector<double>& want = pass == ci::Pass::forward ? ref.y : pass == ci::Pass::backward_data ? ref.dx : ref.dw;
          // fp32 sums of K terms of magnitude <= 1 in a different order than the double reference.
          const double K = double(inner_size(c.g, pass));
          test::expect_close(Tensor::from_vector(got, {int64_t(got.size())}, DType::f64), want, 1e-5 + 1e-6 * K, 1e-5,
                             what + " (splits " + std::to_string(splits) + ")");
        }
  }
}

TEST_CASE("conv CUDA direct kernels, run on the CPU: every pass matches the CPU conv") {
  for (const Case& c : cases()) {
    Data d = make_data(c.g, 2024);
    const Ref ref = reference(c.g, d, c.bias);
    const ci::Geom g = ci::make_geom(c.g);
    std::vector<double> y(ref.y.size()), dx(ref.dx.size()), dw(ref.dw.size());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = conv_direct::forward_at(g, d.x.data(), d.w.data(), c.bias ? d.b.data() : nullptr, int64_t(i));
    for (size_t i = 0; i < dx.size(); ++i) dx[i] = conv_direct::backward_data_at(g, d.w.data(), d.dy.data(), int64_t(i));
    for (size_t i = 0; i < dw.size(); ++i) {
      float lanes[32];
      for (int l = 0; l < 32; ++l) lanes[l] = conv_direct::backward_weight_lane(g, d.x.data(), d.dy.data(), int64_t(i), l);
      for (int off = 16; off > 0; off /= 2) {   // __shfl_down_sync: a lane past the end keeps its own value
        float next[32];
        for (int l = 0; l < 32; ++l) next[l] = lanes[l] + (l + off < 32 ? lanes[l + off] : lanes[l]);
        std::copy(next, next + 32, lanes);
      }
      dw[i] = lanes[0];
    }
    const std::string what = std::string(c.name) + " direct";
    auto t = [](const std::vector<double>& v) { return Tensor::from_vector(v, {int64_t(v.size())}, DType::f64); };
    test::expect_close(t(y), ref.y, 1e-5 + 1e-6 * double(inner_size(c.g, ci::Pass::forward)), 1e-5, what + " forward");
    test::expect_close(t(dx), ref.dx, 1e-5 + 1e-6 * double(inner_size(c.g, ci::Pass::backward_data)), 1e-5,
                       what + " backward_data");
    test::expect_close(t(dw), ref.dw, 1e-5 + 1e-6 * double(inner_size(c.g, ci::Pass::backward_weight)), 1e-5,
                       what + " backward_weight");
  }
}

TEST_CASE("conv CUDA igemm: backward_weight really splits K on a GPU-sized plan") {
  const Case& c = cases().back();
  Data d = make_data(c.g, 7);
  int splits = 0;
  run_pass(c.g, d, false, ci::Pass::backward_weight, -1, 132, false, "split probe", &splits);
  CHECK(splits > 1);
}

// The parity tests' TF32 tolerance (tests/kernels/test_cuda_parity_conv.cpp) on the emulated TF32 products:
// |err| <= 2e-3·sqrt(K) + 1e-3·|ref| for inputs in [-1, 1). Each product carries up to 2·2^-11 relative
// rounding error (both operands rounded to 10 mantissa bits), random in sign, so the sum's error grows like
// sqrt(K)·1e-4; the bound leaves a wide margin while a wrong tap (an error of order one term) still fails.
TEST_CASE("conv CUDA igemm, emulated with TF32 rounding: within the parity tests' TF32 tolerance") {
  for (const Case& c : cases()) {
    Data d = make_data(c.g, 99);
    const Ref ref = reference(c.g, d, c.bias);
    for (ci::Pass pass : {ci::Pass::forward, ci::Pass::backward_data, ci::Pass::backward_weight}) {
      const std::string what = std::string(c.name) + " " + pass_name(pass) + " tf32";
      const std::vector<double> got = run_pass(c.g, d, c.bias, pass, -1, 132, true, what);
      const std::vector<double>& want = pass == ci::Pass::forward ? ref.y : pass == ci::Pass::backward_data ? ref.dx : ref.dw;
      const double K = double(inner_size(c.g, pass));
      test::expect_close(Tensor::from_vector(got, {int64_t(got.size())}, DType::f64), want, 2e-3 * std::sqrt(K), 1e-3,
                         what);
    }
  }
}

TEST_CASE("conv CUDA plan: tiles cover the GEMM, K slices are whole BK multiples and none is empty") {
  const ConvGeom shapes[] = {
      geom2d(16, 1, 40, 202, 16, 7, 7, 2, 1, 3, 3),        // ResNetSE34L stem
      geom2d(16, 16, 20, 202, 16, 3, 3, 1, 1, 1, 1),       // layer1
      geom2d(16, 64, 5, 51, 128, 3, 3, 1, 1, 1, 1),        // layer4.0
      geom2d(128, 256, 10, 400, 256, 3, 3, 2, 2, 1, 1),    // ResNetSE34V2 deep stage, strided
      conv1d_geom(64, 1024, 300, 1024, 3, 1, 4, 4, 1),     // ECAPA dilated
      conv1d_geom(64, 3072, 300, 1536, 1, 1, 0, 1, 1),     // ECAPA MFA 1x1
      conv1d_geom(1, 3, 5, 2, 3, 1, 0, 1, 1),              // tiny
      geom2d(2, 6, 8, 10, 4, 3, 2, 1, 2, 2, 0, 2, 1, 2),   // groups
  };
  for (const ConvGeom& cg : shapes)
    for (ci::Pass pass : {ci::Pass::forward, ci::Pass::backward_data, ci::Pass::backward_weight})
      for (int sms : {1, 132}) {
        const ci::Geom g = ci::make_geom(cg);
        const ci::Plan pl = ci::plan(g, pass, sms);
        INFO(std::string(pass_name(pass)) << " M " << pl.dims.M << " N " << pl.dims.N << " K " << pl.dims.K << " splits "
                             << pl.dims.splits << " kps " << pl.dims.k_per_split << " sms " << sms);
        const int BM = ci::kTileBM[pl.cfg], BN = ci::kTileBN[pl.cfg];
        CHECK(pl.grid_x * BN >= pl.dims.N);
        CHECK((pl.grid_x - 1) * BN < pl.dims.N);
        CHECK(pl.grid_y * BM >= pl.dims.M);
        CHECK((pl.grid_y - 1) * BM < pl.dims.M);
        CHECK(pl.dims.k_per_split % ci::kBK == 0);
        CHECK(int64_t(pl.dims.splits) * pl.dims.k_per_split >= pl.dims.K);
        CHECK(int64_t(pl.dims.splits - 1) * pl.dims.k_per_split < pl.dims.K);
        CHECK(pl.grid_z == int64_t(g.groups) * pl.dims.splits);
        CHECK(pl.grid_y <= 65535);
        CHECK(pl.grid_z <= 65535);
        CHECK(pl.workspace_floats == (pl.dims.splits > 1 ? int64_t(g.groups) * pl.dims.splits * pl.dims.M * pl.dims.N : 0));
        if (pass != ci::Pass::backward_weight) CHECK(pl.dims.splits == 1);
        CHECK(pl.dims.splits <= std::max<int64_t>(1, (int64_t(ci::kBlocksPerSm) * sms + pl.grid_x * pl.grid_y - 1) / (pl.grid_x * pl.grid_y)));
        CHECK(pl.cfg == ci::pick_config(pl.dims.M));
      }
  // ECAPA's weight gradient has only 4x12 tiles per pass: split-K must raise it towards 4 blocks per SM.
  const ci::Plan ecapa = ci::plan(ci::make_geom(shapes[4]), ci::Pass::backward_weight, 132);
  CHECK(ecapa.dims.splits > 1);
  CHECK(ecapa.grid_x * ecapa.grid_y * ecapa.grid_z >= 2 * 132);
}

TEST_CASE("conv CUDA FastDiv: equals integer division for every divisor and dividend the kernels can meet") {
  std::vector<int> divisors;
  for (int d = 1; d <= 4096; ++d) divisors.push_back(d);
  for (int e = 12; e <= 30; ++e)
    for (int delta : {-1, 0, 1}) divisors.push_back(int((int64_t(1) << e) + delta));
  divisors.push_back(2147483647);
  Rng rng(5);
  int64_t bad = 0, checked = 0;
  for (int d : divisors) {
    const ci::FastDiv f(d);
    std::vector<int64_t> ns{0, 1, 2, d - 1, d, int64_t(d) + 1, 2147483647, 2147483646, 1 << 30, (1 << 30) - 1};
    for (int64_t k : {int64_t(2), int64_t(3), int64_t(1000), int64_t(2147483647) / d})
      for (int64_t delta : {-1, 0, 1}) ns.push_back(k * d + delta);
    for (int i = 0; i < 64; ++i) ns.push_back(rng.randint(0, 2147483647));
    for (int64_t n : ns) {
      if (n < 0 || n > 2147483647) continue;
      ++checked;
      if (f.div(int(n)) != int(n / d)) {
        if (bad++ < 5) MESSAGE("FastDiv(" << d << ").div(" << n << ") = " << f.div(int(n)) << ", want " << n / d);
      }
    }
  }
  CHECK(bad == 0);
  CHECK(checked > 100000);
}

TEST_CASE("conv CUDA plan: sizes beyond 32-bit indexing are refused with the geometry in the message") {
  const ConvGeom huge = geom2d(65536, 1, 128, 128, 1, 1, 1, 1, 1, 0, 0);   // N·H_out·W_out = 2^30
  CHECK_THROWS_WITH_AS(ci::make_geom(huge), doctest::Contains("32-bit"), Error);
}

TEST_CASE("conv CUDA: tiny convs take the direct kernel under the automatic choice, forced choices win") {
  const ConvGeom tiny = conv1d_geom(1, 3, 5, 2, 3, 1, 0, 1, 1);
  const ConvGeom big = geom2d(16, 16, 20, 202, 16, 3, 3, 1, 1, 1, 1);
  CHECK(ci::use_direct(tiny, ConvCudaAlgo::automatic));
  CHECK_FALSE(ci::use_direct(big, ConvCudaAlgo::automatic));
  CHECK_FALSE(ci::use_direct(tiny, ConvCudaAlgo::igemm));
  CHECK(ci::use_direct(big, ConvCudaAlgo::direct));
}

TEST_CASE("conv CUDA backend selection: names, the cuDNN build flag, errors") {
  CHECK(parse_conv_backend("spk") == ConvCudaBackend::spk);
  CHECK(std::string(conv_backend_name(ConvCudaBackend::spk)) == "spk");
  CHECK(std::string(conv_backend_name(ConvCudaBackend::cudnn)) == "cudnn");
  CHECK_THROWS_WITH_AS(parse_conv_backend("cuda"), doctest::Contains("unknown name \"cuda\""), Error);
  CHECK_THROWS_WITH_AS(parse_conv_backend(nullptr), doctest::Contains("spk or cudnn"), Error);
  const ConvCudaBackend saved = conv_cuda_options().backend;
  if (conv_cudnn_built()) {
    CHECK(parse_conv_backend("cudnn") == ConvCudaBackend::cudnn);
    set_conv_backend("cudnn");
    CHECK(conv_cuda_options().backend == ConvCudaBackend::cudnn);
  } else {
    CHECK_THROWS_WITH_AS(set_conv_backend("cudnn"), doctest::Contains("built without cuDNN"), Error);
    CHECK(conv_cuda_options().backend == saved);   // a refused choice changes nothing
  }
  set_conv_backend("spk");
  CHECK(conv_cuda_options().backend == ConvCudaBackend::spk);
  conv_cuda_options().backend = saved;
#if !SPK_HAVE_CUDA
  CHECK_FALSE(conv_cudnn_built());   // cuDNN is only looked for in CUDA builds
#endif
}
