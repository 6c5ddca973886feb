// spk_train: train (or fine-tune) a speaker-embedding model with voxceleb_trainer's flags.
//
//   spk_train --config configs/ResNetSE34L_AP.yaml --save_path exps/ap [--flag value ...]
//
// Flags, the YAML file and what lands in --save_path: docs/recipes.md. The app parses, shows progress and
// writes files; the loop lives in apps/recipe/trainer.cpp. Exit status: 0 done, 2 bad flags or settings
// (before any work), 1 any other error (a file that cannot be read, a diverged loss, ...).
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "apps/recipe/config.h"
#include "apps/recipe/cpu_conv_flag.h"
#include "apps/recipe/distributed.h"
#include "apps/recipe/evaluator.h"
#include "apps/recipe/progress.h"
#include "apps/recipe/recipe_parts.h"
#include "apps/recipe/tensorboard_log.h"
#include "apps/recipe/trainer.h"
#include "engine/audio/lists.h"
#include "nets/model.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

// --distributed: the ranks' communicator; main() ends every rank through it when this one fails.
std::shared_ptr<dist::Communicator> g_comm;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

const char* metric_name(MetricKind k) { return k == MetricKind::eer ? "TEER" : "TAcc"; }

// The trial list, read and its files checked now, so a bad list fails before hours of training.
audio::TrialList read_checked_trials(const RecipeConfig& cfg) {
  if (!fs::exists(cfg.test_list)) throw UsageError("--test_list: no such file '" + cfg.test_list + "'");
  audio::TrialList trials = audio::read_trials(cfg.test_list);
  if (!trials.labelled()) throw UsageError("--test_list " + cfg.test_list + ": every trial needs a label");
  std::vector<std::string> paths;
  for (const auto& f : trials.files) paths.push_back(audio::join_path(cfg.test_path, f));
  const std::vector<std::string> missing = missing_files(paths);
  if (!missing.empty())
    throw UsageError("--test_list " + cfg.test_list + ": file '" + missing.front() +
                     "' does not exist (check --test_path)");
  return trials;
}

// The trainer's lines, step progress and epoch summaries on stderr.
void add_console_hooks(TrainerHooks& hooks, ProgressLine& bar) {
  hooks.log = [&bar](const std::string& s) {
    bar.finish();
    std::fprintf(stderr, "%s\n", s.c_str());
  };
  hooks.on_step = [&bar](const StepProgress& p) {
    bar.update("epoch " + std::to_string(p.epoch) + " " + std::to_string(p.batch) + "/" +
                   std::to_string(p.num_batches) + "  loss " + fmt("%.4f", p.loss) + "  " +
                   metric_name(p.metric_kind) + " " + fmt("%.2f", p.metric) + "%  lr " + fmt("%.3g", p.lr) + "  " +
                   fmt("%.1f", p.samples_per_s) + " samples/s  ETA " + format_duration(p.eta_s),
               p.batch == p.num_batches);
  };
  hooks.on_epoch = [&bar](const EpochSummary& e) {
    bar.finish();
    std::string line = "epoch " + std::to_string(e.epoch) + ": loss " + fmt("%.4f", e.loss) + "  " +
                       metric_name(e.metric_kind) + " " + fmt("%.2f", e.metric) + "%  lr " + fmt("%.3g", e.lr) +
                       "  " + fmt("%.1f", e.samples_per_s) + " samples/s  " + format_duration(e.seconds);
    if (e.bad_files) line += "  skipped " + std::to_string(e.bad_files) + " bad files";
    if (e.skipped_steps) line += "  skipped " + std::to_string(e.skipped_steps) + " non-finite steps";
    if (e.eval.is_object() && e.eval.contains("vt_eer"))
      line += "  VEER " + fmt("%.4f", e.eval["vt_eer"].get<double>()) + "%  MinDCF " +
              fmt("%.5f", e.eval["min_dcf"].get<double>());
    std::fprintf(stderr, "%s\n", line.c_str());
  };
}

// One evaluation on the trial list (VT scoring, as voxceleb_trainer's), as the figures the epoch log records.
// --distributed: every rank embeds its share of the files and gets every rank's embeddings (embed_files_sharded).
nlohmann::json evaluate_once(const RecipeConfig& cfg, SpeakerNet& model, const Loss& loss, const FrontEnd& frontend,
                             const audio::TrialList& trials, const EvalProgress& progress,
                             std::vector<DetPoint>* det = nullptr) {
  TrialEvalSettings s;
  if (g_comm && g_comm->world_size() > 1)
    s.embed_fn = [](SpeakerNet& m, const FrontEnd& f, const std::vector<std::string>& paths, const EmbedSettings& e,
                    const EvalProgress& p) { return embed_files_sharded(*g_comm, m, f, paths, e, p); };
  s.embed.eval_frames = cfg.eval_frames;
  s.embed.num_eval = cfg.num_eval;
  s.embed.num_workers = int(std::max<int64_t>(1, cfg.nDataLoaderThread));
  s.test_normalize = loss.test_normalize();
  s.scoring = "vt";
  const TrialEvalResult r = evaluate_trials(model, frontend, trials, cfg.test_path, s, progress);
  nlohmann::json j;
  j["n_target"] = r.metrics.n_target;
  j["n_nontarget"] = r.metrics.n_nontarget;
  j["vt_eer_threshold"] = r.metrics.vt.at_eer.threshold;
  j["vt_eer"] = r.metrics.vt.eer;
  j["interp_eer"] = r.metrics.interpolated.eer;
  j["min_dcf"] = spk::min_dcf(r.scores, r.labels, cfg.dcf_p_target, cfg.dcf_c_miss, cfg.dcf_c_fa).min_dcf;
  j["min_dcf_p01"] = r.metrics.dcf_p01.min_dcf;
  j["seconds"] = r.embed_seconds + r.score_seconds;
  if (det) *det = det_curve(r.scores, r.labels);   // for TensorBoard's eval/det image
  return j;
}

// The effective settings, loadable with --config (the run's own record, as wespeaker's config.yaml).
void write_effective_config(const OptionParser& options, const RecipeConfig& cfg) {
  const std::string path = (fs::path(cfg.save_path) / "config.yaml").string();
  std::ofstream out(path);
  out << "# spk_train effective options" << (options.config_path().empty() ? "" : " (from --config " +
                                                                                      options.config_path() + ")")
      << "\n" << options.to_yaml();
  if (!out.flush()) throw Error("cannot write " + path + ": " + std::strerror(errno) + " (is the disk full?)");
}

int run(int argc, char** argv) {
  OptionParser options("spk_train", "Train a speaker-embedding model (voxceleb_trainer's flags; docs/recipes.md)",
                       TRAIN);
  if (!options.parse(argc, argv)) return 0;
  RecipeConfig cfg = recipe_config(options);
  validate_train_config(cfg);
  apply_cpu_conv_flag(cfg.cpu_conv);
  g_comm = make_train_communicator(cfg);
  const bool root = g_comm->is_root();   // rank 0 alone reports and writes files; every rank evaluates its share
  if (g_comm->backend() == "nccl") cfg.device = "cuda:" + std::to_string(g_comm->local_rank());
  const bool evaluate = !cfg.test_list.empty();
  const audio::TrialList trials = evaluate ? read_checked_trials(cfg) : audio::TrialList{};

  ProgressLine bar(stderr);
  TrainerHooks hooks;
  if (root) add_console_hooks(hooks, bar);
  EvalProgress eval_progress;
  if (root)
    eval_progress = [&](int64_t done, int64_t total) {
      bar.update("  evaluating: " + std::to_string(done) + "/" + std::to_string(total) + " files", done == total);
    };
  std::unique_ptr<Trainer> trainer;   // made after the hooks, which the evaluation's front end comes from
  std::unique_ptr<TrainTensorBoard> tb;   // --tensorboard: opened after setup(), so bad flags leave no file
  auto eval_once = [&](SpeakerNet& model, const Loss& loss) {
    std::vector<DetPoint> det;
    nlohmann::json j = evaluate_once(cfg, model, loss, trainer->frontend(), trials, eval_progress, tb ? &det : nullptr);
    if (tb) tb->on_eval(trainer->step(), j, det);
    return j;
  };
  nlohmann::json last_eval;
  int64_t last_eval_epoch = -1;
  if (evaluate) {
    hooks.evaluate = [&](SpeakerNet& model, const Loss& loss, int64_t epoch) {
      last_eval = eval_once(model, loss);
      last_eval_epoch = epoch;
      return last_eval;
    };
  }

  if (cfg.tensorboard && root) {   // rank 0 alone writes event files
    hooks.on_step = [&tb, &trainer, console = hooks.on_step](const StepProgress& p) {
      if (console) console(p);
      if (tb) tb->on_step(p, trainer->step());
    };
  }

  trainer = std::make_unique<Trainer>(cfg, options.values(), hooks, g_comm);
  trainer->setup();
  if (cfg.tensorboard && root) {
    tb = std::make_unique<TrainTensorBoard>(cfg.save_path, trainer->step(), hooks.log);
    if (hooks.log) hooks.log("TensorBoard: " + tb->path());
  }
  if (root) write_effective_config(options, cfg);
  trainer->run();

  // The final figures: the last epoch's evaluation, or one now if the last epoch was not an evaluation epoch.
  if (!evaluate) return 0;
  if (last_eval_epoch != trainer->epoch()) {   // on every rank: each embeds its share
    if (root) std::fprintf(stderr, "final evaluation of epoch %lld\n", static_cast<long long>(trainer->epoch()));
    last_eval = eval_once(trainer->model(), trainer->loss());
  }
  if (root)
    std::printf("EER %.4f MinDCF %.5f\n", last_eval["vt_eer"].get<double>(), last_eval["min_dcf"].get<double>());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int rc = run_app("spk_train", [&] { return run(argc, argv); });
  // --distributed: one rank's error ends every rank now, rather than leaving them waiting in a collective.
  if (rc != 0 && g_comm && g_comm->world_size() > 1) {
    std::fflush(stderr);
    g_comm->abort(rc);
  }
  g_comm.reset();
  return rc;
}
