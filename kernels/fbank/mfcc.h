// MFCC: the orthonormal DCT-II of the log-mel energies of the fbank front end (fbank.h), in the two conventions
// of docs/frontend.md ("MFCC"):
//
//   torchaudio  torchaudio.transforms.MFCC (torchaudio/transforms/_transforms.py; DCT from
//               torchaudio/functional/functional.py create_dct(n_mfcc, n_mels, 'ortho')): a torchaudio-mode
//               log-mel, either log_mels=True, ln(mel + 1e-6) (fbank energy_offset 1e-6), or log_mels=False,
//               AmplitudeToDB('power', top_db=80): 10·log10(max(mel, 1e-10)) (fbank energy_floor 1e-10, then
//               `db`), clamped from below at (max over the utterance) - top_db; then the DCT.
//   kaldi       torchaudio.compliance.kaldi.mfcc (Kaldi src/feat/feature-mfcc.cc): a kaldi-mode log-mel, the DCT
//               (Kaldi's ComputeDctMatrix: row 0 scaled by sqrt(1/n), the rest by sqrt(2/n), which is the same
//               orthonormal DCT-II), the cepstral lifter c_i *= 1 + Q/2·sin(πi/Q), and with use_energy c0
//               replaced by the log energy of the frame (before pre-emphasis and window with raw_energy, after
//               them without), floored at ln(energy_floor) when energy_floor > 0.
//
// The DCT is a small matrix (n_ceps, n_mels) with the lifter folded into its rows, built once per config
// (mfcc_dct_table), so the engine op is fbank followed by a matmul (engine/audio/mfcc.h). This header also holds
// the double-precision CPU reference the op and the golden files are checked against. Forward only, like fbank.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/fbank/fbank.h"

namespace spk {

struct MfccConfig {
  FbankConfig fbank;            // the log-mel stage: log must be on and norm none (the cepstra have `norm` below)
  int n_ceps = 13;              // coefficients kept, c0 included (torchaudio n_mfcc, Kaldi num_ceps); <= n_mels
  bool db = false;              // convert the natural-log mels to dB (×10/ln 10): torchaudio log_mels=False
  double top_db = 0;            // with db: clamp each utterance's dB mels from below at its max - top_db; 0 = off
  double lifter = 0;            // cepstral lifter Q (Kaldi cepstral_lifter, default 22); 0 = off
  bool use_energy = false;      // kaldi mode only: c0 := log frame energy (after the lifter, as Kaldi)
  bool raw_energy = true;       // use_energy: energy of the DC-removed frame before pre-emphasis and window
  double energy_floor = 0;      // use_energy: log energy floored at ln(energy_floor) when > 0 (absolute, not log)
  FbankNorm norm = FbankNorm::none;   // over time, per utterance and coefficient, after everything else
  double norm_eps = 1e-5;       // instance norm only
};

std::string mfcc_config_error(const MfccConfig& cfg);   // "" when valid (includes fbank_config_error)

// The (n_ceps, n_mels) matrix, row-major, that maps a log-mel column to its cepstra: the orthonormal DCT-II
// sqrt(2/M)·cos(π/M·(m + 1/2)·k), row 0 times 1/sqrt(2), each row k times the lifter 1 + Q/2·sin(πk/Q) when Q != 0.
std::vector<double> mfcc_dct_table(const MfccConfig& cfg);

// Kaldi-mode framing: the input sample that position n of frame t holds, for L samples (snip_edges: t·hop + n;
// otherwise the mirrored signal of fbank_cpu.cpp, the edge sample repeated: x[-1] = x[0], x[L] = x[L-1]).
int64_t mfcc_frame_sample(const FbankConfig& fb, int64_t t, int64_t n, int64_t L);

// Per-frame log energy for use_energy, in double: out (B, T), T = fbank_num_frames(cfg.fbank, L), of the framing
// the kaldi-mode fbank uses (snip_edges or mirrored edges), after input_scale and DC removal, with or without
// pre-emphasis and window (raw_energy), ln(max(sum x², FLT_EPSILON)), then the energy_floor.
void mfcc_log_energy_cpu(const MfccConfig& cfg, const double* wav, double* out, int64_t B, int64_t L);

// The reference: fbank_forward_cpu<double>, dB and top_db, DCT and lifter, energy, normalisation, all in double;
// T sets only the I/O type. wav (B, L), out (B, n_ceps, T). Config assumed valid (mfcc_config_error).
template <class T> void mfcc_forward_cpu(const MfccConfig& cfg, const T* wav, T* out, int64_t B, int64_t L,
                                         int threads);

}  // namespace spk
