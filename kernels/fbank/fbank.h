// Log-mel filterbank front end, forward only: waveforms (B, L) -> features (B, n_mels, T), f32 on the GPU,
// float or double on the CPU. Two bit-level-specified modes (docs/frontend.md; torchaudio
// torchaudio/transforms/_transforms.py MelSpectrogram and torchaudio/compliance/kaldi.py fbank):
//
//   torchaudio  torchaudio.transforms.MelSpectrogram as voxceleb_trainer / ECAPA call it: optional pre-emphasis of
//               the whole waveform (y[0] = x[0] - c·x[1], y[n] = x[n] - c·x[n-1]); center=True reflect pad of
//               n_fft/2 (frame t centred on sample t·hop) or center=False; *periodic* window of win_length
//               zero-padded and centred in the n_fft frame; |rfft|²; HTK mel filterbank (melscale_fbanks,
//               norm=None); + energy_offset (1e-6); natural log.
//   kaldi       torchaudio.compliance.kaldi.fbank as wespeaker / 3D-Speaker call it: snip_edges framing (or Kaldi's
//               symmetric edge padding); per frame: DC offset removal, pre-emphasis with the first sample using
//               itself (y[0] = x[0] - c·x[0]), *symmetric* window (povey = hann^0.85) placed at the start of an
//               n_fft = next_pow2(win_length) frame; |rfft|²; Kaldi mel bank (1127·ln(1 + f/700), triangles in
//               the mel domain, Nyquist bin weight 0); log(max(e, FLT_EPSILON)).
// Both: the waveform is first multiplied by input_scale (wespeaker: 2^15), and the log features are optionally
// normalised per utterance and mel bin over time: mean subtraction (ECAPA, CMN) or instance norm
// ((x - mean_t) / sqrt(var_t + eps), biased variance, as InstanceNorm1d).
//
// Forward only: front ends run under no_grad in every reference system, so there is no backward.
// Layouts: wav (B, L) dense row-major; out (B, n_mels, T) dense, T = fbank_num_frames(cfg, L).
// Kernels write (=) their outputs. Configs are checked by fbank_config_error / fbank_length_error (strings,
// empty when fine) so this floor needs no exception vocabulary; engine/audio/fbank.cpp turns them into spk::Error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace spk {

enum class FbankMode : uint8_t { torchaudio, kaldi };
// Window shapes. torchaudio mode uses torch's periodic windows (denominator N), kaldi mode Kaldi's symmetric ones
// (denominator N - 1); povey exists only in kaldi mode.
enum class FbankWindow : uint8_t { hamming, hann, povey, rectangular };
enum class FbankNorm : uint8_t { none, mean, instance };

struct FbankConfig {
  FbankMode mode = FbankMode::torchaudio;
  double sample_rate = 16000;
  int n_fft = 512;               // FFT length, a power of two; kaldi mode: must equal next_pow2(win_length)
  int win_length = 400;          // samples (kaldi: frame_length ms · sr / 1000)
  int hop_length = 160;          // samples (kaldi: frame_shift ms · sr / 1000)
  FbankWindow window = FbankWindow::hamming;
  bool center = true;            // torchaudio mode: reflect-pad n_fft/2 at both ends
  bool snip_edges = true;        // kaldi mode: frames lie wholly inside the signal
  bool remove_dc_offset = true;  // kaldi mode only
  double preemph = 0;            // pre-emphasis coefficient; 0 = off (kaldi default 0.97)
  int n_mels = 40;
  double f_min = 0;              // Hz (kaldi low_freq)
  double f_max = 0;              // Hz; <= 0 means Nyquist + f_max (kaldi high_freq convention; torchaudio None)
  double input_scale = 1;        // waveform multiplier applied first (wespeaker 32768)
  double energy_offset = 1e-6;   // added to the mel energies (torchaudio mode: voxceleb_trainer's +1e-6)
  double energy_floor = 0;       // log(max(e, floor)) (kaldi: FLT_EPSILON); applied only when log is on
  bool log = true;               // natural log of the (offset) energies (voxceleb_trainer --log_input)
  FbankNorm norm = FbankNorm::instance;
  double norm_eps = 1e-5;        // instance norm only
};

// Precomputed, config-only tables shared by the CPU reference and the CUDA kernel (built in double).
struct FbankTables {
  int n_fft = 0, n_freq = 0, n_mels = 0;     // n_freq = n_fft/2 + 1 one-sided bins
  int win_length = 0, win_offset = 0;        // window occupies frame positions [win_offset, win_offset + win_length)
  std::vector<double> window;                // (win_length)
  // Triangular filters stored packed: filter m has weights mel_weight[mel_offset[m] + j] on bins mel_first[m] + j,
  // j < mel_offset[m+1] - mel_offset[m] (the bins between its first and last nonzero weight; none if empty).
  std::vector<int32_t> mel_first;            // (n_mels)
  std::vector<int32_t> mel_offset;           // (n_mels + 1)
  std::vector<double> mel_weight;            // (mel_offset[n_mels])
  // The dense (n_mels, n_freq) filterbank, for tests and inspection.
  std::vector<double> dense_mel() const;
};

std::string fbank_config_error(const FbankConfig& cfg);            // "" when valid
std::string fbank_length_error(const FbankConfig& cfg, int64_t L); // "" when L samples make >= 1 frame validly
int64_t fbank_num_frames(const FbankConfig& cfg, int64_t L);        // frames for L samples (config assumed valid)
double fbank_f_max(const FbankConfig& cfg);                          // f_max resolved against Nyquist
FbankTables fbank_tables(const FbankConfig& cfg);                    // config assumed valid

// CPU reference: plain loops, double arithmetic inside, on `threads` threads of the work pool
// (kernels/common/work_pool.h; the engine passes cpu_threads()) over utterances, frame pairs and (utterance,
// mel) rows; every output is computed by one thread in a fixed order, so the result does not depend on threads.
// wav (B, L), out (B, n_mels, T).
// One row of features over time (Tn frames), in place: FbankNorm::mean subtracts the mean, ::instance is
// InstanceNorm1d's (x - mean) / sqrt(biased var + eps). Shared by the fbank and MFCC CPU references.
void normalise_over_time(double* row, int64_t Tn, FbankNorm norm, double eps);

template <class T> void fbank_forward_cpu(const FbankConfig& cfg, const T* wav, T* out, int64_t B, int64_t L,
                                          int threads);

// The signal the frames slide over, for one utterance of L samples already multiplied by input_scale: torchaudio
// mode pre-emphasised and (center) reflect-padded, so frame t starts at t·hop; kaldi mode as is (snip_edges) or
// mirrored. Window sample n of frame t is signal[t·hop + win_offset + n] (win_offset 0 in kaldi mode).
template <class T> std::vector<T> fbank_signal(const FbankConfig& cfg, const T* x_scaled, int64_t L);

// The fast CPU path (fbank_fast_cpu.cpp), what spk::fbank runs on the CPU: f32 throughout, 16 frames at a time
// through a real FFT vectorised across the frames, the sparse mel filters and a polynomial log. Agrees with
// fbank_forward_cpu to float rounding (tests/audio/test_fbank_gpu.cpp states the tolerance); like it, the bits do
// not depend on `threads` (they may on the CPU's instruction set: FMA contraction).
// isa picks the compiled variant (tests compare them all); one the CPU lacks falls back to best.
enum class FbankFastIsa : uint8_t { best, avx512, avx2, baseline };
bool fbank_fast_isa_supported(FbankFastIsa isa);
void fbank_forward_cpu_fast(const FbankConfig& cfg, const float* wav, float* out, int64_t B, int64_t L,
                            int threads, FbankFastIsa isa = FbankFastIsa::best);

// CUDA (f32), on the given stream. The tables travel as two flat arrays (fbank_cuda_pack); the engine uploads them
// once per config and passes the device pointers in FbankDeviceTables.
struct FbankCudaPack {
  std::vector<float> f;     // window (win_length) | mel_weight (n_weights)
  std::vector<int32_t> i;   // mel_first (n_mels) | mel_offset (n_mels + 1)
  int n_weights = 0;
};
struct FbankDeviceTables {
  const float* f = nullptr;     // device copy of FbankCudaPack::f
  const int32_t* i = nullptr;   // device copy of FbankCudaPack::i
  int n_weights = 0;
};
FbankCudaPack fbank_cuda_pack(const FbankTables& tables);
void fbank_forward_cuda(const FbankConfig& cfg, const float* wav, float* out, int64_t B, int64_t L,
                        const FbankDeviceTables& tables, void* stream);

}  // namespace spk
