// spk_eval --mode embed: one embedding per file (or per crop with --embed_crops) as .npy + index or a Kaldi
// text ark (see eval_app.h, docs/evaluation.md).
#include <chrono>
#include <cstdio>
#include <fstream>

#include "apps/recipe/embeddings_io.h"
#include "apps/recipe/eval_app.h"
#include "engine/ops.h"

namespace spk::recipe::eval_app {

int run_embed_mode(EvalRun& r) {
  using json = nlohmann::json;
  const OptionParser& p = r.options;
  const EvalInputs& in = r.inputs;
  const std::string& format = r.flags.embed_format;
  r.model.to(r.flags.device);
  const auto t0 = std::chrono::steady_clock::now();
  const bool crops_out = p.boolean("embed_crops");
  Embeddings emb;
  int64_t files = 0;
  if (r.flags.protocol.protocol == EvalProtocol::voxceleb_trainer) {
    EmbedSettings s = r.embed;
    s.mean_over_crops = !crops_out;
    const Tensor e = embed_files(r.model, r.frontend, in.paths, s, progress_printer("embedding"));   // (F, n, D)
    files = e.size(0);
    emb.matrix = reshape(e, {e.size(0) * e.size(1), e.size(2)});
    for (const auto& k : in.keys)
      for (int64_t i = 0; i < e.size(1); ++i) emb.keys.push_back(crops_out ? k + "#" + std::to_string(i) : k);
  } else {
    // The utterance embedding (taoruijie's normalised whole-utterance one, sliding's window mean), or every row:
    // taoruijie 'key#full' then its normalised crops 'key#0'..., sliding its windows 'key#0'....
    const bool tao = r.flags.protocol.protocol == EvalProtocol::taoruijie;
    const FileEmbeddings fe = embed_protocol_files(r.model, r.frontend, in.paths, r.flags.protocol, r.embed,
                                                   crops_out ? ProtocolRows::all : ProtocolRows::utterance,
                                                   progress_printer("embedding"));
    files = fe.files();
    emb.matrix = Tensor::from_vector(fe.data, {fe.offsets.back(), fe.dim});
    for (int64_t f = 0; f < fe.files(); ++f)
      for (int64_t i = 0; i < fe.rows(f); ++i) {
        const std::string& k = in.keys[size_t(f)];
        if (!crops_out) emb.keys.push_back(k);
        else if (tao) emb.keys.push_back(i == 0 ? k + "#full" : k + "#" + std::to_string(i - 1));
        else emb.keys.push_back(k + "#" + std::to_string(i));
      }
  }
  if (format == "npy") write_embeddings_npy(in.npy, in.index, emb);
  else write_kaldi_text_ark(in.ark, emb);
  r.out["embeddings"] = {
      {"files", files},
      {"rows", emb.matrix.size(0)},
      {"dim", emb.matrix.size(1)},
      {"per_crop", crops_out},
      {"format", format},
      {"outputs", format == "npy" ? json::array({in.npy, in.index}) : json::array({in.ark})},
      {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  if (!p.str("json").empty()) std::ofstream(p.str("json")) << r.out.dump(2) << "\n";
  std::printf("wrote %lld embeddings of dimension %lld to %s\n", (long long)emb.matrix.size(0),
              (long long)emb.matrix.size(1), format == "npy" ? in.npy.c_str() : in.ark.c_str());
  return 0;
}

}  // namespace spk::recipe::eval_app
