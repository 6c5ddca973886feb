// fbank CUDA path. Two layers of checks:
//   1. Without a GPU: the kernel's per-element pieces (kernels/fbank/fbank_device.h: source indexing, pre-emphasis,
//      DC removal, Stockham FFT stages, real-FFT untangling, mel/log) composed exactly as fbank_cuda.cu composes them
//      (same tiles, buffers and phase loops, run sequentially), in float, against the CPU reference; and the FFT
//      stages alone against a direct DFT, including the mixed radix-4/radix-2 lengths.
//   2. With a GPU (gpu_or_skip): the real kernel against the CPU reference on random inputs for every preset and
//      several odd configurations.
//   3. The fast CPU path (kernels/fbank/fbank_fast_cpu.cpp), also a float FFT, under the same error budget.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <string>
#include <vector>

#include "engine/audio/fbank.h"
#include "engine/cpu_threads.h"
#include "kernels/fbank/fbank_device.h"
#include "support/check.h"

using namespace spk;

namespace {

// Sequential emulation of fbank_frames_kernel + fbank_norm_kernel: each `for e` loop is one barrier-separated phase
// of the kernel (threads -> iterations), with the same shared-memory buffers and layouts.
std::vector<float> emulate_cuda(const FbankConfig& cfg, const std::vector<float>& wav, int64_t B, int64_t L, int F) {
  const FbankCudaPack pack = fbank_cuda_pack(fbank_tables(cfg));
  const FbankKernelParams p = fbank_kernel_params(cfg, L, pack.n_weights);
  const float* window = pack.f.data();
  const float* weight = pack.f.data() + p.win_length;
  const int32_t* first = pack.i.data();
  const int32_t* offset = pack.i.data() + p.n_mels;
  const int N = p.n_fft / 2;
  std::vector<FbankComplex> bufA(size_t(F * N)), bufB(size_t(F * N)), tw(size_t(p.n_fft));
  std::vector<float> mean(static_cast<size_t>(F));
  for (int i = 0; i < p.n_fft; ++i) tw[size_t(i)] = fbank_twiddle(i, p.n_fft);
  std::vector<float> out(size_t(B * p.n_mels * p.T), NAN);

  const int64_t tiles_per_utt = (p.T + F - 1) / F;
  for (int64_t tile = 0; tile < B * tiles_per_utt; ++tile) {
    const int64_t b = tile / tiles_per_utt, t0 = (tile % tiles_per_utt) * F;
    const float* x = wav.data() + b * L;
    float* raw = reinterpret_cast<float*>(bufB.data());
    for (int e = 0; e < F * p.win_length; ++e) {
      const int f = e / p.win_length, n = e - f * p.win_length;
      raw[e] = t0 + f < p.T ? fbank_raw_sample(p, x, t0 + f, n) : 0.f;
    }
    for (int f = 0; f < F; ++f) {
      float s = 0.f;
      if (p.remove_dc) {
        float lanes[32] = {};
        for (int n = 0; n < p.win_length; ++n) lanes[n % 32] += raw[f * p.win_length + n];
        for (int o = 16; o > 0; o >>= 1)
          for (int l = 0; l < o; ++l) lanes[l] += lanes[l + o];   // the butterfly reduction, lane 0's view
        s = lanes[0] / float(p.win_length);
      }
      mean[size_t(f)] = s;
    }
    for (int e = 0; e < F * N; ++e) {
      const int f = e / N, n = e - f * N;
      const float* r = raw + f * p.win_length;
      bufA[size_t(e)] = {fbank_frame_value(p, r, mean[size_t(f)], window, 2 * n),
                         fbank_frame_value(p, r, mean[size_t(f)], window, 2 * n + 1)};
    }
    FbankComplex *src = bufA.data(), *dst = bufB.data();
    for (int Ns = 1; Ns < N;) {
      const int R = fbank_stage_radix(N, Ns), per_frame = N / R;
      for (int e = 0; e < F * per_frame; ++e) {
        const int f = e / per_frame, j = e - f * per_frame;
        fbank_stockham_butterfly(j, N, Ns, R, src + size_t(f) * N, dst + size_t(f) * N, tw.data());
      }
      std::swap(src, dst);
      Ns *= R;
    }
    float* power = reinterpret_cast<float*>(dst);
    for (int e = 0; e < F * (N + 1); ++e) {
      const int f = e / (N + 1), k = e - f * (N + 1);
      power[e] = fbank_power_bin(src + size_t(f) * N, N, k, tw.data());
    }
    for (int e = 0; e < F * p.n_mels; ++e) {
      const int m = e / F, f = e - m * F;
      if (t0 + f < p.T)
        out[size_t((b * p.n_mels + m) * p.T + t0 + f)] =
            fbank_mel_energy(p, power + f * (N + 1), weight, first, offset, m);
    }
  }
  if (cfg.norm != FbankNorm::none)
    for (int64_t row = 0; row < B * p.n_mels; ++row) {
      float* r = out.data() + row * p.T;
      double s = 0, v = 0;
      for (int64_t t = 0; t < p.T; ++t) s += r[t];
      const double mu = s / double(p.T);
      for (int64_t t = 0; t < p.T; ++t) v += (r[t] - mu) * (r[t] - mu);
      const float scale = cfg.norm == FbankNorm::instance ? float(1.0 / std::sqrt(v / double(p.T) + cfg.norm_eps)) : 1.f;
      for (int64_t t = 0; t < p.T; ++t) r[t] = (r[t] - float(mu)) * scale;
    }
  return out;
}

// Test waveforms: noise plus a tone and a DC offset, with one quiet row (amplitude 1e-3) so the +1e-6 offset and the
// Kaldi floor regions are exercised too.
std::vector<float> test_waves(int64_t B, int64_t L, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> w(size_t(B * L));
  for (int64_t b = 0; b < B; ++b) {
    const double amp = b == B - 1 && B > 1 ? 1e-3 : 0.3;
    for (int64_t i = 0; i < L; ++i)
      w[size_t(b * L + i)] = float(amp * (rng.uniform(-1, 1) + 0.5 * std::sin(0.05 * double(i) * double(b + 1)) + 0.1));
  }
  return w;
}

struct Named {
  std::string name;
  FbankConfig cfg;
};

// Every preset, and configurations that reach the other code paths: mixed-radix FFT lengths (n_fft 256, 1024, 2048
// have log2(n_fft/2) odd), center=False, snip_edges=False, no DC removal, rectangular window, no log, short windows.
std::vector<Named> configs() {
  std::vector<Named> v;
  for (const auto& n : fbank_preset_names()) v.push_back({n, fbank_preset(n)});
  FbankConfig c = fbank_preset("resnetse34l");
  c.n_fft = 256;
  c.win_length = 200;
  c.hop_length = 80;
  c.n_mels = 40;
  v.push_back({"torchaudio n_fft 256 win 200 hop 80", c});
  c = fbank_preset("resnetse34v2");
  c.n_fft = 1024;
  c.center = false;
  c.norm = FbankNorm::none;
  v.push_back({"torchaudio n_fft 1024 center=False", c});
  c = fbank_preset("vggvox");
  c.n_fft = 2048;
  c.win_length = 2048;
  c.hop_length = 512;
  c.n_mels = 128;
  c.log = false;
  v.push_back({"torchaudio n_fft 2048 no log", c});
  c = fbank_kaldi_config(40);
  c.snip_edges = false;
  c.remove_dc_offset = false;
  c.window = FbankWindow::rectangular;
  v.push_back({"kaldi rectangular snip_edges=False no DC removal", c});
  c = fbank_kaldi_config(24, 8000, 25, 10);   // 8 kHz: win 200, n_fft 256
  c.input_scale = 32768;
  c.norm = FbankNorm::instance;
  v.push_back({"kaldi 8 kHz instance norm", c});
  return v;
}

// Float FFT error budget for CUDA-vs-reference comparisons (both the emulation and the real kernel). The float FFT
// has an absolute error of about 1e-7·‖frame‖ per bin; a mel energy that is 1e-5 of the frame's total energy (the
// quiet bands of a tonal frame) thus carries a relative error up to ~1e-4, which is an absolute error of 1e-4 in its
// log. Normalisation divides by the band's spread over time (≥ ~0.1 for these signals). Hence: log / normalised
// outputs atol 2e-3; linear outputs rtol 1e-3 plus an atol of 1e-4 of the row's largest energy.
void expect_fbank_close(const std::vector<float>& got, const std::vector<float>& ref, const FbankConfig& cfg,
                        const std::string& what) {
  REQUIRE(got.size() == ref.size());
  const bool logd = cfg.log || cfg.norm != FbankNorm::none;
  double peak = 0;
  for (float r : ref) peak = std::max(peak, double(std::abs(r)));
  const double atol = logd ? 2e-3 : 1e-4 * peak, rtol = logd ? 0 : 1e-3;
  size_t bad = 0, worst_i = 0;
  double worst = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - double(ref[i])), allowed = atol + rtol * std::abs(double(ref[i]));
    if (!(err <= allowed)) ++bad;
    if (err / allowed > worst || std::isnan(got[i])) { worst = std::isnan(got[i]) ? INFINITY : err / allowed; worst_i = i; }
  }
  INFO(what << ": worst element " << worst_i << " got " << got[worst_i] << " expected " << ref[worst_i]
            << " (error/allowed " << worst << ")");
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << got.size() << " outside atol " << atol << " + rtol " << rtol);
}

}  // namespace

TEST_CASE("fbank Stockham FFT stages match the direct DFT (radix 4 and mixed 4/2)") {
  for (int N : {1, 2, 4, 8, 16, 32, 128, 256, 512, 2048}) {
    SUBCASE(("N=" + std::to_string(N)).c_str()) {
      Rng rng{uint64_t(N)};
      std::vector<FbankComplex> a(static_cast<size_t>(N)), b(static_cast<size_t>(N)), tw(static_cast<size_t>(2 * N));
      for (auto& v : a) v = {float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))};
      for (int m = 0; m < 2 * N; ++m) tw[size_t(m)] = fbank_twiddle(m, 2 * N);
      const std::vector<FbankComplex> x = a;
      FbankComplex *src = a.data(), *dst = b.data();
      for (int Ns = 1; Ns < N;) {
        const int R = fbank_stage_radix(N, Ns);
        for (int j = 0; j < N / R; ++j) fbank_stockham_butterfly(j, N, Ns, R, src, dst, tw.data());
        std::swap(src, dst);
        Ns *= R;
      }
      double worst = 0;
      for (int k = 0; k < N; ++k) {
        std::complex<double> s = 0;
        for (int n = 0; n < N; ++n)
          s += std::complex<double>(x[size_t(n)].x, x[size_t(n)].y) * std::polar(1.0, -2 * M_PI * double(k) * n / N);
        worst = std::max(worst, std::abs(s - std::complex<double>(src[k].x, src[k].y)));
      }
      CHECK(worst < 2e-6 * std::sqrt(double(N)) * std::log2(double(2 * N)));

      // Untangling the packed transform of 2N real samples r (z[n] = r[2n] + i·r[2n+1]) gives |rfft(r)|².
      worst = 0;
      double scale = 0;
      for (int k = 0; k <= N; ++k) {
        std::complex<double> s = 0;
        for (int n = 0; n < 2 * N; ++n) {
          const double r = n % 2 ? x[size_t(n / 2)].y : x[size_t(n / 2)].x;
          s += r * std::polar(1.0, -2 * M_PI * double(k) * n / (2 * N));
        }
        scale = std::max(scale, std::norm(s));
        worst = std::max(worst, std::abs(std::norm(s) - double(fbank_power_bin(src, N, k, tw.data()))));
      }
      CHECK(worst <= 1e-5 * std::max(scale, 1.0));
    }
  }
}

TEST_CASE("fbank CUDA kernel, emulated on the CPU, matches the CPU reference") {
  for (const auto& [name, cfg] : configs()) {
    SUBCASE(name.c_str()) {
      REQUIRE(fbank_config_error(cfg).empty());
      for (int64_t L : {int64_t(16000 + 37), int64_t(cfg.n_fft + 3)}) {
        const int64_t B = 3;
        const auto wav = test_waves(B, L, uint64_t(L));
        std::vector<float> ref(size_t(B * cfg.n_mels * fbank_frames(cfg, L)));
        fbank_forward_cpu<float>(cfg, wav.data(), ref.data(), B, L, cpu_threads());
        // The kernel's tile size (8 frames; fewer for n_fft >= 2048), and 3, which leaves a partial last tile.
        for (int F : {8, 3}) {
          if (F == 3 && L > 10000) continue;   // tiling is exercised by the short input; keep the test fast
          expect_fbank_close(emulate_cuda(cfg, wav, B, L, F), ref, cfg,
                             name + " L=" + std::to_string(L) + " F=" + std::to_string(F));
        }
      }
    }
  }
}

TEST_CASE("fbank CUDA kernel matches the CPU reference") {
  if (!test::gpu_or_skip()) return;
  for (const auto& [name, cfg] : configs()) {
    SUBCASE(name.c_str()) {
      for (int64_t L : {int64_t(32240), int64_t(16000 + 37), int64_t(cfg.n_fft + 3)}) {
        const int64_t B = 5;
        Tensor wav = Tensor::from_vector(test_waves(B, L, uint64_t(L) + 1), {B, L});
        Tensor ref = fbank(wav, cfg);
        Tensor got = fbank(wav.to(Device::cuda()), cfg);
        REQUIRE(got.device().is_cuda());
        REQUIRE(got.shape() == ref.shape());
        expect_fbank_close(got.to(Device::cpu()).to_vector<float>(), ref.to_vector<float>(), cfg,
                           name + " L=" + std::to_string(L));
      }
    }
  }
  // A single waveform (L,) and a batch of many short crops (many tiles, grid-stride loop).
  const FbankConfig cfg = fbank_preset("resnetse34l");
  Tensor one = Tensor::from_vector(test_waves(1, 48240, 3), {48240});
  expect_fbank_close(fbank(one.to(Device::cuda()), cfg).to(Device::cpu()).to_vector<float>(),
                     fbank(one, cfg).to_vector<float>(), cfg, "1-D input");
  Tensor many = Tensor::from_vector(test_waves(300, 32240, 4), {300, 32240});
  expect_fbank_close(fbank(many.to(Device::cuda()), cfg).to(Device::cpu()).to_vector<float>(),
                     fbank(many, cfg).to_vector<float>(), cfg, "300 crops");
}

// The fast CPU path (kernels/fbank/fbank_fast_cpu.cpp, what spk::fbank runs on the CPU) is also a float FFT: the same
// error budget as the CUDA kernel, on every configuration, on a long input (several 16-frame blocks and a partial
// last one) and on a short one (a single partial block).
TEST_CASE("fbank fast CPU path matches the CPU reference") {
  for (const auto& [name, cfg] : configs()) {
    SUBCASE(name.c_str()) {
      for (int64_t L : {int64_t(16000 + 37), int64_t(cfg.n_fft + 3)}) {
        const int64_t B = 3;
        const auto wav = test_waves(B, L, uint64_t(L) + 1);
        const size_t n = size_t(B * cfg.n_mels * fbank_frames(cfg, L));
        std::vector<float> ref(n), got(n, NAN);
        fbank_forward_cpu<float>(cfg, wav.data(), ref.data(), B, L, cpu_threads());
        fbank_forward_cpu_fast(cfg, wav.data(), got.data(), B, L, cpu_threads());
        expect_fbank_close(got, ref, cfg, name + " L=" + std::to_string(L));
        // And through the Tensor op, which runs it.
        const Tensor op = fbank(Tensor::from_vector(wav, {B, L}), cfg);
        CHECK(std::memcmp(op.data<float>(), got.data(), n * sizeof(float)) == 0);
      }
    }
  }
}

// Its blocks and rows are units of the work pool, each written by one thread in a fixed order: any thread count
// gives the same bits.
TEST_CASE("fbank fast CPU path gives the same bits on any thread count") {
  for (const char* preset : {"resnetse34l", "ecapa", "wespeaker"}) {
    const FbankConfig cfg = fbank_preset(preset);
    const int64_t B = 3, L = 32000 + 77;
    const auto wav = test_waves(B, L, 5);
    const size_t n = size_t(B * cfg.n_mels * fbank_frames(cfg, L));
    std::vector<float> one(n), many(n);
    fbank_forward_cpu_fast(cfg, wav.data(), one.data(), B, L, 1);
    for (int threads : {2, 3, 8}) {
      std::fill(many.begin(), many.end(), -1.f);
      fbank_forward_cpu_fast(cfg, wav.data(), many.data(), B, L, threads);
      CHECK_MESSAGE(std::memcmp(one.data(), many.data(), n * sizeof(float)) == 0, preset, ": ", threads,
                    " threads differ from one");
    }
  }
}

// Each compiled instruction-set variant of the fast path (AVX-512, AVX2, baseline x86-64; those this CPU has) under
// the same budget, on every configuration above and on odd shapes: tiny and huge FFTs (n_fft 8, 16, 64, 4096:
// one radix-4 stage, radix-4 + radix-2, ...), hops that are not multiples of 16 or exceed the window (the signal
// transpose's ragged tiles), and a window much shorter than n_fft (torchaudio centres it).
TEST_CASE("fbank fast CPU path: every instruction-set variant matches the CPU reference") {
  std::vector<Named> cases = configs();
  FbankConfig c = fbank_preset("resnetse34l");
  c.n_fft = 8;
  c.win_length = 8;
  c.hop_length = 3;
  c.n_mels = 4;
  cases.push_back({"torchaudio n_fft 8 hop 3", c});
  c.n_fft = 16;
  c.win_length = 11;
  c.hop_length = 37;
  c.n_mels = 6;
  cases.push_back({"torchaudio n_fft 16 win 11 hop 37", c});
  c.n_fft = 64;
  c.win_length = 64;
  c.hop_length = 100;
  c.n_mels = 20;
  cases.push_back({"torchaudio n_fft 64 hop 100 > win", c});
  c = fbank_preset("ecapa");
  c.n_fft = 4096;
  c.win_length = 1000;
  c.hop_length = 123;
  cases.push_back({"torchaudio n_fft 4096 win 1000 hop 123", c});
  c = fbank_kaldi_config(40);
  c.hop_length = 77;
  cases.push_back({"kaldi hop 77", c});
  for (FbankFastIsa isa : {FbankFastIsa::avx512, FbankFastIsa::avx2, FbankFastIsa::baseline}) {
    if (!fbank_fast_isa_supported(isa)) continue;
    const std::string isa_name = isa == FbankFastIsa::avx512 ? "avx512" : isa == FbankFastIsa::avx2 ? "avx2" : "baseline";
    for (const auto& [name, cfg] : cases) {
      SUBCASE((isa_name + " " + name).c_str()) {
        for (int64_t L : {int64_t(8000 + 37), int64_t(cfg.n_fft + 3)}) {
          const int64_t B = 2;
          const auto wav = test_waves(B, L, uint64_t(L) + 7);
          const size_t n = size_t(B * cfg.n_mels * fbank_frames(cfg, L));
          std::vector<float> ref(n), got(n, NAN);
          fbank_forward_cpu<float>(cfg, wav.data(), ref.data(), B, L, cpu_threads());
          fbank_forward_cpu_fast(cfg, wav.data(), got.data(), B, L, 2, isa);
          expect_fbank_close(got, ref, cfg, isa_name + " " + name + " L=" + std::to_string(L));
        }
      }
    }
  }
}
