// mfcc: the double CPU reference and the f32 Tensor op against torchaudio's MFCC and compliance.kaldi.mfcc (golden
// files written by scripts/make_mfcc_golden.py, computed in float64), the DCT table and framing by hand, the
// normalisation, per-utterance top_db, presets and every error path.
#include <cfloat>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/audio/mfcc.h"
#include "engine/cpu_threads.h"
#include "engine/ops.h"
#include "support/check.h"

using namespace spk;
using nlohmann::json;

namespace {

const std::string kDir = std::string(SPK_TEST_DATA_DIR) + "/mfcc/";

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
  REQUIRE_MESSAGE(in.good(), "cannot open " << kDir << "golden.json (run scripts/make_mfcc_golden.py)");
  return json::parse(in);
}

FbankConfig fbank_from_json(const json& j) {
  FbankConfig c;
  c.mode = j.at("mode") == "kaldi" ? FbankMode::kaldi : FbankMode::torchaudio;
  c.sample_rate = j.at("sample_rate");
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
  c.norm = FbankNorm::none;
  return c;
}

MfccConfig mfcc_from_json(const json& j) {
  MfccConfig c;
  c.fbank = fbank_from_json(j.at("fbank"));
  c.n_ceps = j.at("n_ceps");
  c.db = j.at("db");
  c.top_db = j.at("top_db");
  c.lifter = j.at("lifter");
  c.use_energy = j.at("use_energy");
  c.raw_energy = j.at("raw_energy");
  c.energy_floor = j.at("energy_floor");
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

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::abs(x)));
  return m;
}

// A deterministic batch of noisy tones, (B, L).
std::vector<float> test_batch(int64_t B, int64_t L, double sr) {
  std::vector<float> w(size_t(B * L));
  uint64_t state = 99;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const double noise = double(int64_t(state >> 40) - (int64_t(1) << 23)) / double(int64_t(1) << 23);
      w[size_t(b * L + i)] = float(0.3 * std::sin(2 * M_PI * (300.0 + 400.0 * double(b)) * double(i) / sr) *
                                       std::exp(-4.0 * double(i) / sr) + 0.01 * noise);
    }
  return w;
}

}  // namespace

// Tolerances. The goldens are torch's float64 results rounded to float32, so the double reference differs by that
// rounding (relative 6e-8) plus float64 noise: rtol 1e-7, and atol 1e-9 of the case's largest magnitude for
// cepstra that cancel to near 0 (the DCT sums M terms, so an output's absolute error scales with its inputs, not
// with itself). The f32 op rounds the fbank output (2.5e-7 relative, test_fbank.cpp), the dB scaling, the top_db
// floor and an f32 matmul over M mels: its error is a few f32 ulps of the largest log-mel magnitude times the
// lifter gain, so it is bounded relative to the case's largest output: atol 2e-6·max|ref| (measured worst:
// 3.7e-7·max|ref|), plus rtol 1e-6. A slip in any convention (a wrong DCT scale, lifter, floor, dB factor or a c0
// that is not the energy) moves outputs by whole units, 1e4 times beyond these bounds.
TEST_CASE("mfcc matches torchaudio MFCC and compliance.kaldi.mfcc (golden files)") {
  const json m = manifest();
  REQUIRE(m.at("cases").size() >= 20);
  for (const json& cs : m.at("cases")) {
    const std::string name = cs.at("name");
    SUBCASE(name.c_str()) {
      const MfccConfig cfg = mfcc_from_json(cs.at("config"));
      REQUIRE(mfcc_config_error(cfg).empty());
      const std::vector<std::string> sigs = cs.at("signals");
      const int64_t L = m.at("signals").at(sigs[0]).at("length"), B = int64_t(sigs.size());
      std::vector<float> wav;
      for (const auto& s : sigs) {
        auto v = read_f32(m.at("signals").at(s).at("file"), size_t(L));
        wav.insert(wav.end(), v.begin(), v.end());
      }
      const std::vector<int64_t> shape = cs.at("shape");
      const int64_t T = fbank_frames(cfg.fbank, L);
      REQUIRE(shape == std::vector<int64_t>{B, cfg.n_ceps, T});
      const std::vector<float> ref = read_f32(cs.at("file"), size_t(B * cfg.n_ceps * T));
      const double scale = max_abs(ref);

      std::vector<double> wav64(wav.begin(), wav.end()), out64(ref.size());
      mfcc_forward_cpu<double>(cfg, wav64.data(), out64.data(), B, L, cpu_threads());
      check_close(out64, ref, 1e-9 * scale, 1e-7, name + " f64 reference");

      const Tensor out = mfcc(Tensor::from_vector(wav, {B, L}), cfg);
      REQUIRE(out.shape() == Shape{B, cfg.n_ceps, T});
      check_close(out.to_double(), ref, 2e-6 * scale, 1e-6, name + " f32 op");
    }
  }
}

TEST_CASE("mfcc DCT table: orthonormal DCT-II, Kaldi's row scales, the lifter") {
  MfccConfig c = mfcc_kaldi_config(23, 23);
  c.lifter = 0;
  const int M = 23;
  std::vector<double> d = mfcc_dct_table(c);
  REQUIRE(d.size() == size_t(M * M));
  // Kaldi ComputeDctMatrix: row 0 is sqrt(1/M), row k is sqrt(2/M) cos(π/M (m + 1/2) k).
  for (int m = 0; m < M; ++m) CHECK(d[size_t(m)] == doctest::Approx(std::sqrt(1.0 / M)).epsilon(1e-14));
  CHECK(d[size_t(3 * M + 5)] == doctest::Approx(std::sqrt(2.0 / M) * std::cos(M_PI / M * 5.5 * 3)).epsilon(1e-14));
  // Square and orthonormal: D Dᵀ = I.
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < M; ++j) {
      double s = 0;
      for (int m = 0; m < M; ++m) s += d[size_t(i * M + m)] * d[size_t(j * M + m)];
      CHECK(s == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-12).scale(1.0));
    }
  // Lifter Q = 22: row k scaled by 1 + 11 sin(πk/22): 1 for c0, 12 at k = 11.
  c.lifter = 22;
  const std::vector<double> l = mfcc_dct_table(c);
  CHECK(l[0] == doctest::Approx(d[0]).epsilon(1e-14));
  CHECK(l[size_t(11 * M + 2)] == doctest::Approx(12.0 * d[size_t(11 * M + 2)]).epsilon(1e-13));
  CHECK(l[size_t(4 * M + 7)] ==
        doctest::Approx((1 + 11 * std::sin(M_PI * 4 / 22)) * d[size_t(4 * M + 7)]).epsilon(1e-13));
  // n_ceps < n_mels keeps the first rows.
  c.n_ceps = 13;
  const std::vector<double> cut = mfcc_dct_table(c);
  REQUIRE(cut.size() == size_t(13 * M));
  for (size_t i = 0; i < cut.size(); ++i) CHECK(cut[i] == l[i]);
}

TEST_CASE("mfcc Kaldi framing: snip_edges and mirrored edges") {
  FbankConfig fb = fbank_kaldi_config(23);   // win 400, hop 160
  CHECK(mfcc_frame_sample(fb, 2, 7, 1000) == 327);
  fb.snip_edges = false;   // pad = 400/2 - 160/2 = 120 mirrored samples on the left, the edge repeated
  CHECK(mfcc_frame_sample(fb, 0, 0, 1000) == 119);
  CHECK(mfcc_frame_sample(fb, 0, 119, 1000) == 0);
  CHECK(mfcc_frame_sample(fb, 0, 120, 1000) == 0);
  CHECK(mfcc_frame_sample(fb, 0, 121, 1000) == 1);
  CHECK(mfcc_frame_sample(fb, 6, 200, 1000) == 1000 - 1 - (6 * 160 + 200 - 120 - 1000));   // x[L] = x[L-1] ...
  CHECK(mfcc_frame_sample(fb, 6, 160, 1000) == 999);   // j = L: the edge sample again
  CHECK(mfcc_frame_sample(fb, 6, 161, 1000) == 998);
}

TEST_CASE("mfcc normalisation, single waveforms and per-utterance top_db") {
  const int64_t B = 3, L = 8000;
  const std::vector<float> w = test_batch(B, L, 16000);
  const Tensor wav = Tensor::from_vector(w, {B, L});
  FbankConfig mel = fbank_preset("resnetse34l");
  for (bool log_mels : {false, true})
    for (FbankNorm norm : {FbankNorm::mean, FbankNorm::instance}) {
      MfccConfig c = mfcc_torchaudio_config(20, log_mels, mel);
      c.norm = norm;
      const Tensor got = mfcc(wav, c);
      std::vector<double> ref(size_t(got.numel()));
      std::vector<double> w64(w.begin(), w.end());
      mfcc_forward_cpu<double>(c, w64.data(), ref.data(), B, L, 1);
      const std::vector<float> ref32(ref.begin(), ref.end());
      // Normalised cepstra are O(1) (mean: O(10)); the f32 error comes from the unnormalised ones, up to ~1e2.
      check_close(got.to_double(), ref32, 2e-4, 1e-5, std::string("norm ") + (norm == FbankNorm::mean ? "mean" : "instance"));
      if (norm == FbankNorm::mean) {
        MfccConfig raw = c;
        raw.norm = FbankNorm::none;
        const Tensor r = mfcc(wav, raw);
        test::expect_close(got, (r - mean(r, {2}, true)).to_double(), 1e-4, 1e-5, "mean = cepstra minus time mean");
      }
    }
  // One waveform (L,) gives its batch row; the dB floor is per utterance, so a quiet row next to a loud one is
  // unchanged (torchaudio would floor it at the batch maximum - 80 dB).
  MfccConfig c = mfcc_torchaudio_config(13, false, mel);
  std::vector<float> loud_quiet = w;
  for (int64_t i = L; i < 2 * L; ++i) loud_quiet[size_t(i)] *= 1e-5f;   // row 1: 100 dB down
  const Tensor both = mfcc(Tensor::from_vector(loud_quiet, {B, L}), c);
  const Tensor alone = mfcc(Tensor::from_vector(std::vector<float>(loud_quiet.begin() + L, loud_quiet.begin() + 2 * L), {L}), c);
  REQUIRE(alone.shape() == Shape{13, both.size(2)});
  test::expect_close(alone, slice(both, 0, 1, 2).contiguous().to_double(), 1e-4, 1e-6, "row 1 alone");
  // Kaldi energy on a single waveform and an empty batch.
  MfccConfig k = mfcc_kaldi_config(13, 23);
  k.use_energy = true;
  k.fbank.snip_edges = false;
  const Tensor kb = mfcc(wav, k), k1 = mfcc(Tensor::from_vector(std::vector<float>(w.begin(), w.begin() + L), {L}), k);
  test::expect_close(k1, slice(kb, 0, 0, 1).contiguous().to_double(), 0, 0, "kaldi row 0 alone");
  CHECK(mfcc(Tensor::zeros({0, L}), k).shape() == Shape{0, 13, fbank_frames(k.fbank, L)});
  // Under no_grad a requires-grad waveform is fine and gives no graph.
  Tensor leaf = Tensor::from_vector(std::vector<float>(w.begin(), w.begin() + L), {1, L}).set_requires_grad();
  NoGradGuard ng;
  CHECK_FALSE(mfcc(leaf, k).requires_grad());
}

TEST_CASE("mfcc presets") {
  const MfccConfig k = mfcc_kaldi_config();
  CHECK((k.fbank.mode == FbankMode::kaldi && k.n_ceps == 13 && k.fbank.n_mels == 23 && k.lifter == 22 &&
         !k.use_energy && k.raw_energy && k.energy_floor == 1.0 && !k.db && k.fbank.window == FbankWindow::povey &&
         k.fbank.energy_floor == FLT_EPSILON && k.norm == FbankNorm::none));
  const MfccConfig k8 = mfcc_kaldi_config(13, 15, 8000);
  CHECK((k8.fbank.win_length == 200 && k8.fbank.hop_length == 80 && k8.fbank.n_fft == 256));
  FbankConfig mel = fbank_preset("ecapa");   // has pre-emphasis and mean norm: norm is dropped, the rest kept
  const MfccConfig db = mfcc_torchaudio_config(40, false, mel);
  CHECK((db.db && db.top_db == 80 && db.fbank.energy_offset == 0 && db.fbank.energy_floor == 1e-10 &&
         db.fbank.norm == FbankNorm::none && db.fbank.n_mels == 80 && db.fbank.preemph == 0.97 && db.lifter == 0));
  const MfccConfig ln = mfcc_torchaudio_config(40, true, mel);
  CHECK((!ln.db && ln.top_db == 0 && ln.fbank.energy_offset == 1e-6 && ln.fbank.energy_floor == 0));
  CHECK(mfcc_config_error(k).empty());
  CHECK(mfcc_config_error(db).empty());
  CHECK(mfcc_config_str(k).find("n_ceps=13") != std::string::npos);
  // The presets are the golden cases' configs: kaldi_voxceleb is ka_voxceleb_v2 (the Kaldi x-vector recipe).
  const MfccConfig vox = mfcc_preset("kaldi_voxceleb");
  CHECK((vox.n_ceps == 30 && vox.fbank.n_mels == 30 && vox.fbank.f_min == 20 && vox.fbank.f_max == 7600 &&
         !vox.fbank.snip_edges && vox.use_energy && vox.energy_floor == 0 && vox.lifter == 22 &&
         vox.fbank.input_scale == 32768 && vox.fbank.window == FbankWindow::povey));
  const json m = manifest();
  bool found = false;
  for (const json& cs : m.at("cases"))
    if (std::string(cs.at("name")).rfind("ka_voxceleb_v2/", 0) == 0) {
      found = true;
      CHECK(mfcc_config_str(mfcc_from_json(cs.at("config"))) == mfcc_config_str(vox));
    }
  CHECK(found);
  CHECK(mfcc_config_str(mfcc_preset("kaldi")) == mfcc_config_str(k));
  for (const auto& n : mfcc_preset_names()) CHECK(mfcc_config_error(mfcc_preset(n)).empty());
  CHECK_THROWS_WITH_AS(mfcc_preset("htk"), doctest::Contains("unknown preset 'htk' (known: kaldi, kaldi_voxceleb)"),
                       Error);
}

TEST_CASE("mfcc errors") {
  const Tensor wav = Tensor::zeros({2, 16000});
  auto bad = [&](const MfccConfig& c, const char* msg) {
    CHECK_THROWS_WITH_AS(mfcc(wav, c), doctest::Contains(msg), Error);
  };
  const MfccConfig k = mfcc_kaldi_config(13, 23);
  MfccConfig c = k;
  c.n_ceps = 24;
  bad(c, "n_ceps must be in [1, n_mels = 23], got 24");
  c = k;
  c.fbank.log = false;
  bad(c, "must take the log");
  c = k;
  c.fbank.norm = FbankNorm::mean;
  bad(c, "must not normalise (fbank.norm = none)");
  c = mfcc_torchaudio_config(13, true, fbank_preset("resnetse34l"));
  c.use_energy = true;
  bad(c, "use_energy (c0 := log frame energy) exists only in kaldi mode");
  c = k;
  c.top_db = 80;
  bad(c, "top_db clamps dB values: it needs db = true");
  c = k;
  c.fbank.n_fft = 1024;
  bad(c, "mfcc: bad config: kaldi mode pads frames");
  c = k;
  c.energy_floor = -1;
  bad(c, "energy_floor must be >= 0");
  c = k;
  c.norm = FbankNorm::instance;
  c.norm_eps = 0;
  bad(c, "instance norm needs norm_eps > 0");
  CHECK_THROWS_WITH_AS(mfcc(Tensor::zeros({2, 399}), k), doctest::Contains("needs at least win_length = 400"), Error);
  CHECK_THROWS_WITH_AS(mfcc(Tensor::zeros({2, 2, 1000}), k), doctest::Contains("mfcc: expects a waveform"), Error);
  CHECK_THROWS_WITH_AS(mfcc(Tensor::zeros({2, 1000}, DType::f64), k), doctest::Contains("expects f32 waveforms"), Error);
  Tensor leaf = Tensor::zeros({1, 1000}).set_requires_grad();
  CHECK_THROWS_WITH_AS(mfcc(leaf, k), doctest::Contains("mfcc: has no backward"), Error);
  CHECK_THROWS_WITH_AS(mfcc(Tensor(), k), doctest::Contains("mfcc: undefined input"), Error);
}

// On a GPU the op is the fbank CUDA kernel plus table ops on the device. fbank's CUDA output is within 2e-3 of the
// CPU reference in the log domain (test_fbank_gpu.cpp); the DCT adds at most Σ_m |D_km| of that per cepstrum, times
// 10/ln 10 in dB.
TEST_CASE("mfcc on CUDA matches the CPU op") {
  if (!test::gpu_or_skip()) return;
  const int64_t B = 3, L = 16000 + 77;
  const Tensor wav = Tensor::from_vector(test_batch(B, L, 16000), {B, L});
  MfccConfig energy = mfcc_kaldi_config(30, 30);
  energy.use_energy = true;
  energy.fbank.snip_edges = false;
  MfccConfig raw = mfcc_kaldi_config(20, 40);
  raw.use_energy = true;
  raw.raw_energy = false;
  raw.energy_floor = 0;
  MfccConfig db = mfcc_torchaudio_config(40, false, fbank_preset("ecapa"));
  db.norm = FbankNorm::mean;
  for (const MfccConfig& c : {energy, raw, db, mfcc_torchaudio_config(13, true, fbank_preset("resnetse34l"))}) {
    const std::vector<double> d = mfcc_dct_table(c);
    double gain = 0;
    for (int k = 0; k < c.n_ceps; ++k) {
      double row = 0;
      for (int m = 0; m < c.fbank.n_mels; ++m) row += std::abs(d[size_t(k * c.fbank.n_mels + m)]);
      gain = std::max(gain, row);
    }
    const Tensor got = mfcc(wav.to(Device::cuda()), c);
    test::expect_close(got.to(Device::cpu()), mfcc(wav, c), 2e-3 * gain * (c.db ? 10 / std::log(10.0) : 1.0), 1e-5,
                       mfcc_config_str(c));
  }
}
