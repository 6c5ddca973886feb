// ONNX export (apps/onnx, docs/onnx.md): every covered model is exported, passes ONNX 1.12's checker and shape
// inference with its batch and time axes symbolic, and carries its parameters and batch-norm statistics as
// initializers equal to the model's tensors name for name and bit for bit; an uncovered model or front end is
// refused with a message naming it. The front end's folded tables are checked numerically against spk's fbank
// (without an ONNX runtime: the arithmetic the graph does, replayed here in double). Running the graph itself in
// ONNX Runtime and comparing embeddings with spk_eval is scripts/check_onnx.py's job (optional, recorded in
// docs/onnx.md).
#include <cfloat>
#include <cmath>
#include <cstring>

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "apps/onnx/onnx_export.h"
#include "apps/onnx/onnx_frontend.h"
#include "engine/audio/fbank.h"
#include "engine/audio/mfcc.h"
#include "engine/init.h"
#include "engine/rng.h"
#include "nets/model.h"
#include "support/check.h"

using namespace spk;
using namespace spk::onnx_export;

namespace {

struct Case {
  std::string model, preset, encoder;
  int64_t n_mels, n_out;
  int64_t C = 1024;
};

// Small instances of each covered model, with the front end --frontend auto picks for it.
std::vector<Case> covered_cases() {
  return {{"ResNetSE34L", "resnetse34l", "SAP", 40, 16}, {"ResNetSE34L", "resnetse34l", "ASP", 24, 8},
          {"ResNetSE34V2", "resnetse34v2", "ASP", 16, 8},  {"VGGVox", "vggvox", "SAP", 40, 8},
          {"VGGVox", "vggvox", "TAP", 40, 8},             {"TDNN", "wespeaker", "", 24, 8},
          {"ECAPA_TDNN", "ecapa", "", 24, 8, 64},         {"ECAPA_TDNN_HardNeg", "ecapa", "", 16, 8, 32},
          {"ResNet18", "wespeaker", "TSTP", 16, 8},       {"ResNet50", "wespeaker", "TSTP", 16, 8},
          {"ResNet18", "wespeaker", "ASTP", 16, 8},       {"ResNet18", "wespeaker", "MQMHASTP", 16, 8},
          {"ResNet18_HardNeg", "ecapa", "MHASTP", 16, 8},
          {"SincTDNN", "waveform", "", 1, 8},             {"RawNet3", "waveform", "ECA", 1, 8, 64},
          {"RawNet3", "waveform", "ASP", 1, 8, 32},       {"TDNN", "kaldi_mfcc", "", 13, 8},
          {"TDNN", "kaldi_voxceleb_mfcc", "", 30, 8}};
}

// State tensors that are not initializers, and why (docs/onnx.md): the sinc layers' cut-offs and asteroid's buffers
// (the graph holds the filters they give, onnx_nets_waveform.cpp), RawNet3's bn1 and bn6 (registered as
// voxceleb_trainer's, never used by its forward), SincTDNN's segment7 (pyannote's embedding is segment6's output),
// and the counters of batch norm.
bool not_in_graph(const Case& c, const std::string& name) {
  const auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("num_batches_tracked")) return true;
  if (has("low_hz_") || has("band_hz_") || has("filterbank.window_") || has("filterbank.n_")) return true;
  if (c.model == "SincTDNN" && name.rfind("tdnn_.segment7.", 0) == 0) return true;
  return c.model == "RawNet3" && (name.rfind("bn1.", 0) == 0 || name.rfind("bn6.", 0) == 0);
}

std::shared_ptr<SpeakerNet> make(const Case& c) {
  ModelConfig mc;
  mc.n_mels = c.n_mels;
  mc.nOut = c.n_out;
  mc.encoder_type = c.encoder;
  mc.C = c.C;
  mc.seed = 7;
  auto m = make_model(c.model, mc);
  // Running statistics away from their 0/1 start, so a graph that ignored them (or swapped mean and var) would
  // show in the bit comparison.
  Rng rng(11);
  for (auto& [name, t] : m->named_buffers())
    if (name.find("running_var") != std::string::npos) uniform_(t, rng, 0.5, 1.5);
    else if (name.find("running_mean") != std::string::npos) uniform_(t, rng, -0.5, 0.5);
  m->eval();
  return m;
}

recipe::FrontEnd frontend_for(const Case& c) {
  if (c.preset == "waveform") return recipe::FrontEnd::waveform(16000);
  if (c.preset.ends_with("_mfcc")) {   // as apps/recipe/frontend.cpp builds it: the preset, CMN of the cepstra
    MfccConfig m = mfcc_preset(c.preset.substr(0, c.preset.size() - 5));
    m.norm = FbankNorm::mean;
    return recipe::FrontEnd(m);
  }
  FbankConfig fb = fbank_preset(c.preset);
  fb.n_mels = int(c.n_mels);
  return fb;
}

const onnx::TensorProto* find_initializer(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

bool is_symbolic(const onnx::TensorShapeProto_Dimension& d) { return d.has_dim_param() && !d.has_dim_value(); }

}  // namespace

TEST_CASE("onnx export: covered models pass the checker, keep dynamic axes and carry their tensors bit for bit") {
  for (const Case& c : covered_cases()) {
    SUBCASE((c.model + " " + c.encoder + " n_mels=" + std::to_string(c.n_mels)).c_str()) {
      const auto model = make(c);
      onnx::ModelProto mp = export_onnx(*model, frontend_for(c));
      CHECK_NOTHROW(onnx::checker::check_model(mp));

      const auto& g = mp.graph();
      REQUIRE(g.input_size() == 1);
      REQUIRE(g.output_size() == 1);
      CHECK(g.input(0).name() == "wav");
      CHECK(g.output(0).name() == "embedding");
      const auto& in = g.input(0).type().tensor_type().shape();
      REQUIRE(in.dim_size() == 2);
      CHECK(is_symbolic(in.dim(0)));
      CHECK(is_symbolic(in.dim(1)));
      // Shape inference over the whole graph (strict: a node whose shapes contradict its inputs throws) must find
      // the embedding (batch, nOut) with the batch axis still symbolic: nothing fixed it to a traced size.
      onnx::ShapeInferenceOptions opts{true, 1, false};
      CHECK_NOTHROW(onnx::shape_inference::InferShapes(mp, onnx::OpSchemaRegistry::Instance(), opts));
      const auto& out = mp.graph().output(0).type().tensor_type().shape();
      REQUIRE(out.dim_size() == 2);
      CHECK(is_symbolic(out.dim(0)));
      CHECK(out.dim(1).dim_value() == c.n_out);

      // Every parameter and every batch-norm statistic, under its state() name, with the model's bits.
      int64_t compared = 0;
      for (const auto& [name, t] : model->state()) {
        if (not_in_graph(c, name)) {
          CHECK_MESSAGE(find_initializer(g, name) == nullptr, name, " was expected outside the graph");
          continue;
        }
        const onnx::TensorProto* init = find_initializer(g, name);
        REQUIRE_MESSAGE(init != nullptr, name, " is not an initializer of the ", c.model, " graph");
        REQUIRE(init->data_type() == onnx::TensorProto::FLOAT);
        REQUIRE(init->dims_size() == t.dim());
        for (int64_t d = 0; d < t.dim(); ++d) CHECK(init->dims(int(d)) == t.size(d));
        const Tensor host = t.contiguous();
        REQUIRE(init->raw_data().size() == size_t(t.numel()) * sizeof(float));
        CHECK_MESSAGE(std::memcmp(init->raw_data().data(), host.data_ptr(), init->raw_data().size()) == 0, name,
                      " differs from the model's tensor");
        ++compared;
      }
      CHECK(compared > 0);
    }
  }
}

namespace {
// A model the exporter will never know: its refusal must name it.
class Unlisted : public SpeakerNet {
 public:
  Unlisted() : SpeakerNet(40, 8) {}
  Tensor forward(const Tensor& feats) override { return feats; }
  std::string name() const override { return "UnlistedNet"; }
};
}  // namespace

TEST_CASE("onnx export: an uncovered model or front end is refused, naming it") {
  Unlisted m;
  try {
    export_onnx(m, fbank_preset("resnetse34l"));
    FAIL("an uncovered model was exported");
  } catch (const ExportRefused& e) {
    CHECK(std::string(e.what()).find("UnlistedNet") != std::string::npos);
    CHECK(std::string(e.what()).find("not covered") != std::string::npos);
  }
  // The MFCC front end in dB (torchaudio's log_mels=False) is not exported: refused, naming it.
  const Case c{"TDNN", "wespeaker", "", 13, 8};
  const auto tdnn = make(c);
  MfccConfig mf = mfcc_preset("kaldi");
  mf.db = true;
  try {
    export_onnx(*tdnn, recipe::FrontEnd(mf));
    FAIL("an MFCC front end in dB was exported");
  } catch (const ExportRefused& e) {
    CHECK(std::string(e.what()).find("MFCC front end in dB") != std::string::npos);
  }
}

namespace {
// The graph's front end replayed in double on the host: frames of the (pre-emphasised, padded) signal times the
// folded frame/DFT matrix, squared, times the stacked mel matrix, offset, floor, log: (n_mels, T), not normalised.
std::vector<double> replay_log_mel(const FbankConfig& c, const std::vector<float>& wav, int64_t& T) {
  std::vector<double> s(wav.begin(), wav.end());
  const int64_t L = int64_t(s.size());
  int64_t frame = c.win_length;
  if (c.mode == FbankMode::torchaudio) {
    frame = c.n_fft;
    if (c.preemph > 0) {
      std::vector<double> y(s.size());
      y[0] = s[0] - c.preemph * s[1];
      for (int64_t n = 1; n < L; ++n) y[size_t(n)] = s[size_t(n)] - c.preemph * s[size_t(n - 1)];
      s = y;
    }
    const int64_t pad = c.n_fft / 2;
    std::vector<double> p;
    for (int64_t i = -pad; i < L + pad; ++i) p.push_back(s[size_t(i < 0 ? -i : i >= L ? 2 * (L - 1) - i : i)]);
    s = p;
  }
  T = fbank_num_frames(c, L);
  // The sample at position p of frame t: torchaudio's padded signal, or Kaldi's framing (snip or mirrored edges).
  const auto at = [&](int64_t t, int64_t p) {
    return c.mode == FbankMode::torchaudio ? s[size_t(t * c.hop_length + p)] : s[size_t(mfcc_frame_sample(c, t, p, L))];
  };
  const int64_t n_freq = c.n_fft / 2 + 1, M = c.n_mels;
  const std::vector<double> K = frame_dft_matrix(c), mel = stacked_mel_matrix(c);
  std::vector<double> feat(size_t(M * T));
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> power(size_t(2 * n_freq), 0.0);
    for (int64_t k = 0; k < 2 * n_freq; ++k) {
      double acc = 0;
      for (int64_t p = 0; p < frame; ++p) acc += at(t, p) * K[size_t(p * 2 * n_freq + k)];
      power[size_t(k)] = acc * acc;
    }
    for (int64_t m = 0; m < M; ++m) {
      double e = c.energy_offset;
      for (int64_t k = 0; k < 2 * n_freq; ++k) e += power[size_t(k)] * mel[size_t(k * M + m)];
      feat[size_t(m * T + t)] = c.log ? std::log(std::max(e, c.energy_floor)) : e;
    }
  }
  return feat;
}

std::vector<double> replay_fbank(const FbankConfig& c, const std::vector<float>& wav) {
  int64_t T = 0;
  std::vector<double> feat = replay_log_mel(c, wav, T);
  for (int64_t m = 0; m < c.n_mels; ++m) normalise_over_time(feat.data() + m * T, T, c.norm, c.norm_eps);
  return feat;
}

// MFCC as the graph computes it: DCT rows (lifter folded in) on the log-mel, c0 := the log of the DC-removed
// frame's energy (Kaldi use_energy, raw), CMN.
std::vector<double> replay_mfcc(const MfccConfig& m, const std::vector<float>& wav) {
  int64_t T = 0;
  const std::vector<double> lm = replay_log_mel(m.fbank, wav, T);
  const int64_t M = m.fbank.n_mels, K = m.n_ceps, L = int64_t(wav.size()), W = m.fbank.win_length;
  const std::vector<double> dct = mfcc_dct_table(m);
  std::vector<double> out(size_t(K * T), 0.0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < M; ++i) out[size_t(k * T + t)] += dct[size_t(k * M + i)] * lm[size_t(i * T + t)];
    if (!m.use_energy) continue;
    double mean = 0, e = 0;
    for (int64_t p = 0; p < W; ++p) mean += wav[size_t(mfcc_frame_sample(m.fbank, t, p, L))];
    mean /= double(W);
    for (int64_t p = 0; p < W; ++p) {
      const double d = wav[size_t(mfcc_frame_sample(m.fbank, t, p, L))] - mean;
      e += d * d;
    }
    double le = std::log(std::max(e * m.fbank.input_scale * m.fbank.input_scale, double(FLT_EPSILON)));
    if (m.energy_floor > 0) le = std::max(le, std::log(m.energy_floor));
    out[size_t(t)] = le;
  }
  for (int64_t k = 0; k < K; ++k) normalise_over_time(out.data() + k * T, T, m.norm, m.norm_eps);
  return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}
}  // namespace

TEST_CASE("onnx export: the front end's folded tables reproduce spk's fbank and MFCC") {
  Rng rng(5);
  const int64_t L = 3 * 160 + 240 + 37;   // not a whole number of hops
  std::vector<float> w(static_cast<size_t>(L));
  for (float& v : w) v = float(0.1 * rng.normal());
  const Tensor wav = Tensor::from_vector(w, {L});
  for (const std::string preset : {"resnetse34l", "resnetse34v2", "vggvox", "ecapa", "wespeaker", "3dspeaker",
                                   "wespeaker mirrored edges"}) {
    SUBCASE(preset.c_str()) {
      FbankConfig c = fbank_preset(preset.substr(0, preset.find(' ')));
      c.n_mels = 24;
      c.snip_edges = preset.find("mirrored") == std::string::npos;
      // The double replay against spk's double reference kernel (the op's default CPU path is the f32 fast path,
      // which is held to the reference at float-FFT rounding in tests/audio/test_fbank_gpu.cpp).
      const double worst = max_abs_diff(replay_fbank(c, w), fbank(wav, c, FbankCpuPath::reference).to_double());
      MESSAGE(preset, ": max |replay - fbank| = ", worst);
      CHECK(worst < 2e-6);   // f32 rounding of spk's output (|x| <~ 10) plus the double arithmetic's last bits
    }
  }
  for (const std::string preset : {"kaldi", "kaldi_voxceleb"}) {   // snip edges / mirrored edges and use_energy
    SUBCASE(("mfcc " + preset).c_str()) {
      MfccConfig m = mfcc_preset(preset);
      m.norm = FbankNorm::mean;
      // Against the double CPU reference (kernels/fbank/mfcc.h), the spec of spk's MFCC: the engine op itself
      // rounds the log-mel to f32 before its f32 DCT, and the lifter (up to 12x) makes that ~3e-5, while the graph
      // keeps double to the end, as the reference does.
      const std::vector<double> wd(w.begin(), w.end());
      std::vector<double> ref(static_cast<size_t>(m.n_ceps * fbank_num_frames(m.fbank, L)));
      mfcc_forward_cpu<double>(m, wd.data(), ref.data(), 1, L, 1);
      const double worst = max_abs_diff(replay_mfcc(m, w), ref);
      const double to_op = max_abs_diff(replay_mfcc(m, w), spk::mfcc(wav, m).to_double());
      MESSAGE("mfcc ", preset, ": max |replay - reference| = ", worst, ", max |replay - f32 op| = ", to_op);
      CHECK(worst < 1e-9);
      CHECK(to_op < 1e-4);
    }
  }
}
