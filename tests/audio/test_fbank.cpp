// fbank: the CPU reference and the Tensor op against torchaudio's outputs (golden files written by
// scripts/make_fbank_golden.py, computed in float64), the filterbanks against torchaudio's own matrices, hand-checked
// windows and frame counts, presets, and every error path. GPU checks live in test_fbank_gpu.cpp (not *_cuda.cpp, which CPU builds skip).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/audio/fbank.h"
#include "engine/cpu_threads.h"
#include "support/check.h"

using namespace spk;
using nlohmann::json;

namespace {

const std::string kDir = std::string(SPK_TEST_DATA_DIR) + "/fbank/";

std::vector<float> read_f32(const std::string& file, size_t n) {
  std::ifstream in(kDir + file, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << kDir << file);
  std::vector<float> v(n);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(float)));
  REQUIRE_MESSAGE(size_t(in.gcount()) == n * sizeof(float), kDir << file << ": expected " << n << " floats");
  return v;
}

json manifest() {
  std::ifstream in(kDir + "golden.json");
  REQUIRE_MESSAGE(in.good(), "cannot open " << kDir << "golden.json (run scripts/make_fbank_golden.py)");
  return json::parse(in);
}

FbankConfig config_from_json(const json& j) {
  FbankConfig c;
  c.mode = j.at("mode") == "kaldi" ? FbankMode::kaldi : FbankMode::torchaudio;
  c.sample_rate = 16000;
  c.n_fft = j.at("n_fft");
  c.win_length = j.at("win_length");
  c.hop_length = j.at("hop_length");
  const std::string w = j.at("window");
  c.window = w == "hamming" ? FbankWindow::hamming
             : w == "hann"  ? FbankWindow::hann
             : w == "povey" ? FbankWindow::povey
                            : FbankWindow::rectangular;
  c.center = j.value("center", true);
  c.snip_edges = j.value("snip_edges", true);
  c.remove_dc_offset = j.value("remove_dc_offset", true);
  c.preemph = j.at("preemph");
  c.n_mels = j.at("n_mels");
  c.f_min = j.at("f_min");
  c.f_max = j.at("f_max");
  c.input_scale = j.at("input_scale");
  c.energy_offset = j.at("energy_offset");
  c.energy_floor = j.at("energy_floor");
  c.log = j.at("log");
  const std::string n = j.at("norm");
  c.norm = n == "instance" ? FbankNorm::instance : n == "mean" ? FbankNorm::mean : FbankNorm::none;
  c.norm_eps = j.value("norm_eps", 1e-5);
  return c;
}

// Per-element |got - ref| <= atol + rtol·|ref|, reporting the worst element; returns the worst |got - ref|.
double check_close(const std::vector<double>& got, const std::vector<float>& ref, double atol, double rtol,
                   const std::string& what) {
  REQUIRE(got.size() == ref.size());
  size_t bad = 0, worst_i = 0;
  double worst = -1, worst_abs = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - double(ref[i])), allowed = atol + rtol * std::abs(double(ref[i]));
    if (!(err <= allowed)) ++bad;
    worst_abs = std::max(worst_abs, err);
    if (err / allowed > worst) { worst = err / allowed; worst_i = i; }
  }
  INFO(what << ": worst element " << worst_i << " got " << got[worst_i] << " expected " << ref[worst_i]
            << " (error/allowed " << worst << ", max abs error " << worst_abs << ")");
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << got.size() << " outside atol " << atol << " + rtol " << rtol);
  return worst_abs;
}

}  // namespace

// Tolerances. The golden values are torch's float64 results rounded to float32, so our float64 reference can only
// differ by that rounding (relative 2^-24 = 6e-8) plus float64 noise: rtol 1e-7. Our float path computes in double
// and rounds once at the very end (after normalisation), so it is at most two float32 roundings from the golden:
// rtol 2.5e-7. That is 400x tighter than the 1e-4 allowed, on purpose: the reference is torchaudio up to rounding,
// and a looser bound could hide a small systematic slip. Log-domain and normalised outputs also get an absolute
// 1e-7: an output near 0 (log of an energy near 1, or a value near its mean after normalisation) has no meaningful
// relative error, and an absolute error δ in a log energy is a relative error δ in the energy, which is what the
// front end promises. Linear (no-log) energies are compared relatively only.
TEST_CASE("fbank CPU reference matches torchaudio (golden files)") {
  const json m = manifest();
  for (const json& cs : m.at("cases")) {
    const std::string name = cs.at("name");
    SUBCASE(name.c_str()) {
      const FbankConfig cfg = config_from_json(cs.at("config"));
      const std::vector<std::string> sigs = cs.at("signals");
      const int64_t L = m.at("signals").at(sigs[0]).at("length"), B = int64_t(sigs.size());
      std::vector<float> wav;
      for (const auto& s : sigs) {
        auto v = read_f32(m.at("signals").at(s).at("file"), size_t(L));
        wav.insert(wav.end(), v.begin(), v.end());
      }
      const std::vector<int64_t> shape = cs.at("shape");
      REQUIRE(shape == std::vector<int64_t>{B, cfg.n_mels, fbank_frames(cfg, L)});
      const std::vector<float> ref = read_f32(cs.at("file"), size_t(B * cfg.n_mels * shape[2]));
      const bool logd = cfg.log || cfg.norm != FbankNorm::none;

      // float64 instantiation of the reference: only the golden's float32 rounding separates them.
      std::vector<double> wav64(wav.begin(), wav.end()), out64(ref.size());
      fbank_forward_cpu<double>(cfg, wav64.data(), out64.data(), B, L, cpu_threads());
      check_close(out64, ref, logd ? 1e-7 : 0, 1e-7, name + " f64 reference");

      // The f32 instantiation of the reference, batched.
      std::vector<float> out32(ref.size());
      fbank_forward_cpu<float>(cfg, wav.data(), out32.data(), B, L, cpu_threads());
      check_close(std::vector<double>(out32.begin(), out32.end()), ref, logd ? 1e-7 : 0, 2.5e-7,
                  name + " f32 reference");

      // The f32 Tensor op runs the fast float path (fbank_fast_cpu.cpp), whose float FFT has a rounding floor
      // ~140 dB below a frame's strongest bin, as the CUDA kernel's. The pure tones (chirp, sines) put Hann/povey
      // sidelobe bands up to ~170 dB below their peak, under that floor, so the op is held to the golden on the
      // noise signal (a real recording's floor is far above it: 16-bit quantisation is at -98 dB), with the float
      // budget of test_fbank_gpu.cpp (log / normalised atol 2e-3; linear rtol 1e-3); the random-signal comparison
      // of every configuration against the reference is in test_fbank_gpu.cpp.
      Tensor out = fbank(Tensor::from_vector(wav, {B, L}), cfg);
      REQUIRE(out.shape() == Shape{B, cfg.n_mels, shape[2]});
      const auto noise = std::find(sigs.begin(), sigs.end(), "noise");
      if (noise != sigs.end()) {
        const size_t row = size_t(cfg.n_mels * shape[2]), b = size_t(noise - sigs.begin());
        const std::vector<double> all = out.to_double();
        check_close(std::vector<double>(all.begin() + long(b * row), all.begin() + long((b + 1) * row)),
                    std::vector<float>(ref.begin() + long(b * row), ref.begin() + long((b + 1) * row)),
                    logd ? 2e-3 : 0, logd ? 0 : 1e-3, name + " f32 op (fast path), noise");
      }
    }
  }
}

// The CPU kernel splits utterances, frame pairs and rows over the work pool; each output is computed by one thread
// in a fixed order, so every thread count must give the same bits (a schedule-dependent sum would show here).
TEST_CASE("fbank CPU reference gives the same bits on any thread count") {
  uint64_t state = 12345;
  auto uniform = [&] {   // 64-bit LCG (Knuth MMIX), top 24 bits -> [-1, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return float(int64_t(state >> 40) - (int64_t(1) << 23)) / float(int64_t(1) << 23);
  };
  for (const char* preset : {"resnetse34l", "ecapa", "wespeaker"}) {
    SUBCASE(preset) {
      const FbankConfig cfg = fbank_preset(preset);
      const int64_t B = 5, L = 16000 + 123;
      std::vector<float> wav(size_t(B * L));
      for (float& v : wav) v = 0.3f * uniform();
      const size_t n = size_t(B * cfg.n_mels * fbank_frames(cfg, L));
      std::vector<float> one(n), many(n);
      fbank_forward_cpu<float>(cfg, wav.data(), one.data(), B, L, 1);
      for (int threads : {2, 3, 8}) {
        std::fill(many.begin(), many.end(), -1.f);
        fbank_forward_cpu<float>(cfg, wav.data(), many.data(), B, L, threads);
        CHECK_MESSAGE(std::memcmp(one.data(), many.data(), n * sizeof(float)) == 0, preset, ": ", threads,
                      " threads differ from one");
      }
    }
  }
}

TEST_CASE("fbank filterbanks match torchaudio's melscale_fbanks and kaldi get_mel_banks") {
  const json m = manifest();
  for (const json& fb : m.at("filterbanks")) {
    const std::string name = fb.at("name");
    SUBCASE(name.c_str()) {
      const FbankTables t = fbank_tables(config_from_json(fb.at("config")));
      const std::vector<int64_t> shape = fb.at("shape");
      REQUIRE(shape == std::vector<int64_t>{t.n_mels, t.n_freq});
      check_close(t.dense_mel(), read_f32(fb.at("file"), size_t(shape[0] * shape[1])), 1e-7, 1e-6, name);
    }
  }
}

TEST_CASE("fbank windows, frame counts and filterbank structure by hand") {
  FbankConfig ta = fbank_preset("resnetse34l");
  FbankTables t = fbank_tables(ta);
  // torch.hamming_window(400) is periodic: 0.54 - 0.46 cos(2πn/400); w[0] = 0.08, w[200] = 1, centred at offset 56.
  CHECK(t.win_offset == 56);
  CHECK(t.window[0] == doctest::Approx(0.08).epsilon(1e-12));
  CHECK(t.window[200] == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(t.window[100] == doctest::Approx(0.54).epsilon(1e-12));
  // Kaldi's hamming is symmetric: w[0] = w[399] = 0.08; povey = hann^0.85 is 0 at both ends.
  FbankConfig ka = fbank_preset("wespeaker");
  t = fbank_tables(ka);
  CHECK(t.win_offset == 0);
  CHECK(t.window[0] == doctest::Approx(0.08).epsilon(1e-12));
  CHECK(t.window[399] == doctest::Approx(0.08).epsilon(1e-12));
  t = fbank_tables(fbank_preset("3dspeaker"));
  CHECK(t.window[0] == 0.0);
  CHECK(t.window[399] == doctest::Approx(0.0).epsilon(1e-12));
  CHECK(t.window[200] == doctest::Approx(std::pow(0.5 - 0.5 * std::cos(2 * M_PI * 200 / 399), 0.85)).epsilon(1e-12));

  // voxceleb_trainer's crops (DatasetLoader.py loadWAV, max_frames·160 + 240 samples) with center=True framing:
  // a 200-frame training crop of 32 240 samples gives 202 STFT frames, a 400-frame eval crop 402.
  CHECK(fbank_frames(ta, 32240) == 202);
  CHECK(fbank_frames(ta, 64240) == 402);
  // Kaldi snip_edges: 1 + (L - 400) / 160; snip_edges=False: (L + 80) / 160.
  CHECK(fbank_frames(ka, 32240) == 200);
  ka.snip_edges = false;
  CHECK(fbank_frames(ka, 32240) == 202);

  // HTK filters: each triangle peaks at most at 1, adjacent filters overlap, every FFT bin is in at most 2 filters,
  // and the Kaldi bank leaves the Nyquist bin out.
  for (const char* p : {"resnetse34l", "ecapa", "wespeaker"}) {
    const FbankTables tb = fbank_tables(fbank_preset(p));
    std::vector<int> count(size_t(tb.n_freq), 0);
    const auto fb = tb.dense_mel();
    for (int m = 0; m < tb.n_mels; ++m)
      for (int k = 0; k < tb.n_freq; ++k) {
        const double w = fb[size_t(m * tb.n_freq + k)];
        CHECK(w <= 1.0);
        count[size_t(k)] += w > 0;
      }
    for (int c : count) CHECK(c <= 2);
    if (std::string(p) == "wespeaker") CHECK(count.back() == 0);
  }
}

TEST_CASE("fbank presets") {
  FbankConfig c = fbank_preset("resnetse34l");
  CHECK((c.mode == FbankMode::torchaudio && c.n_mels == 40 && c.window == FbankWindow::hamming && c.preemph == 0 &&
         c.log && c.norm == FbankNorm::instance && c.energy_offset == 1e-6));
  c = fbank_preset("resnetse34v2");
  CHECK((c.n_mels == 64 && c.preemph == 0.97 && c.norm == FbankNorm::instance));
  c = fbank_preset("vggvox");
  CHECK((c.n_mels == 40 && c.window == FbankWindow::hann));
  c = fbank_preset("ecapa");
  CHECK((c.n_mels == 80 && c.preemph == 0.97 && c.f_min == 20 && c.f_max == 7600 && c.norm == FbankNorm::mean));
  c = fbank_preset("wespeaker");
  CHECK((c.mode == FbankMode::kaldi && c.n_mels == 80 && c.window == FbankWindow::hamming && c.input_scale == 32768 &&
         c.win_length == 400 && c.hop_length == 160 && c.n_fft == 512 && c.energy_floor == FLT_EPSILON &&
         c.norm == FbankNorm::mean && c.snip_edges && c.remove_dc_offset && c.preemph == 0.97 && c.f_min == 20));
  c = fbank_preset("3dspeaker");
  CHECK((c.mode == FbankMode::kaldi && c.window == FbankWindow::povey && c.input_scale == 1 && c.n_mels == 80));
  for (const auto& n : fbank_preset_names()) CHECK(fbank_config_error(fbank_preset(n)).empty());
  CHECK_THROWS_WITH_AS(fbank_preset("resnet"), doctest::Contains("unknown preset 'resnet' (known: resnetse34l"), Error);
}

TEST_CASE("fbank accepts a single waveform and strided batches") {
  Rng rng(7);
  const FbankConfig cfg = fbank_preset("ecapa");
  Tensor wav = Tensor::uniform({2, 3001}, rng, -0.5, 0.5);
  Tensor both = fbank(wav, cfg);
  const int64_t T = fbank_frames(cfg, 3001);
  REQUIRE(both.shape() == Shape{2, 80, T});
  // A (L,) input gives (n_mels, T) equal to its row of the batch.
  const std::vector<double> wv = wav.to_double();
  Tensor row1 = Tensor::from_vector(std::vector<double>(wv.begin() + 3001, wv.end()), {3001});
  Tensor one = fbank(row1, cfg);
  REQUIRE(one.shape() == Shape{80, T});
  auto all = both.to_double();
  test::expect_close(one, std::vector<double>(all.begin() + 80 * T, all.end()), 0, 0, "row 1 alone");
  // A column slice (non-contiguous rows) is read through contiguous().
  Tensor wide = Tensor::uniform({2, 6002}, rng, -0.5, 0.5);
  Tensor view = make_view(wide, {2, 3001}, {6002, 2}, 0);
  test::expect_close(fbank(view, cfg), fbank(view.contiguous(), cfg), 0, 0, "strided view");
  // Under no_grad a requires-grad waveform is fine.
  Tensor leaf = Tensor::uniform({1, 1000}, rng, -0.5, 0.5).set_requires_grad();
  NoGradGuard ng;
  CHECK_FALSE(fbank(leaf, cfg).requires_grad());
}

TEST_CASE("fbank errors") {
  const FbankConfig ta = fbank_preset("resnetse34l"), ka = fbank_preset("wespeaker");
  auto wav = [](int64_t L) { return Tensor::zeros({2, L}); };
  // Too short for each framing rule.
  CHECK_THROWS_WITH_AS(fbank(wav(256), ta), doctest::Contains("center=True reflect-pads n_fft/2 = 256"), Error);
  CHECK_NOTHROW(fbank(wav(257), ta));
  FbankConfig nc = ta;
  nc.center = false;
  CHECK_THROWS_WITH_AS(fbank(wav(511), nc), doctest::Contains("center=False needs at least n_fft = 512"), Error);
  CHECK(fbank(wav(512), nc).size(2) == 1);
  CHECK_THROWS_WITH_AS(fbank(wav(399), ka), doctest::Contains("needs at least win_length = 400 samples"), Error);
  CHECK(fbank(wav(400), ka).size(2) == 1);
  FbankConfig ns = ka;
  ns.snip_edges = false;
  CHECK_THROWS_WITH_AS(fbank(wav(399), ns), doctest::Contains("needs at least win_length = 400"), Error);
  CHECK_THROWS_WITH_AS(fbank_frames(ka, 100), doctest::Contains("fbank: input of 100 samples is too short"), Error);

  // Bad configs name the field and echo the config.
  auto bad = [&](FbankConfig c, const char* msg) {
    CHECK_THROWS_WITH_AS(fbank(wav(16000), c), doctest::Contains(msg), Error);
  };
  FbankConfig c = ta;
  c.n_fft = 500;
  bad(c, "n_fft must be a power of two");
  c = ta;
  c.win_length = 600;
  bad(c, "win_length must be in [1, n_fft = 512]");
  c = ta;
  c.hop_length = 0;
  bad(c, "hop_length must be >= 1");
  c = ta;
  c.n_mels = 300;
  bad(c, "n_mels must be in [1, n_fft/2 + 1 = 257]");
  c = ta;
  c.window = FbankWindow::povey;
  bad(c, "povey window exists only in kaldi mode");
  c = ta;
  c.f_min = 9000;
  bad(c, "torchaudio mode needs 0 <= f_min < f_max");
  c = ta;
  c.preemph = 1.5;
  bad(c, "preemph must be in [0, 1]");
  c = ta;
  c.norm_eps = 0;
  bad(c, "instance norm needs norm_eps > 0");
  c = ta;
  c.input_scale = 0;
  bad(c, "input_scale must be finite and nonzero");
  c = ka;
  c.n_fft = 1024;
  bad(c, "n_fft must be 512 for win_length 400");
  c = ka;
  c.f_max = 9000;
  bad(c, "kaldi mode needs 0 <= f_min < f_max <= Nyquist (8000 Hz)");
  c = ka;
  c.f_max = -8000;
  bad(c, "kaldi mode needs 0 <= f_min < f_max <= Nyquist");
  c = ka;
  c.n_mels = 3;
  bad(c, "kaldi mode needs n_mels > 3");
  c = ta;
  c.sample_rate = 0;
  bad(c, "sample_rate must be > 0");

  // Inputs.
  CHECK_THROWS_WITH_AS(fbank(Tensor::zeros({2, 1000}, DType::f64), ta), doctest::Contains("expects f32 waveforms"), Error);
  CHECK_THROWS_WITH_AS(fbank(Tensor::zeros({2, 2, 1000}), ta), doctest::Contains("expects a waveform (L,) or a batch (B, L)"),
                       Error);
  Rng rng(1);
  Tensor leaf = Tensor::uniform({1, 1000}, rng).set_requires_grad();
  CHECK_THROWS_WITH_AS(fbank(leaf, ta), doctest::Contains("fbank: has no backward"), Error);
  CHECK_THROWS_WITH_AS(fbank(Tensor(), ta), doctest::Contains("fbank: undefined input"), Error);
  // An empty batch is fine.
  CHECK(fbank(Tensor::zeros({0, 1000}), ta).shape() == Shape{0, 40, 7});
}
