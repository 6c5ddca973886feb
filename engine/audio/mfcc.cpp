// mfcc op: fbank, then table ops. The DCT-and-lifter matrix (and, for Kaldi's raw_energy = false, the window) is
// built once per (table fields, device) and cached for the life of the process, as fbank caches its device
// tables: a handful of configs, a few KB each.
#include "engine/audio/mfcc.h"

#include <cfloat>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace spk {

namespace {

const char* norm_name(FbankNorm n) {
  return n == FbankNorm::mean ? "mean" : n == FbankNorm::instance ? "instance" : "none";
}

// A config-only f32 table on a device, cached by key (hex-exact doubles) and device. Never destroyed: device memory
// must not be freed by static destructors after the CUDA runtime has shut down.
template <class Make>
Tensor cached_table(const std::string& key, Device device, const Shape& shape, Make make) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, Tensor>();
  const std::string k = device.str() + '|' + key;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(k);
  if (it != cache->end()) return it->second;
  return cache->emplace(k, Tensor::from_vector(make(), shape, DType::f32, device)).first->second;
}

Tensor dct_table(const MfccConfig& c, Device device) {
  std::ostringstream key;
  key << std::hexfloat << "dct|" << c.n_ceps << '|' << c.fbank.n_mels << '|' << c.lifter;
  return cached_table(key.str(), device, {c.n_ceps, c.fbank.n_mels}, [&] { return mfcc_dct_table(c); });
}

// Kaldi's per-frame log energy (kernels/fbank/mfcc.h mfcc_log_energy_cpu) from table ops: wav (B, L) -> (B, T).
// snip_edges frames are an overlapping strided view of the waveform; mirrored edges gather the samples by index.
Tensor frame_log_energy(const Tensor& wav, const MfccConfig& c) {
  const FbankConfig& fb = c.fbank;
  const int64_t B = wav.size(0), L = wav.size(1), T = fbank_num_frames(fb, L), W = fb.win_length;
  Tensor frames;
  if (fb.snip_edges) {
    frames = make_view(wav, {B, T, W}, {L, fb.hop_length, 1}, wav.offset());
  } else {
    std::vector<int64_t> index(static_cast<size_t>(T * W));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < W; ++n) index[size_t(t * W + n)] = mfcc_frame_sample(fb, t, n, L);
    frames = reshape(index_select(wav, 1, Tensor::from_vector(index, {T * W}, wav.device())), {B, T, W});
  }
  if (fb.input_scale != 1) frames = frames * fb.input_scale;
  if (fb.remove_dc_offset) frames = frames - mean(frames, {2}, true);
  if (!c.raw_energy) {
    if (fb.preemph != 0) {
      // Pre-emphasis inside the frame, the first sample using itself: y[n] = x[n] - c·x[max(n - 1, 0)].
      const Tensor prev = concat({slice(frames, 2, 0, 1), slice(frames, 2, 0, W - 1)}, 2);
      frames = frames - prev * fb.preemph;
    }
    std::ostringstream key;
    key << std::hexfloat << "window|" << fbank_config_str(fb);
    frames = frames * cached_table(key.str(), wav.device(), {W}, [&] { return fbank_tables(fb).window; });
  }
  const double inf = std::numeric_limits<double>::infinity();
  Tensor log_e = log(clamp(sum(frames * frames, {2}), double(FLT_EPSILON), inf));
  if (c.energy_floor > 0) log_e = clamp(log_e, std::log(c.energy_floor), inf);
  return log_e;
}

}  // namespace

Tensor mfcc(const Tensor& wav_in, const MfccConfig& cfg) {
  const std::string err = mfcc_config_error(cfg);
  SPK_CHECK(err.empty(), "mfcc: bad config: ", err, " [", mfcc_config_str(cfg), "]");
  SPK_CHECK(wav_in.defined(), "mfcc: undefined input");
  SPK_CHECK(wav_in.dim() == 1 || wav_in.dim() == 2, "mfcc: expects a waveform (L,) or a batch (B, L), got ",
            wav_in.str());
  SPK_CHECK(!needs_grad({wav_in}), "mfcc: has no backward (front ends run under no_grad), but ", wav_in.str(),
            " requires grad; wrap the call in NoGradGuard or detach() the input");
  const bool batched = wav_in.dim() == 2;
  const Tensor wav = (batched ? wav_in : unsqueeze(wav_in, 0)).contiguous();
  // (B, n_mels, T), natural log; checks dtype, grad and length. The double reference kernel: the cepstra sum every
  // band's log energy, so the fast path's float rounding would show above the MFCC goldens' tolerance.
  Tensor x = fbank(wav, cfg.fbank, FbankCpuPath::reference);
  const int64_t B = x.size(0), M = x.size(1), T = x.size(2);
  if (cfg.db) {
    x = x * (10.0 / std::log(10.0));
    if (cfg.top_db > 0 && B > 0 && T > 0) {
      // AmplitudeToDB's top_db: max(x, max over the utterance - top_db), i.e. floor + relu(x - floor).
      const Tensor floor = reshape(max(reshape(x, {B, M * T}), 1, true).first - cfg.top_db, {B, 1, 1});
      x = relu(x - floor) + floor;
    }
  }
  Tensor ceps = matmul(dct_table(cfg, x.device()), x);   // (n_ceps, M) @ (B, M, T) -> (B, n_ceps, T)
  if (cfg.use_energy && B > 0) {
    const Tensor energy = unsqueeze(frame_log_energy(wav, cfg), 1);   // (B, 1, T)
    ceps = cfg.n_ceps > 1 ? concat({energy, slice(ceps, 1, 1, cfg.n_ceps)}, 1) : energy;
  }
  if (cfg.norm == FbankNorm::mean && T > 0) ceps = ceps - mean(ceps, {2}, true);
  if (cfg.norm == FbankNorm::instance && B > 0) ceps = instance_norm1d(ceps, Tensor(), Tensor(), cfg.norm_eps);
  ceps = ceps.contiguous();
  return batched ? ceps : squeeze(ceps, 0);
}

MfccConfig mfcc_torchaudio_config(int n_mfcc, bool log_mels, FbankConfig mel) {
  MfccConfig c;
  mel.log = true;
  mel.norm = FbankNorm::none;
  mel.energy_offset = log_mels ? 1e-6 : 0.0;    // log(mel + 1e-6)
  mel.energy_floor = log_mels ? 0.0 : 1e-10;    // AmplitudeToDB: 10 log10(max(mel, amin = 1e-10))
  c.fbank = mel;
  c.n_ceps = n_mfcc;
  c.db = !log_mels;
  c.top_db = log_mels ? 0.0 : 80.0;
  return c;
}

MfccConfig mfcc_kaldi_config(int num_ceps, int num_mel_bins, double sample_rate, double frame_length_ms,
                             double frame_shift_ms) {
  MfccConfig c;
  c.fbank = fbank_kaldi_config(num_mel_bins, sample_rate, frame_length_ms, frame_shift_ms);
  c.n_ceps = num_ceps;
  c.lifter = 22;
  c.use_energy = false;
  c.raw_energy = true;
  c.energy_floor = 1.0;
  return c;
}

MfccConfig mfcc_preset(const std::string& name) {
  if (name == "kaldi") return mfcc_kaldi_config(13, 23);
  if (name == "kaldi_voxceleb") {
    MfccConfig c = mfcc_kaldi_config(30, 30);
    c.fbank.f_min = 20;
    c.fbank.f_max = 7600;
    c.fbank.snip_edges = false;
    c.fbank.input_scale = 32768;
    c.use_energy = true;
    c.energy_floor = 0;
    return c;
  }
  std::string names;
  for (const auto& n : mfcc_preset_names()) names += (names.empty() ? "" : ", ") + n;
  SPK_FAIL("mfcc: unknown preset '", name, "' (known: ", names, ")");
}

std::vector<std::string> mfcc_preset_names() { return {"kaldi", "kaldi_voxceleb"}; }

std::string mfcc_config_str(const MfccConfig& c) {
  std::ostringstream s;
  s << "n_ceps=" << c.n_ceps << " db=" << c.db << " top_db=" << c.top_db << " lifter=" << c.lifter;
  if (c.use_energy) s << " use_energy raw_energy=" << c.raw_energy << " energy_floor=" << c.energy_floor;
  s << " norm=" << norm_name(c.norm);
  if (c.norm == FbankNorm::instance) s << " eps=" << c.norm_eps;
  return s.str() + " | " + fbank_config_str(c.fbank);
}

}  // namespace spk
