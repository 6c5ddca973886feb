// SincNet ops (sinc_filters, sinc_conv1d) and layers (SincConv1d, InstanceNorm1d): the filters against a direct
// double computation of the windowed band-pass impulse responses (both conventions), finite-difference gradient
// checks in double, goldens from PyTorch autograd on the reference formulas (scripts/make_sinc_golden.py), the
// references' mel initialisation, parameter names, and the errors for bad options.
#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>

#include "engine/layers.h"
#include "support/check.h"

using namespace spk;
using test::gradcheck;

namespace {

constexpr double kPi = std::numbers::pi;

Tensor col(const std::vector<double>& v) { return Tensor::from_vector(v, {int64_t(v.size()), 1}, DType::f64); }

SincOptions opts(SincConvention c, int64_t K, int64_t stride = 1, int64_t padding = 0) {
  SincOptions o;
  o.convention = c;
  o.kernel_size = K;
  o.stride = stride;
  o.padding = padding;
  return o;
}

// The filters by their definition: the band-pass 2b·sinc(2πb·m/fs) − 2a·sinc(2πa·m/fs) (cosine) or its
// quadrature partner (cos(2πa·m/fs) − cos(2πb·m/fs))/(πm/fs) (sine), m = j − H, times the full symmetric
// window, divided by 2(b − a). Window: sincnet's torch.linspace-based half window mirrored, asteroid's
// np.hamming(K). No shortcut of the kernels (half + mirror, t/2 form) is used.
std::vector<double> direct_filters(const std::vector<double>& low, const std::vector<double>& band,
                                   const SincOptions& o) {
  const int64_t K = o.kernel_size, H = K / 2, C = int64_t(low.size());
  const double fs = o.sample_rate;
  const bool ast = o.convention == SincConvention::asteroid;
  auto window = [&](int64_t j) {   // j in [0, K)
    if (ast) return 0.54 - 0.46 * std::cos(2 * kPi * double(j) / double(K - 1));
    if (j == H) return 1.0;   // the centre tap is not windowed (it is 2·band / 2·band)
    const int64_t jl = j < H ? j : K - 1 - j;
    std::vector<double> lin(static_cast<size_t>(H));
    // torch.linspace(0, K/2 - 1, steps=H): [0] when H == 1.
    for (int64_t i = 0; i < H; ++i) lin[size_t(i)] = H > 1 ? (double(K) / 2 - 1) * double(i) / double(H - 1) : 0.0;
    return 0.54 - 0.46 * std::cos(2 * kPi * lin[size_t(jl)] / double(K));
  };
  std::vector<double> out(size_t((ast ? 2 : 1) * C * K));
  for (int64_t c = 0; c < C; ++c) {
    const double a = o.min_low_hz + std::abs(low[size_t(c)]);
    const double b = std::clamp(a + o.min_band_hz + std::abs(band[size_t(c)]), o.min_low_hz, fs / 2);
    for (int64_t j = 0; j < K; ++j) {
      const double m = double(j - H);
      double hc, hs;
      if (m == 0) {
        hc = 2 * (b - a);
        hs = 0;
      } else {
        const double xa = 2 * kPi * a * m / fs, xb = 2 * kPi * b * m / fs;
        hc = 2 * b * std::sin(xb) / xb - 2 * a * std::sin(xa) / xa;
        hs = (std::cos(xa) - std::cos(xb)) / (kPi * m / fs);
      }
      out[size_t(c * K + j)] = hc * window(j) / (2 * (b - a));
      if (ast) out[size_t((C + c) * K + j)] = hs * window(j) / (2 * (b - a));
    }
  }
  return out;
}

std::map<std::string, std::vector<double>> read_golden(const std::string& name) {
  const std::string path = std::string(SPK_TEST_DATA_DIR) + "/sinc/" + name + ".txt";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::map<std::string, std::vector<double>> m;
  std::string key;
  size_t n = 0;
  while (in >> key >> n) {
    std::vector<double> v(n);
    for (double& e : v) in >> e;
    REQUIRE_MESSAGE(in.good(), path << ": section " << key << " is short");
    m[key] = std::move(v);
  }
  REQUIRE_MESSAGE(m.count("dx") == 1, path << ": no dx section");
  return m;
}

}  // namespace

TEST_CASE("sinc_filters match the direct band-pass computation (sincnet and asteroid, K 3/17/251)") {
  for (SincConvention c : {SincConvention::sincnet, SincConvention::asteroid})
    for (int64_t K : {int64_t(3), int64_t(17), int64_t(251)}) {
      const SincOptions o = opts(c, K);
      // Mixed signs (|.|), a band reaching past fs/2 (clamp), low cut-offs from 0 to 7000 Hz.
      const std::vector<double> low{0, 30, -400, 1500, 7000}, band{100, -700, 2500, 40, 5000};
      Tensor f = sinc_filters(col(low), col(band), o);
      const int64_t F = c == SincConvention::asteroid ? 10 : 5;
      CHECK(f.shape() == Shape{F, K});
      test::expect_close(f, direct_filters(low, band, o), 1e-12, 1e-10,
                         std::string(c == SincConvention::asteroid ? "asteroid" : "sincnet") + " K " +
                             std::to_string(K));
    }
}

TEST_CASE("sinc_filters f32 rounds the double filters") {
  const SincOptions o = opts(SincConvention::asteroid, 251);
  const std::vector<double> low{30, 652, 3000}, band{622, 1153, 900};
  Tensor f = sinc_filters(col(low).to(DType::f32), col(band).to(DType::f32), o);
  CHECK(f.dtype() == DType::f32);
  test::expect_close(f.to(DType::f64), direct_filters(low, band, o), 1e-6, 1e-5, "f32 asteroid K 251");
}

SPK_GRADCHECK_CASE(sinc_filters, "both conventions, signs, an active clamp, K 9") {
  for (SincConvention c : {SincConvention::sincnet, SincConvention::asteroid}) {
    Tensor low = col({-120, 700, 3100, 5000}), band = col({300, -90, 1200, 6000});   // 5000 + 6000 > fs/2
    low.set_requires_grad(true);
    band.set_requires_grad(true);
    const SincOptions o = opts(c, 9);
    gradcheck([o](auto& in) { return sinc_filters(in[0], in[1], o); }, {low, band}, {1e-4, 1e-6, 1e-5});
  }
}

SPK_GRADCHECK_CASE(sinc_conv1d, "x, low_hz, band_hz; stride 2 padding 3; both conventions") {
  Rng rng(11);
  for (SincConvention c : {SincConvention::sincnet, SincConvention::asteroid}) {
    Tensor x = test::rand_input({2, 1, 40}, rng);
    Tensor low = col({80, 1000, 4000}), band = col({-200, 600, 2500});
    low.set_requires_grad(true);
    band.set_requires_grad(true);
    const SincOptions o = opts(c, 11, 2, 3);
    gradcheck([o](auto& in) { return sinc_conv1d(in[0], in[1], in[2], o); }, {x, low, band}, {1e-4, 1e-6, 1e-5});
  }
}

TEST_CASE("sinc_conv1d equals conv1d with the sinc_filters") {
  Rng rng(3);
  Tensor x = test::rand_input({3, 1, 100}, rng);
  auto [low, band] = sinc_init_cutoffs(4, SincOptions{}, DType::f64);
  for (SincConvention c : {SincConvention::sincnet, SincConvention::asteroid}) {
    const SincOptions o = opts(c, 21, 4, 5);
    Tensor f = sinc_filters(low, band, o);
    Tensor ref = conv1d(x, reshape(f, {f.size(0), 1, 21}), Tensor(), 4, 5);
    test::expect_close(sinc_conv1d(x, low, band, o), ref, 1e-14, 1e-12, "sinc_conv1d vs conv1d");
  }
}

TEST_CASE("sinc goldens: PyTorch autograd on the pyannote and asteroid formulas") {
  for (const char* name : {"sincnet_c6_k17", "asteroid_f8_k17", "sincnet_c4_k251"}) {
    INFO(name);
    auto g = read_golden(name);
    const auto& meta = g["meta"];
    SincOptions o = opts(meta[0] == 0 ? SincConvention::sincnet : SincConvention::asteroid, int64_t(meta[1]),
                         int64_t(meta[2]), int64_t(meta[3]));
    o.sample_rate = meta[4];
    o.min_low_hz = meta[5];
    o.min_band_hz = meta[6];
    const int64_t C = int64_t(meta[7]), N = int64_t(meta[8]), L = int64_t(meta[9]);
    // The references' own initialisation (f32 parameters; asteroid's mel grid is f32 too).
    auto [il, ib] = sinc_init_cutoffs(C, o, DType::f64);
    test::expect_close(il, g["init_low"], 0, 2e-6, std::string(name) + " init low_hz_");
    test::expect_close(ib, g["init_band"], 0, 2e-5, std::string(name) + " init band_hz_");

    Tensor low = col(g["low"]), band = col(g["band"]);
    low.set_requires_grad(true);
    band.set_requires_grad(true);
    Tensor x = Tensor::from_vector(g["x"], {N, 1, L}, DType::f64);
    x.set_requires_grad(true);
    test::expect_close(sinc_filters(low, band, o), g["filters"], 1e-12, 1e-9, std::string(name) + " filters");
    Tensor y = sinc_conv1d(x, low, band, o);
    test::expect_close(y, g["y"], 1e-12, 1e-9, std::string(name) + " y");
    Tensor wy = Tensor::from_vector(g["wy"], y.shape(), DType::f64);
    sum(mul(y, wy)).backward();
    test::expect_close(low.grad(), g["dlow"], 1e-9, 1e-7, std::string(name) + " dlow");
    test::expect_close(band.grad(), g["dband"], 1e-9, 1e-7, std::string(name) + " dband");
    test::expect_close(x.grad(), g["dx"], 1e-12, 1e-9, std::string(name) + " dx");

    // f32 against the same numbers.
    Tensor y32 = sinc_conv1d(x.detach().to(DType::f32), low.detach().to(DType::f32), band.detach().to(DType::f32), o);
    test::expect_close(y32.to(DType::f64), g["y"], 2e-5, 1e-4, std::string(name) + " y f32");
  }
}

TEST_CASE("SincConv1d: state names, shapes and mel initialisation as pyannote / asteroid") {
  Rng rng(1);
  SincConv1d s(80);   // pyannote SincConv1d(1, 80, 251)
  const NamedTensors st = s.state();
  REQUIRE(st.size() == 2);
  CHECK(st[0].first == "low_hz_");
  CHECK(st[1].first == "band_hz_");
  CHECK(s.low_hz_.shape() == Shape{80, 1});
  CHECK(s.out_channels() == 80);
  CHECK(slice(s.low_hz_, 0, 0, 1).item() == doctest::Approx(30).epsilon(1e-6));   // first edge: 30 Hz
  // The last high edge: fs/2 − (min_low_hz + min_band_hz) = 7900 Hz.
  Tensor last_high = add(slice(s.low_hz_, 0, 79, 80), slice(s.band_hz_, 0, 79, 80));
  CHECK(last_high.item() == doctest::Approx(7900).epsilon(1e-6));

  SincOptions a;
  a.convention = SincConvention::asteroid;
  a.kernel_size = 250;   // even: rounded up, as ParamSincFB does
  SincConv1d r(256, a);  // RawNet3: ParamSincFB(C // 4 = 256, 251)
  CHECK(r.low_hz_.shape() == Shape{128, 1});
  // ParamSincFB's state_dict: low_hz_, band_hz_, then its buffers window_ (125) and n_ (1, 125), f32.
  const NamedTensors rs = r.state();
  REQUIRE(rs.size() == 4);
  CHECK(rs[2].first == "window_");
  CHECK(rs[3].first == "n_");
  CHECK(r.window_.shape() == Shape{125});
  CHECK(r.n_.shape() == Shape{1, 125});
  CHECK(slice(r.window_, 0, 0, 1).item() == doctest::Approx(0.08));   // np.hamming(251)[0]
  CHECK(slice(r.n_, 1, 124, 125).item() == doctest::Approx(-2 * M_PI / 16000));
  CHECK(r.opt.kernel_size == 251);
  CHECK(r.out_channels() == 256);
  CHECK(r.filters().shape() == Shape{256, 251});
  Tensor y = r.forward(Tensor::zeros({2, 1, 400}));
  CHECK(y.shape() == Shape{2, 256, 150});
  CHECK_THROWS_WITH_AS(SincConv1d(255, a), doctest::Contains("must be even with the asteroid convention"), Error);
}

TEST_CASE("sinc errors name the option") {
  SincOptions o;
  o.init_low_hz = 0;
  CHECK_THROWS_WITH_AS(SincConv1d(8, o), doctest::Contains("SincOptions.init_low_hz 0 must lie in (0, sample_rate/2"),
                       Error);
  o = SincOptions{};
  o.init_high_hz = 9000;
  CHECK_THROWS_WITH_AS(sinc_init_cutoffs(8, o), doctest::Contains("SincOptions.init_high_hz 9000 must lie in (0"),
                       Error);
  o = SincOptions{};
  o.sample_rate = 200;   // fs/2 − 100 = 0: no room for the mel grid
  CHECK_THROWS_WITH_AS(SincConv1d(8, o), doctest::Contains("init_high_hz 0 (sample_rate/2 - min_low_hz - min_band_hz)"),
                       Error);
  o = SincOptions{};
  o.init_low_hz = 5000;
  o.init_high_hz = 4000;
  CHECK_THROWS_WITH_AS(sinc_init_cutoffs(8, o), doctest::Contains("init_low_hz 5000 must be below init_high_hz 4000"),
                       Error);
  Tensor low = col({100, 200}), band = col({50, 50});
  o = SincOptions{};
  o.kernel_size = 4;
  CHECK_THROWS_WITH_AS(sinc_filters(low, band, o), doctest::Contains("sinc_filters: kernel_size 4 must be odd"), Error);
  o.kernel_size = 5;
  CHECK_THROWS_WITH_AS(sinc_conv1d(Tensor::zeros({1, 2, 10}, DType::f64), low, band, o),
                       doctest::Contains("must be a mono waveform (N, 1, L)"), Error);
  CHECK_THROWS_WITH_AS(sinc_conv1d(Tensor::zeros({1, 1, 3}, DType::f64), low, band, o),
                       doctest::Contains("kernel_size 5 is longer than the padded input"), Error);
  CHECK_THROWS_WITH_AS(sinc_filters(Tensor::zeros({2}, DType::f64), band, o),
                       doctest::Contains("low_hz f64(2) cpu must be (C, 1)"), Error);
}

TEST_CASE("InstanceNorm1d: pyannote's waveform normalisation (affine, per-utterance mean/std)") {
  InstanceNorm1d norm(1, {.eps = 1e-5, .affine = true, .dtype = DType::f64});
  const NamedTensors st = norm.state();
  REQUIRE(st.size() == 2);
  CHECK(st[0].first == "weight");
  CHECK(st[1].first == "bias");
  norm.weight.fill_(2.0);
  norm.bias.fill_(0.5);
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 10, 10, 10, 14}, {2, 1, 4}, DType::f64);
  // Row 0: mean 2.5, var 1.25; row 1: mean 11, var 3.
  const double a = 1 / std::sqrt(1.25 + 1e-5), b = 1 / std::sqrt(3 + 1e-5);
  test::expect_close(norm.forward(x),
                     {2 * -1.5 * a + 0.5, 2 * -0.5 * a + 0.5, 2 * 0.5 * a + 0.5, 2 * 1.5 * a + 0.5, 2 * -1 * b + 0.5,
                      2 * -1 * b + 0.5, 2 * -1 * b + 0.5, 2 * 3 * b + 0.5},
                     1e-12, 1e-12, "instance norm");
  CHECK_THROWS_WITH_AS(norm.forward(Tensor::zeros({2, 3, 4}, DType::f64)),
                       doctest::Contains("InstanceNorm1d(1): expected (N, 1, T) input"), Error);
  CHECK(InstanceNorm1d(4).state().empty());   // affine=False: no parameters, as PyTorch
}
