// The evaluation protocols' planning, reductions and scores (see eval_protocol.h).
#include "apps/recipe/eval_protocol.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/check.h"

namespace spk::recipe {

EvalProtocol parse_eval_protocol(const std::string& word) {
  if (word == "voxceleb_trainer") return EvalProtocol::voxceleb_trainer;
  if (word == "taoruijie") return EvalProtocol::taoruijie;
  if (word == "sliding") return EvalProtocol::sliding;
  throw Error("--eval_protocol: '" + word + "' is not one of voxceleb_trainer, taoruijie, sliding");
}

const char* eval_protocol_name(EvalProtocol p) {
  switch (p) {
    case EvalProtocol::voxceleb_trainer: return "voxceleb_trainer";
    case EvalProtocol::taoruijie: return "taoruijie";
    case EvalProtocol::sliding: return "sliding";
  }
  return "?";
}

int64_t seconds_to_samples(double seconds, int sample_rate) {
  return int64_t(std::llround(seconds * double(sample_rate)));
}

std::vector<int64_t> taoruijie_crop_starts(int64_t len, int64_t max_audio, int64_t num) {
  SPK_CHECK(len >= 1 && max_audio >= 1 && num >= 1, "taoruijie crops: need len, max_audio, num >= 1, got ", len, ", ",
            max_audio, ", ", num);
  // numpy.linspace(0, stop, num): y[i] = i * (stop / (num - 1)), y[-1] = stop exactly; int() truncates.
  const double stop = double(std::max(len, max_audio) - max_audio);
  const double step = num > 1 ? stop / double(num - 1) : 0.0;
  std::vector<int64_t> starts(static_cast<size_t>(num));
  for (int64_t i = 0; i < num; ++i) starts[size_t(i)] = int64_t(double(i) * step);
  if (num > 1) starts.back() = int64_t(stop);
  return starts;
}

std::vector<int64_t> sliding_window_starts(int64_t len, int64_t window, int64_t step) {
  SPK_CHECK(len >= 1 && window >= 1 && step >= 1, "sliding windows: need len, window, step >= 1, got ", len, ", ",
            window, ", ", step);
  if (len <= window) return {0};
  std::vector<int64_t> starts;
  for (int64_t s = 0; s + window <= len; s += step) starts.push_back(s);
  if (starts.back() + window < len) starts.push_back(len - window);   // align_last
  return starts;
}

std::vector<audio::EvalCrops> plan_segments(const std::vector<float>& audio, const ProtocolSettings& s,
                                            ProtocolRows rows) {
  const int64_t len = int64_t(audio.size());
  SPK_CHECK(len >= 1, "empty audio");
  std::vector<audio::EvalCrops> groups;
  auto add = [&](const float* src, const std::vector<int64_t>& starts, int64_t cols) {
    audio::EvalCrops g;
    g.rows = int64_t(starts.size());
    g.cols = cols;
    g.data.resize(size_t(g.rows * cols));
    for (int64_t r = 0; r < g.rows; ++r)
      std::memcpy(&g.data[size_t(r * cols)], src + starts[size_t(r)], size_t(cols) * sizeof(float));
    groups.push_back(std::move(g));
  };
  if (s.protocol == EvalProtocol::taoruijie) {
    add(audio.data(), {0}, len);   // the whole file, unpadded
    if (rows == ProtocolRows::utterance) return groups;
    const int64_t m = s.crop_samples;
    const std::vector<float> padded = len < m ? audio::wrap_pad(audio.data(), len, m) : std::vector<float>();
    add(len < m ? padded.data() : audio.data(), taoruijie_crop_starts(len, m, s.num_crops), m);
  } else if (s.protocol == EvalProtocol::sliding) {
    add(audio.data(), sliding_window_starts(len, s.window_samples, s.step_samples),
        sliding_window_length(len, s.window_samples));
  } else {
    SPK_FAIL("plan_segments: voxceleb_trainer crops are the evaluator's (engine/audio/crop.h)");
  }
  return groups;
}

void reduce_file_rows(std::vector<float>& emb, int64_t dim, EvalProtocol protocol, ProtocolRows rows) {
  SPK_CHECK(dim >= 1 && !emb.empty() && emb.size() % size_t(dim) == 0, "reduce_file_rows: ", emb.size(),
            " values are not rows of ", dim);
  const int64_t r = int64_t(emb.size()) / dim;
  if (protocol == EvalProtocol::taoruijie) {
    // F.normalize(p=2, dim=1): v / max(||v||, 1e-12), row by row.
    for (int64_t i = 0; i < r; ++i) {
      float* v = &emb[size_t(i * dim)];
      double ss = 0;
      for (int64_t k = 0; k < dim; ++k) ss += double(v[k]) * double(v[k]);
      const double n = std::max(std::sqrt(ss), 1e-12);
      for (int64_t k = 0; k < dim; ++k) v[k] = float(double(v[k]) / n);
    }
  } else if (protocol == EvalProtocol::sliding && rows != ProtocolRows::all) {
    std::vector<double> m(size_t(dim), 0.0);   // np.mean of the raw window embeddings
    for (int64_t i = 0; i < r; ++i)
      for (int64_t k = 0; k < dim; ++k) m[size_t(k)] += emb[size_t(i * dim + k)];
    emb.resize(size_t(dim));
    for (int64_t k = 0; k < dim; ++k) emb[size_t(k)] = float(m[size_t(k)] / double(r));
  }
}

Tensor FileEmbeddings::uniform(Device device) const {
  const int64_t F = files();
  const int64_t k = F > 0 ? rows(0) : 0;
  for (int64_t f = 0; f < F; ++f)
    SPK_CHECK(rows(f) == k, "file embeddings: file ", f, " has ", rows(f), " rows, file 0 has ", k);
  return Tensor::from_vector(data, {F, k, dim}).to(device);
}

Tensor FileEmbeddings::first_rows(Device device) const {
  const int64_t F = files();
  std::vector<float> out(size_t(F * dim));
  for (int64_t f = 0; f < F; ++f) {
    SPK_CHECK(rows(f) >= 1, "file embeddings: file ", f, " has no rows");
    std::memcpy(&out[size_t(f * dim)], row(f, 0), size_t(dim) * sizeof(float));
  }
  return Tensor::from_vector(out, {F, dim}).to(device);
}

std::vector<double> taoruijie_scores(const FileEmbeddings& e, const std::vector<TrialPair>& pairs) {
  const int64_t F = e.files(), D = e.dim;
  // Per file: the whole-utterance row and the mean of its crop rows (mean_ij a_i·b_j = ā·b̄ exactly).
  std::vector<double> full(size_t(F * D)), crops(size_t(F * D), 0.0);
  for (int64_t f = 0; f < F; ++f) {
    const int64_t n = e.rows(f) - 1;
    SPK_CHECK(n >= 1, "taoruijie scores: file ", f, " has no crop rows");
    for (int64_t k = 0; k < D; ++k) full[size_t(f * D + k)] = e.row(f, 0)[k];
    for (int64_t i = 1; i <= n; ++i)
      for (int64_t k = 0; k < D; ++k) crops[size_t(f * D + k)] += e.row(f, i)[k];
    for (int64_t k = 0; k < D; ++k) crops[size_t(f * D + k)] /= double(n);
  }
  std::vector<double> out;
  out.reserve(pairs.size());
  for (size_t t = 0; t < pairs.size(); ++t) {
    const TrialPair& p = pairs[t];
    SPK_CHECK(p.enrol >= 0 && p.enrol < F && p.test >= 0 && p.test < F, "taoruijie scores: trial ", t,
              " refers to files (", p.enrol, ", ", p.test, ") but there are ", F, " files");
    double s1 = 0, s2 = 0;
    for (int64_t k = 0; k < D; ++k) {
      s1 += full[size_t(p.enrol * D + k)] * full[size_t(p.test * D + k)];
      s2 += crops[size_t(p.enrol * D + k)] * crops[size_t(p.test * D + k)];
    }
    out.push_back((s1 + s2) / 2);
  }
  return out;
}

}  // namespace spk::recipe
