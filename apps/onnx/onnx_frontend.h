// The front end as ONNX ops: the graph input wav (B, L) f32 -> what the model takes, exactly as
// recipe::FrontEnd::features computes it (engine/audio/fbank.h, engine/audio/mfcc.h, kernels/fbank/):
//   fbank     (B, n_mels, T) log-mel features, both of spk's modes (torchaudio, and kaldi with snip_edges or
//             mirrored edges);
//   MFCC      (B, n_ceps, T): the log-mel times the DCT (lifter folded in), Kaldi's raw log energy as c0 with
//             use_energy, normalised over time; the dB variant (db, top_db) is refused;
//   waveform  (B, 1, L), the samples unchanged (SincTDNN, RawNet3 normalise inside the model).
//
// How the fbank is laid out, and why in double: spk computes the whole fbank in double and rounds to f32 after the
// normalisation; an f32 DFT would put errors of ~1e-3 into the log of quiet bins, far above the 1e-4 the exported
// embeddings must meet. So the graph casts the waveform to double and
//   (torchaudio) pre-emphasises the whole signal (reflect pad of one sample, y[n] = x[n] - c·x[n-1]) and reflect-pads
//                n_fft/2 at each end (center=True);
//   frames it with one Gather of indices t·hop + p, built at run time from the signal's length (Shape, Range), so
//                the time axis is dynamic: (B, T, frame) with frame = n_fft (torchaudio) or win_length (kaldi);
//   multiplies by one (frame, 2·n_freq) matrix that holds, folded together in double, everything per frame that is
//                linear: input_scale, the window placed in the n_fft frame, and for kaldi the DC-offset removal and
//                the in-frame pre-emphasis, then the real and imaginary DFT rows;
//   squares, multiplies by the mel matrix stacked twice (2·n_freq, n_mels) (re² + im² summed by the MatMul),
//   adds energy_offset, floors at energy_floor, takes the log, normalises over time (mean or instance norm),
//   and casts to f32. The MFCC keeps double through its DCT, as spk's double reference does (the f32 engine op
//   rounds the log-mel first: up to ~3e-5 apart on lifted cepstra).
#pragma once
#include <string>

#include "apps/onnx/onnx_graph.h"
#include "apps/recipe/frontend.h"

namespace spk::onnx_export {

// wav: the (B, L) f32 graph input. Returns the model's input value.
std::string front_end(Graph& g, const recipe::FrontEnd& fe, const std::string& wav);

// The (frame, 2·n_freq) matrix described above, row-major, and the (2·n_freq, n_mels) stacked mel matrix (tests).
std::vector<double> frame_dft_matrix(const FbankConfig& cfg);
std::vector<double> stacked_mel_matrix(const FbankConfig& cfg);

}  // namespace spk::onnx_export
