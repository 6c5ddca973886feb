// spk_eval --mode pair: the VT and cosine scores of --enrol_file against --test_file (see eval_app.h).
#include <cstdio>
#include <fstream>

#include "apps/recipe/eval_app.h"

namespace spk::recipe::eval_app {

int run_pair_mode(EvalRun& r) {
  const OptionParser& p = r.options;
  r.model.to(r.flags.device);
  const Tensor crops = embed_files(r.model, r.frontend, {p.str("enrol_file"), p.str("test_file")}, r.embed);   // (2, n, D)
  const std::vector<TrialPair> pair{{0, 1}};
  const double vt = score_trials(crops, pair, "vt", r.test_normalize)[0];
  const double cos = score_trials(crops, pair, "cosine", r.test_normalize)[0];
  r.out["enrol_file"] = p.str("enrol_file");
  r.out["test_file"] = p.str("test_file");
  r.out["vt_score"] = vt;
  r.out["cosine_score"] = cos;
  if (!p.str("json").empty()) {
    std::ofstream(p.str("json")) << r.out.dump(2) << "\n";
  }
  std::printf("%s %s\nVT score %.6f cosine %.6f\n", p.str("enrol_file").c_str(), p.str("test_file").c_str(), vt,
              cos);
  return 0;
}

}  // namespace spk::recipe::eval_app
