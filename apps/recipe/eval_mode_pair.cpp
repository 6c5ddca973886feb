// spk_eval --mode pair: the scores of --enrol_file against --test_file (see eval_app.h): VT and cosine under
// voxceleb_trainer's protocol, taoruijie's fused score and the whole-utterance cosine, or sliding's cosine of
// the window means (--eval_protocol, eval_protocol.h).
#include <cstdio>
#include <fstream>

#include "apps/recipe/eval_app.h"

namespace spk::recipe::eval_app {

int run_pair_mode(EvalRun& r) {
  const OptionParser& p = r.options;
  r.model.to(r.flags.device);
  const std::vector<std::string> files{p.str("enrol_file"), p.str("test_file")};
  const std::vector<TrialPair> pair{{0, 1}};
  r.out["enrol_file"] = files[0];
  r.out["test_file"] = files[1];
  std::string line;   // the second stdout line: "<name> score <value>" per score
  auto record = [&](const std::string& name, double v) {
    r.out[name + "_score"] = v;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.6f", line.empty() ? "" : " ", name == "vt" ? "VT score" :
                  name == "cosine" ? "cosine" : (name + " score").c_str(), v);
    line += buf;
  };
  const ProtocolSettings& ps = r.flags.protocol;
  if (ps.protocol == EvalProtocol::voxceleb_trainer) {
    const Tensor crops = embed_files(r.model, r.frontend, files, r.embed);   // (2, n, D)
    record("vt", score_trials(crops, pair, "vt", r.test_normalize)[0]);
    record("cosine", score_trials(crops, pair, "cosine", r.test_normalize)[0]);
  } else {
    const FileEmbeddings fe = embed_protocol_files(r.model, r.frontend, files, ps, r.embed, ProtocolRows::scoring);
    const double cos = cosine_scores(fe.first_rows(), pair)[0];
    if (ps.protocol == EvalProtocol::taoruijie) {
      record("taoruijie", taoruijie_scores(fe, pair)[0]);
      record("cosine", cos);
    } else {
      record("sliding", cos);
    }
  }
  if (!p.str("json").empty()) {
    std::ofstream(p.str("json")) << r.out.dump(2) << "\n";
  }
  std::printf("%s %s\n%s\n", files[0].c_str(), files[1].c_str(), line.c_str());
  return 0;
}

}  // namespace spk::recipe::eval_app
