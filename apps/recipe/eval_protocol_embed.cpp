// embed_protocol_files (eval_protocol.h): files -> planned rows -> model -> per-file reduced rows on the host.
//
// Worker threads decode each file and cut it (plan_segments); the consumer takes files in list order. Rows of
// the protocol's fixed length (taoruijie's crops, sliding's windows) of consecutive files share forward passes
// of up to max_batch_rows rows; a row of any other length (taoruijie's whole utterance, the one window of a file
// shorter than --window_duration) is a pass of its own, as TaoRuijie and pyannote run them. Each pass's
// embeddings come back to the host and land in their file's buffer; a file whose rows are all in is reduced
// (reduce_file_rows) at once, so at most max_batch_rows files' rows wait at any time. In eval mode every row
// is computed independently, so the batching changes only the speed (and the last bits).
#include <algorithm>
#include <cstring>
#include <map>

#include "apps/recipe/eval_protocol.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/ordered_pipeline.h"
#include "engine/autograd.h"
#include "engine/check.h"
#include "engine/audio/fbank.h"

namespace spk::recipe {

namespace {

struct PlannedFile {
  int64_t index = 0;
  std::vector<audio::EvalCrops> groups;
};

// A file's embeddings as they arrive, and how many rows are still out.
struct Pending {
  std::vector<float> emb;
  int64_t missing = 0;
};

}  // namespace

void check_protocol_settings(const ProtocolSettings& ps, const FrontEnd& frontend) {
  // Plain messages (no source location): spk_eval shows them to the user as a mistake in the call.
  auto require = [](bool ok, const std::string& msg) {
    if (!ok) throw Error(msg);
  };
  if (ps.protocol == EvalProtocol::taoruijie) {
    require(ps.crop_samples >= 1, "--eval_frames: taoruijie crops must be longer than 0 samples");
    require(ps.num_crops >= 1, "--num_eval: taoruijie needs >= 1 crop, got " + std::to_string(ps.num_crops));
    const std::string err = fbank_length_error(frontend.fbank, ps.crop_samples);
    require(err.empty(), detail::cat("--eval_frames: a taoruijie crop of ", ps.crop_samples, " samples: ", err));
  } else if (ps.protocol == EvalProtocol::sliding) {
    require(ps.window_samples >= 1, "--window_duration: must give at least one sample");
    require(ps.step_samples >= 1, "--window_step: must give at least one sample");
    const std::string err = fbank_length_error(frontend.fbank, ps.window_samples);
    require(err.empty(), detail::cat("--window_duration: a window of ", ps.window_samples, " samples: ", err));
  } else {
    throw Error("embed_protocol_files: voxceleb_trainer runs through embed_files (evaluator.h)");
  }
}

FileEmbeddings embed_protocol_files(SpeakerNet& model, const FrontEnd& frontend, const std::vector<std::string>& paths,
                                    const ProtocolSettings& ps, const EmbedSettings& es, ProtocolRows keep,
                                    const EvalProgress& progress) {
  check_protocol_settings(ps, frontend);
  SPK_CHECK(es.max_batch_rows >= 1 && es.num_workers >= 0 && es.sample_rate > 0, "embed_protocol_files: bad settings");
  const int64_t F = int64_t(paths.size()), D = model.embedding_dim();
  const int64_t fixed = ps.protocol == EvalProtocol::taoruijie ? ps.crop_samples : ps.window_samples;
  const Device device = model_device(model);
  std::vector<std::vector<float>> done(static_cast<size_t>(F));
  int64_t n_done = 0, rows_total = 0;
  if (F == 0) return FileEmbeddings{D};

  EvalModeGuard mode(model);
  NoGradGuard no_grad;
  const int workers = es.num_workers;
  audio::OrderedPipeline<PlannedFile> pipe(F, workers, 4 * std::max(workers, 1), [&](int64_t i) {
    PlannedFile pf;
    pf.index = i;
    const std::string& path = paths[size_t(i)];
    std::vector<float> x = audio::read_audio(path, es.sample_rate);   // its errors name the file
    if (x.empty()) throw Error("audio file '" + path + "' has no samples");
    pf.groups = plan_segments(x, ps, keep);
    return pf;
  });

  std::map<int64_t, Pending> pending;
  struct Dest {
    int64_t file, row;
  };
  // One forward pass over rows (R, L) whose destinations are dest; their files are finished when complete.
  auto forward = [&](const std::vector<float>& wav, int64_t cols, const std::vector<Dest>& dest) {
    const int64_t R = int64_t(dest.size());
    rows_total += R;
    std::vector<float> emb;
    try {
      Tensor x = Tensor::from_vector(wav, {R, cols}).to(device);
      Tensor e = model.forward(frontend.features(x));
      SPK_CHECK(e.dim() == 2 && e.size(0) == R && e.size(1) == D, "model ", model.name(), " returned ", e.str(),
                " for ", R, " rows; expected (", R, ", ", D, ")");
      emb = e.to(Device::cpu()).contiguous().to_vector<float>();
    } catch (const Error& err) {
      const std::string& first = paths[size_t(dest.front().file)];
      throw Error(detail::cat("embedding file '", first, "'", R > 1 ? " (and the files batched with it)" : "",
                              ": ", err.what()));
    }
    for (int64_t r = 0; r < R; ++r) {
      Pending& p = pending.at(dest[size_t(r)].file);
      std::memcpy(&p.emb[size_t(dest[size_t(r)].row * D)], &emb[size_t(r * D)], size_t(D) * sizeof(float));
      if (--p.missing == 0) {
        reduce_file_rows(p.emb, D, ps.protocol, keep);
        done[size_t(dest[size_t(r)].file)] = std::move(p.emb);
        pending.erase(dest[size_t(r)].file);
        ++n_done;
      }
    }
    if (progress) progress(n_done, F);
  };

  std::vector<float> bucket;   // fixed-length rows waiting for a shared pass
  std::vector<Dest> bucket_dest;
  auto flush = [&] {
    if (bucket_dest.empty()) return;
    forward(bucket, fixed, bucket_dest);
    bucket.clear();
    bucket_dest.clear();
  };

  PlannedFile pf;
  while (true) {
    bool more;
    try {
      more = pipe.next(pf);
    } catch (const Error& e) {
      throw Error(detail::cat("embed_protocol_files: ", e.what()));   // the reader's message names the file
    }
    if (!more) break;
    int64_t total = 0;
    for (const auto& g : pf.groups) total += g.rows;
    Pending& p = pending[pf.index];
    p.emb.assign(size_t(total * D), 0.0f);
    p.missing = total;
    int64_t row = 0;
    for (const auto& g : pf.groups) {
      for (int64_t r = 0; r < g.rows; ++r, ++row) {
        const float* src = &g.data[size_t(r * g.cols)];
        if (g.cols != fixed) {   // a pass of its own
          forward(std::vector<float>(src, src + g.cols), g.cols, {{pf.index, row}});
          continue;
        }
        bucket.insert(bucket.end(), src, src + g.cols);
        bucket_dest.push_back({pf.index, row});
        if (int64_t(bucket_dest.size()) == es.max_batch_rows) flush();
      }
    }
  }
  flush();
  SPK_CHECK(n_done == F && pending.empty(), "embed_protocol_files: ", n_done, " of ", F, " files embedded");

  FileEmbeddings out{D};
  out.rows_embedded = rows_total;
  for (int64_t f = 0; f < F; ++f) {
    out.data.insert(out.data.end(), done[size_t(f)].begin(), done[size_t(f)].end());
    out.offsets.push_back(int64_t(out.data.size()) / D);
  }
  return out;
}

}  // namespace spk::recipe
