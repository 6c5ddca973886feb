// The log-mel front end as a Tensor op, plus the configurations of the systems we must match.
//
//   Tensor feats = spk::fbank(wav, spk::fbank_preset("resnetse34l"));   // wav f32 (B, L) or (L,) on cpu or cuda
//   // feats f32 (B, n_mels, T) or (n_mels, T) on the same device
//
// Forward only, f32 only: every reference system computes its features under no_grad in fp32, so fbank records no
// autograd node and refuses inputs that require grad while grad mode is on. The two modes, each option, and where
// we deliberately differ from the references: kernels/fbank/fbank.h, docs/frontend.md.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "kernels/fbank/fbank.h"

namespace spk {

// Features for each waveform row: wav (B, L) -> (B, n_mels, T), or (L,) -> (n_mels, T), T = fbank_num_frames(cfg, L).
// Throws spk::Error naming "fbank" for a bad config, a too-short input, a non-f32 input or one requiring grad.
Tensor fbank(const Tensor& wav, const FbankConfig& cfg);

// Which CPU kernel the op runs: `fast` (the default above: f32, vectorised across frames; float FFT rounding, whose
// floor is ~140 dB below a frame's strongest bin, as the CUDA kernel's) or `reference` (fbank_forward_cpu: double
// inside, torchaudio to float rounding; ~15x slower). The GPU ignores it.
enum class FbankCpuPath { fast, reference };
Tensor fbank(const Tensor& wav, const FbankConfig& cfg, FbankCpuPath cpu_path);

// Frames produced for L samples (after validating the config and the length).
int64_t fbank_frames(const FbankConfig& cfg, int64_t L);

// Presets, each read from the front end of the reference's code (voxceleb_trainer models/ResNetSE34L.py,
// models/ResNetSE34V2.py, models/VGGVox.py; TaoRuijie/ECAPA-TDNN model.py; wespeaker wespeaker/dataset/processor.py
// compute_fbank; 3D-Speaker speakerlab/process/processor.py FBank):
//   resnetse34l   voxceleb_trainer ResNetSE34L: torchaudio, hamming, 40 mels, +1e-6, log, instance norm
//   resnetse34v2  voxceleb_trainer ResNetSE34V2: as resnetse34l with pre-emphasis 0.97 and 64 mels
//   vggvox        voxceleb_trainer VGGVox / CEL: as resnetse34l with the (periodic) Hann window
//   ecapa         TaoRuijie ECAPA-TDNN: pre-emphasis 0.97, hamming, 80 mels, 20-7600 Hz, log, mean subtraction
//   wespeaker     wespeaker: kaldi, 25/10 ms, hamming, 80 mels, input ×2^15, dither 0, log, CMN
//   3dspeaker     3D-Speaker: kaldi, 25/10 ms, povey, 80 mels, input ×1, dither 0, log, CMN
FbankConfig fbank_preset(const std::string& name);
std::vector<std::string> fbank_preset_names();

// A Kaldi-mode config with Kaldi's defaults (povey window, pre-emphasis 0.97, DC removal, snip_edges, low_freq 20,
// high_freq Nyquist, FLT_EPSILON log floor, no normalisation), frames from milliseconds as torchaudio computes them
// (int(sr · ms / 1000)), n_fft the next power of two.
FbankConfig fbank_kaldi_config(int n_mels, double sample_rate = 16000, double frame_length_ms = 25,
                               double frame_shift_ms = 10);

// One line naming every field, for logs and bench output.
std::string fbank_config_str(const FbankConfig& cfg);

}  // namespace spk
