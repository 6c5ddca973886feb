// fbank op: validation, dispatch to kernels/fbank, presets. The CUDA path keeps the config's window and filterbank
// tables on the device, built once per (config, device) and cached for the life of the process (a handful of
// configs, a few KB each), so a steady-state call is two kernel launches and no host-to-device copy.
#include "engine/audio/fbank.h"

#include <cfloat>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>

#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "kernels/fft/fft.h"

namespace spk {

namespace {

const char* window_name(FbankWindow w) {
  switch (w) {
    case FbankWindow::hamming: return "hamming";
    case FbankWindow::hann: return "hann";
    case FbankWindow::povey: return "povey";
    case FbankWindow::rectangular: return "rectangular";
  }
  return "?";
}

const char* norm_name(FbankNorm n) {
  switch (n) {
    case FbankNorm::none: return "none";
    case FbankNorm::mean: return "mean";
    case FbankNorm::instance: return "instance";
  }
  return "?";
}

void check_config(const FbankConfig& cfg) {
  const std::string err = fbank_config_error(cfg);
  SPK_CHECK(err.empty(), "fbank: bad config: ", err, " [", fbank_config_str(cfg), "]");
}

#if SPK_HAVE_CUDA
struct DeviceTables {
  Tensor f, i;
  int n_weights = 0;
};

// Keyed by every field (hex-exact doubles) and the device index.
const DeviceTables& device_tables(const FbankConfig& cfg, Device device) {
  static std::mutex mu;
  // Never destroyed: device memory must not be freed by static destructors after the CUDA runtime has shut down.
  static auto* cache = new std::map<std::string, DeviceTables>();
  std::ostringstream key;
  key << std::hexfloat << device.index << '|' << fbank_config_str(cfg) << '|' << cfg.sample_rate << '|' << cfg.f_min
      << '|' << cfg.f_max << '|' << cfg.preemph << '|' << cfg.input_scale << '|' << cfg.energy_offset << '|'
      << cfg.energy_floor << '|' << cfg.norm_eps;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(key.str());
  if (it != cache->end()) return it->second;
  const FbankCudaPack pack = fbank_cuda_pack(fbank_tables(cfg));
  DeviceTables t;
  t.f = Tensor::from_vector(pack.f, {int64_t(pack.f.size())}, device);
  t.i = Tensor::from_vector(std::vector<double>(pack.i.begin(), pack.i.end()), {int64_t(pack.i.size())}, DType::i32,
                            device);
  t.n_weights = pack.n_weights;
  return cache->emplace(key.str(), std::move(t)).first->second;
}
#endif

}  // namespace

int64_t fbank_frames(const FbankConfig& cfg, int64_t L) {
  check_config(cfg);
  const std::string err = fbank_length_error(cfg, L);
  SPK_CHECK(err.empty(), "fbank: input of ", L, " samples is too short: ", err);
  return fbank_num_frames(cfg, L);
}

Tensor fbank(const Tensor& wav_in, const FbankConfig& cfg) { return fbank(wav_in, cfg, FbankCpuPath::fast); }

Tensor fbank(const Tensor& wav_in, const FbankConfig& cfg, FbankCpuPath cpu_path) {
  SPK_CHECK(wav_in.defined(), "fbank: undefined input");
  SPK_CHECK(wav_in.dim() == 1 || wav_in.dim() == 2, "fbank: expects a waveform (L,) or a batch (B, L), got ",
            wav_in.str());
  SPK_CHECK(wav_in.dtype() == DType::f32, "fbank: expects f32 waveforms, got ", wav_in.str());
  SPK_CHECK(!needs_grad({wav_in}), "fbank: has no backward (front ends run under no_grad), but ", wav_in.str(),
            " requires grad; wrap the call in NoGradGuard or detach() the input");
  check_config(cfg);
  const bool batched = wav_in.dim() == 2;
  const int64_t B = batched ? wav_in.size(0) : 1, L = wav_in.size(-1);
  const std::string err = fbank_length_error(cfg, L);
  SPK_CHECK(err.empty(), "fbank: input ", wav_in.str(), " is too short: ", err);
  const int64_t T = fbank_num_frames(cfg, L);

  const Tensor wav = wav_in.contiguous();
  Tensor out = Tensor::empty({B, cfg.n_mels, T}, DType::f32, wav.device());
  if (B > 0) {
    if (wav.device().is_cpu()) {
      if (cpu_path == FbankCpuPath::fast)
        fbank_forward_cpu_fast(cfg, wav.data<float>(), out.data<float>(), B, L, cpu_threads());
      else
        fbank_forward_cpu<float>(cfg, wav.data<float>(), out.data<float>(), B, L, cpu_threads());
    } else {
      SPK_CUDA_ONLY({
        const DeviceTables& t = device_tables(cfg, wav.device());
        fbank_forward_cuda(cfg, wav.data<float>(), out.data<float>(), B, L,
                           FbankDeviceTables{t.f.data<float>(), t.i.data<int32_t>(), t.n_weights},
                           cuda::current_stream());
      });
    }
  }
  return batched ? out : make_view(out, {cfg.n_mels, T}, {T, 1}, 0);
}

FbankConfig fbank_kaldi_config(int n_mels, double sample_rate, double frame_length_ms, double frame_shift_ms) {
  FbankConfig c;
  c.mode = FbankMode::kaldi;
  c.sample_rate = sample_rate;
  c.win_length = int(sample_rate * frame_length_ms * 0.001);
  c.hop_length = int(sample_rate * frame_shift_ms * 0.001);
  c.n_fft = int(next_pow2(std::max(1, c.win_length)));
  c.window = FbankWindow::povey;
  c.snip_edges = true;
  c.remove_dc_offset = true;
  c.preemph = 0.97;
  c.n_mels = n_mels;
  c.f_min = 20;
  c.f_max = 0;
  c.input_scale = 1;
  c.energy_offset = 0;
  c.energy_floor = FLT_EPSILON;   // torch.finfo(torch.float).eps, whatever the input dtype
  c.log = true;
  c.norm = FbankNorm::none;
  return c;
}

FbankConfig fbank_preset(const std::string& name) {
  FbankConfig c;   // the defaults are voxceleb_trainer's MelSpectrogram (models/ResNetSE34L.py)
  if (name == "resnetse34l") return c;
  if (name == "resnetse34v2") {
    c.preemph = 0.97;
    c.n_mels = 64;
    return c;
  }
  if (name == "vggvox") {
    c.window = FbankWindow::hann;
    return c;
  }
  if (name == "ecapa") {
    c.preemph = 0.97;
    c.n_mels = 80;
    c.f_min = 20;
    c.f_max = 7600;
    c.norm = FbankNorm::mean;
    return c;
  }
  if (name == "wespeaker") {
    c = fbank_kaldi_config(80);
    c.window = FbankWindow::hamming;
    c.input_scale = 32768;
    c.norm = FbankNorm::mean;
    return c;
  }
  if (name == "3dspeaker") {
    c = fbank_kaldi_config(80);
    c.norm = FbankNorm::mean;
    return c;
  }
  std::string names;
  for (const auto& n : fbank_preset_names()) names += (names.empty() ? "" : ", ") + n;
  SPK_FAIL("fbank: unknown preset '", name, "' (known: ", names, ")");
}

std::vector<std::string> fbank_preset_names() {
  return {"resnetse34l", "resnetse34v2", "vggvox", "ecapa", "wespeaker", "3dspeaker"};
}

std::string fbank_config_str(const FbankConfig& c) {
  std::ostringstream s;
  s << (c.mode == FbankMode::kaldi ? "kaldi" : "torchaudio") << " sr=" << c.sample_rate << " n_fft=" << c.n_fft
    << " win=" << c.win_length << " hop=" << c.hop_length << " window=" << window_name(c.window);
  if (c.mode == FbankMode::torchaudio)
    s << " center=" << c.center;
  else
    s << " snip_edges=" << c.snip_edges << " remove_dc=" << c.remove_dc_offset;
  s << " preemph=" << c.preemph << " n_mels=" << c.n_mels << " f_min=" << c.f_min << " f_max=" << c.f_max
    << " scale=" << c.input_scale << " offset=" << c.energy_offset << " floor=" << c.energy_floor << " log=" << c.log
    << " norm=" << norm_name(c.norm);
  if (c.norm == FbankNorm::instance) s << " eps=" << c.norm_eps;
  return s.str();
}

}  // namespace spk
