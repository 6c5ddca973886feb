// MFCC front end as a Tensor op: the orthonormal DCT-II of the fbank op's log-mel energies, in torchaudio's
// (transforms.MFCC) and Kaldi's (compliance.kaldi.mfcc, compute-mfcc-feats) conventions.
//
//   Tensor ceps = spk::mfcc(wav, spk::mfcc_kaldi_config(13, 23));   // wav f32 (B, L) or (L,) on cpu or cuda
//   // ceps f32 (B, n_ceps, T) or (n_ceps, T) on the same device, T as fbank's
//
// A composition, not a kernel of its own: fbank (its CPU or CUDA kernel), then table ops (mul_scalar, max, relu,
// matmul with the cached (n_ceps, n_mels) DCT-and-lifter matrix, concat for Kaldi's energy, mean or
// instance_norm1d), so it runs wherever fbank and those ops run. Forward only, like fbank: it refuses an input that
// requires grad while grad mode is on. Conventions, options, sources and where we differ: kernels/fbank/mfcc.h,
// docs/frontend.md ("MFCC").
#pragma once
#include <string>
#include <vector>

#include "engine/audio/fbank.h"
#include "engine/tensor.h"
#include "kernels/fbank/mfcc.h"

namespace spk {

// wav (B, L) -> (B, n_ceps, T), or (L,) -> (n_ceps, T). Throws spk::Error naming "mfcc" for a bad config, and
// fbank's errors for a bad or too-short waveform.
Tensor mfcc(const Tensor& wav, const MfccConfig& cfg);

// torchaudio.transforms.MFCC(sample_rate, n_mfcc, dct_type=2, norm='ortho', log_mels, melkwargs): `mel` is the
// MelSpectrogram of melkwargs as a torchaudio-mode FbankConfig (its log fields and norm are set here);
// log_mels=false gives AmplitudeToDB('power', top_db=80), true gives ln(mel + 1e-6).
MfccConfig mfcc_torchaudio_config(int n_mfcc, bool log_mels, FbankConfig mel);

// torchaudio.compliance.kaldi.mfcc's defaults (povey window, pre-emphasis 0.97, DC removal, snip_edges, 20 Hz to
// Nyquist, lifter 22, use_energy false, energy_floor 1.0) with num_ceps and num_mel_bins. Kaldi's own
// compute-mfcc-feats defaults differ in two fields: use_energy true, energy_floor 0.
MfccConfig mfcc_kaldi_config(int num_ceps = 13, int num_mel_bins = 23, double sample_rate = 16000,
                             double frame_length_ms = 25, double frame_shift_ms = 10);

// Presets, by the recipe whose front end they reproduce:
//   kaldi           torchaudio.compliance.kaldi.mfcc's defaults (mfcc_kaldi_config(13, 23)), 16 kHz
//   kaldi_voxceleb  Kaldi's x-vector recipe (egs/voxceleb/v2/conf/mfcc.conf): 30 mels, 30 ceps, 20-7600 Hz,
//                   snip_edges false, compute-mfcc-feats' use_energy (true) and energy_floor (0), lifter 22, samples
//                   as int16 values (input_scale 2^15, as Kaldi reads wav files); no normalisation here (the recipe's
//                   sliding CMN: docs/frontend.md)
MfccConfig mfcc_preset(const std::string& name);
std::vector<std::string> mfcc_preset_names();

// One line naming every field, for logs.
std::string mfcc_config_str(const MfccConfig& cfg);

}  // namespace spk
