// The front end as ONNX ops (see onnx_frontend.h).
#include "apps/onnx/onnx_frontend.h"

#include <cfloat>
#include <climits>
#include <cmath>
#include <numbers>

#include "apps/onnx/onnx_export.h"
#include "engine/audio/fbank.h"
#include "engine/audio/mfcc.h"

namespace spk::onnx_export {

namespace {

int64_t frame_length(const FbankConfig& c) { return c.mode == FbankMode::torchaudio ? c.n_fft : c.win_length; }

// One raw frame -> the n_fft samples the DFT sees, as kernels/fbank/fbank_cpu.cpp build_frame computes it
// (torchaudio: the window centred in the frame; kaldi: DC removal, in-frame pre-emphasis, window at the start),
// with input_scale applied. Linear in `raw`, so applying it to unit vectors gives its matrix.
std::vector<double> frame_transform(const FbankConfig& c, const FbankTables& tb, std::vector<double> raw) {
  for (double& v : raw) v *= c.input_scale;
  std::vector<double> f(size_t(c.n_fft), 0.0);
  if (c.mode == FbankMode::torchaudio) {
    for (int n = 0; n < tb.win_length; ++n)
      f[size_t(tb.win_offset + n)] = raw[size_t(tb.win_offset + n)] * tb.window[size_t(n)];
    return f;
  }
  if (c.remove_dc_offset) {
    double mean = 0;
    for (double v : raw) mean += v;
    mean /= double(raw.size());
    for (double& v : raw) v -= mean;
  }
  for (int n = 0; n < tb.win_length; ++n) {
    const double prev = raw[size_t(n > 0 ? n - 1 : 0)];
    f[size_t(n)] = (raw[size_t(n)] - c.preemph * prev) * tb.window[size_t(n)];
  }
  return f;
}

// Cast a value to double / float.
std::string cast(Graph& g, const std::string& x, int to) { return g.node("Cast", {x}, {{"to", int64_t(to)}}); }

// torchaudio mode's whole-signal steps: pre-emphasis with a reflect pad of one sample (y[0] = x[0] - c·x[1]), then
// the center=True reflect pad of n_fft/2 at each end. s (B, L) double.
std::string torchaudio_signal(Graph& g, const FbankConfig& c, std::string s) {
  if (c.preemph > 0) {
    const std::string p = g.node("Pad", {s, g.ints({0, 1, 0, 0})}, {{"mode", std::string("reflect")}});
    const std::string cur = g.node("Slice", {p, g.ints({1}), g.ints({INT64_MAX}), g.ints({1})});
    const std::string prev = g.node("Slice", {p, g.ints({0}), g.ints({-1}), g.ints({1})});
    s = g.node("Sub", {cur, g.node("Mul", {prev, g.const_f64("preemph", {c.preemph}, {})})});
  }
  if (!c.center) return s;
  const int64_t pad = c.n_fft / 2;
  return g.node("Pad", {s, g.ints({0, pad, 0, pad})}, {{"mode", std::string("reflect")}});
}

// s (B, N) -> frames (B, T, frame), from s's run-time length N: frame t holds s[t·hop + p - shift], p < frame.
// torchaudio and kaldi snip_edges: shift 0, T = (N - frame) / hop + 1. kaldi without snip_edges (fbank_cpu.cpp
// kaldi_signal): shift = win/2 - hop/2, T = (N + hop/2) / hop, and an index outside [0, N) mirrored with the edge
// sample repeated (j < 0 -> -j - 1, j >= N -> 2N - 1 - j), which no ONNX Pad mode does, hence Where.
std::string frames(Graph& g, const FbankConfig& c, const std::string& s) {
  const int64_t frame = frame_length(c), hop = c.hop_length;
  const bool mirror = c.mode == FbankMode::kaldi && !c.snip_edges;
  const int64_t shift = mirror ? c.win_length / 2 - hop / 2 : 0;
  const std::string n = g.node("Gather", {g.node("Shape", {s}), g.scalar_i64(1)}, {{"axis", int64_t(0)}});
  const std::string t =
      mirror ? g.node("Div", {g.node("Add", {n, g.scalar_i64(hop / 2)}), g.scalar_i64(hop)})
             : g.node("Add", {g.node("Div", {g.node("Sub", {n, g.scalar_i64(frame)}), g.scalar_i64(hop)}),
                              g.scalar_i64(1)});
  const std::string starts = g.node("Mul", {g.node("Range", {g.scalar_i64(0), t, g.scalar_i64(1)}), g.scalar_i64(hop)});
  std::vector<int64_t> offsets(static_cast<size_t>(frame));
  for (int64_t p = 0; p < frame; ++p) offsets[size_t(p)] = p - shift;
  std::string idx = g.node("Add", {g.node("Unsqueeze", {starts, g.ints({1})}),
                                   g.const_i64("frame_offsets", offsets, {1, frame})});   // (T, frame)
  if (mirror) {
    const std::string below = g.node("Sub", {g.node("Neg", {idx}), g.scalar_i64(1)});
    idx = g.node("Where", {g.node("Less", {idx, g.scalar_i64(0)}), below, idx});
    const std::string above = g.node("Sub", {g.node("Sub", {g.node("Mul", {n, g.scalar_i64(2)}), g.scalar_i64(1)}), idx});
    idx = g.node("Where", {g.node("Less", {idx, n}), idx, above});
  }
  return g.node("Gather", {s, idx}, {{"axis", int64_t(1)}});
}

struct LogMel {
  std::string value;    // (B, T, n_mels) double: log (or not) of the offset, floored mel energies
  std::string frames;   // (B, T, frame) double: the raw frames (kaldi) it came from, unscaled
};

LogMel log_mel(Graph& g, const FbankConfig& c, const std::string& wav) {
  const int64_t frame = frame_length(c), n_freq = c.n_fft / 2 + 1;
  std::string s = cast(g, wav, onnx::TensorProto::DOUBLE);
  if (c.mode == FbankMode::torchaudio) s = torchaudio_signal(g, c, s);
  const std::string fr = frames(g, c, s);                                                          // (B, T, frame)
  const std::string spec = g.node("MatMul", {fr, g.const_f64("frame_dft", frame_dft_matrix(c), {frame, 2 * n_freq})});
  const std::string power = g.node("Mul", {spec, spec});
  std::string e = g.node("MatMul", {power, g.const_f64("mel", stacked_mel_matrix(c), {2 * n_freq, c.n_mels})});
  if (c.energy_offset != 0) e = g.node("Add", {e, g.const_f64("energy_offset", {c.energy_offset}, {})});
  if (c.log) {
    if (c.energy_floor > 0) e = g.node("Max", {e, g.const_f64("energy_floor", {c.energy_floor}, {})});
    e = g.node("Log", {e});
  }
  return {e, fr};
}

// (B, T, K) double -> (B, K, T) normalised over time (mean subtraction, or instance norm: biased variance, eps
// inside the square root), then f32.
std::string normalise_over_time(Graph& g, std::string e, FbankNorm norm, double eps) {
  e = g.node("Transpose", {e}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  if (norm != FbankNorm::none) {
    const auto mean_t = [&](const std::string& v) {
      return g.node("ReduceMean", {v}, {{"axes", std::vector<int64_t>{2}}, {"keepdims", int64_t(1)}});
    };
    e = g.node("Sub", {e, mean_t(e)});
    if (norm == FbankNorm::instance) {
      const std::string var = mean_t(g.node("Mul", {e, e}));
      e = g.node("Div", {e, g.node("Sqrt", {g.node("Add", {var, g.const_f64("norm_eps", {eps}, {})})})});
    }
  }
  return cast(g, e, onnx::TensorProto::FLOAT);
}

std::string fbank(Graph& g, const FbankConfig& c, const std::string& wav) {
  return normalise_over_time(g, log_mel(g, c, wav).value, c.norm, c.norm_eps);
}

// Kaldi's use_energy with raw_energy: ln(max(Σ (x - mean)², FLT_EPSILON)) of each scaled raw frame, floored at
// ln(energy_floor) (kernels/fbank/mfcc_cpu.cpp mfcc_log_energy_cpu). frames (B, T, W) -> (B, T, 1).
std::string log_energy(Graph& g, const MfccConfig& m, const std::string& frames) {
  const std::string d = g.node("Sub", {frames, g.node("ReduceMean", {frames}, {{"axes", std::vector<int64_t>{2}},
                                                                               {"keepdims", int64_t(1)}})});
  const double scale2 = m.fbank.input_scale * m.fbank.input_scale;
  std::string e = g.node("ReduceSum", {g.node("Mul", {d, d}), g.ints({2})}, {{"keepdims", int64_t(1)}});
  e = g.node("Mul", {e, g.const_f64("energy_scale", {scale2}, {})});
  e = g.node("Log", {g.node("Max", {e, g.const_f64("flt_epsilon", {double(FLT_EPSILON)}, {})})});
  if (m.energy_floor > 0) e = g.node("Max", {e, g.const_f64("log_energy_floor", {std::log(m.energy_floor)}, {})});
  return e;
}

// MFCC (kernels/fbank/mfcc.h): the log-mel, times the DCT with the lifter folded in, c0 replaced by the log energy
// with use_energy, normalised over time.
std::string mfcc(Graph& g, const MfccConfig& m, const std::string& wav) {
  if (m.db) throw ExportRefused("the MFCC front end in dB (db, top_db: torchaudio log_mels=False) is not exported yet");
  if (m.use_energy && !(m.fbank.mode == FbankMode::kaldi && m.fbank.remove_dc_offset && m.raw_energy))
    throw ExportRefused("the MFCC front end's use_energy is exported only as Kaldi's raw energy of DC-removed frames");
  const LogMel lm = log_mel(g, m.fbank, wav);
  const int64_t M = m.fbank.n_mels, K = m.n_ceps;
  const std::vector<double> dct = mfcc_dct_table(m);   // (K, M)
  std::vector<double> dct_t(size_t(M * K));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < M; ++i) dct_t[size_t(i * K + k)] = dct[size_t(k * M + i)];
  std::string ceps = g.node("MatMul", {lm.value, g.const_f64("dct", dct_t, {M, K})});                // (B, T, K)
  if (m.use_energy) {
    const std::string rest = g.node("Slice", {ceps, g.ints({1}), g.ints({INT64_MAX}), g.ints({2})});
    ceps = g.node("Concat", {log_energy(g, m, lm.frames), rest}, {{"axis", int64_t(2)}});
  }
  return normalise_over_time(g, ceps, m.norm, m.norm_eps);
}

}  // namespace

std::vector<double> frame_dft_matrix(const FbankConfig& c) {
  const FbankTables tb = fbank_tables(c);
  const int64_t frame = frame_length(c), n = c.n_fft, n_freq = n / 2 + 1;
  std::vector<double> k(size_t(frame * 2 * n_freq), 0.0);
  // cos and sin of 2π·i/n, looked up at (b·q) mod n: the angle stays small, so the values are exact to the last
  // bits for long frames, and the kaldi matrix (every entry of a frame nonzero after DC removal) builds quickly.
  std::vector<double> cos_t(static_cast<size_t>(n)), sin_t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    cos_t[size_t(i)] = std::cos(2.0 * std::numbers::pi * double(i) / double(n));
    sin_t[size_t(i)] = std::sin(2.0 * std::numbers::pi * double(i) / double(n));
  }
  for (int64_t j = 0; j < frame; ++j) {
    std::vector<double> unit(size_t(frame), 0.0);
    unit[size_t(j)] = 1.0;
    const std::vector<double> f = frame_transform(c, tb, unit);
    for (int64_t q = 0; q < n; ++q) {
      if (f[size_t(q)] == 0.0) continue;
      double* re = &k[size_t(j * 2 * n_freq)];
      double* im = re + n_freq;
      for (int64_t b = 0; b < n_freq; ++b) {
        const size_t i = size_t((b * q) % n);
        re[b] += f[size_t(q)] * cos_t[i];
        im[b] -= f[size_t(q)] * sin_t[i];
      }
    }
  }
  return k;
}

std::vector<double> stacked_mel_matrix(const FbankConfig& c) {
  const FbankTables tb = fbank_tables(c);
  const std::vector<double> mel = tb.dense_mel();   // (n_mels, n_freq)
  const int64_t n_freq = tb.n_freq, m = c.n_mels;
  std::vector<double> out(size_t(2 * n_freq * m), 0.0);
  for (int64_t b = 0; b < n_freq; ++b)
    for (int64_t i = 0; i < m; ++i) {
      out[size_t(b * m + i)] = mel[size_t(i * n_freq + b)];
      out[size_t((n_freq + b) * m + i)] = mel[size_t(i * n_freq + b)];
    }
  return out;
}

std::string front_end(Graph& g, const recipe::FrontEnd& fe, const std::string& wav) {
  if (fe.is_waveform) return g.node("Unsqueeze", {wav, g.ints({1})});   // (B, 1, L)
  return fe.is_mfcc ? mfcc(g, fe.mfcc, wav) : fbank(g, fe.fbank, wav);
}

}  // namespace spk::onnx_export
