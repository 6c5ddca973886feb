// spk_eval in order: the flags, the files, the model, then one mode (see eval_app.h). Every check that can
// fail on the user's input runs before the model is loaded or any audio is read.
#include "apps/recipe/eval_app.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "apps/recipe/frontend.h"
#include "apps/recipe/mixed_precision.h"

#ifndef SPK_GIT_SHA
#define SPK_GIT_SHA "unknown"
#endif

namespace spk::recipe::eval_app {

namespace {

using json = nlohmann::json;

constexpr const char* kDescription =
    "Evaluate a speaker-embedding model on a trial list, extract embeddings, or score two files.\n"
    "Eval mode's last line is 'EER <percent> MinDCF <value>': voxceleb_trainer's (non-interpolated) EER "
    "in % and the minDCF at --dcf_p_target (default 0.05, C_miss --dcf_c_miss, C_fa --dcf_c_fa) of the "
    "primary scores (VT scoring; cosine with --scoring cosine; the normalised ones with --score_norm). "
    "--json holds every figure of every score set.";

EmbedSettings embed_settings(const RecipeConfig& rc, const FrontEnd& fb, const SpeakerNet& model,
                             int64_t eval_batch) {
  EmbedSettings es;
  es.eval_frames = rc.eval_frames;
  es.num_eval = rc.num_eval;
  es.num_workers = int(rc.nDataLoaderThread);
  es.jobs = int(rc.eval_jobs);
  es.max_batch_rows = eval_batch;
  try {
    es.autocast = parse_mixedprec(rc.mixedprec);
    check_embed_settings(es, fb, model);
  } catch (const Error& e) {
    usage(e.what());
  }
  return es;
}

// What every mode's --json records: the call, the model, the checkpoint, the front end and the device.
json run_record(const OptionParser& p, const EvalRun& r, const json& checkpoint) {
  json out;
  out["tool"] = kApp;
  out["mode"] = r.flags.mode;
  out["commit"] = SPK_GIT_SHA;
  out["settings"] = p.values();
  if (!p.config_path().empty()) out["config_file"] = p.config_path();
  out["model"] = {{"name", r.model.name()},
                  {"parameters", r.model.num_parameters()},
                  {"embedding_dim", r.model.embedding_dim()},
                  {"n_mels", r.model.n_mels()}};
  out["checkpoint"] = checkpoint;
  out["frontend"] = {{"preset", frontend_name(r.recipe)}, {"config", r.frontend.str()}};
  out["device"] = r.flags.device.str();
  out["test_normalize"] = {{"value", r.test_normalize}, {"why", r.test_normalize_why}};
  out["eval_protocol"] = protocol_json(r.flags);
  return out;
}

}  // namespace

EvalProgress progress_printer(const std::string& what) {
  auto t0 = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  auto last = std::make_shared<double>(-1e9);
  return [=](int64_t done, int64_t total) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - *t0).count();
    if (done < total && t - *last < 5) return;
    *last = t;
    std::fprintf(stderr, "%s: %s %lld/%lld files, %.1f s (%.1f files/s)\n", kApp, what.c_str(), (long long)done,
                 (long long)total, t, t > 0 ? double(done) / t : 0.0);
  };
}

int run_spk_eval(int argc, char** argv) {
  OptionParser p(kApp, kDescription, EVAL);
  add_eval_options(p);
  if (!p.parse(argc, argv)) return 0;   // --help

  const EvalFlags flags = check_eval_flags(p);
  const EvalInputs inputs = read_eval_inputs(p, flags);
  const LoadedModel loaded = load_eval_model(p, flags.model_path);

  // The settings that depend on the model, now that the checkpoint's model keys are in.
  EvalRun r{p, flags, inputs, *loaded.model};
  r.recipe = recipe_config(p);
  r.frontend = frontend_config(r.recipe);
  r.test_normalize = resolve_test_normalize(flags.test_normalize, r.recipe, r.test_normalize_why);
  r.embed = embed_settings(r.recipe, r.frontend, r.model, flags.eval_batch);
  if (flags.protocol.protocol != EvalProtocol::voxceleb_trainer) {
    try {
      check_protocol_settings(flags.protocol, r.frontend);   // a crop / window the front end can take
    } catch (const Error& e) {
      usage(e.what());
    }
  }
  r.out = run_record(p, r, loaded.info);

  if (flags.mode == "pair") return run_pair_mode(r);
  if (flags.mode == "embed") return run_embed_mode(r);
  return run_eval_mode(r);
}

}  // namespace spk::recipe::eval_app
