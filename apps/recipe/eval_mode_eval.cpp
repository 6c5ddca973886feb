// spk_eval --mode eval: embed the trial list's files, score every trial (VT and/or cosine, maybe AS-norm or
// S-norm against a cohort), write the score file, the DET plot and --json, and print the figures; the last
// stdout line is voxceleb_trainer's "EER <VT EER in %> MinDCF <minDCF at --dcf_p_target>" of the primary
// scores (see eval_app.h, docs/evaluation.md).
#include <chrono>
#include <cstdio>
#include <fstream>

#include "apps/recipe/det_plot.h"
#include "apps/recipe/embeddings_io.h"
#include "apps/recipe/eval_app.h"
#include "apps/recipe/score_norm.h"
#include "engine/autograd.h"
#include "engine/ops.h"

namespace spk::recipe::eval_app {

namespace {

using json = nlohmann::json;

struct ScoreSet {
  std::string name;   // vt, cosine, cosine_mean_subtracted, asnorm, snorm
  std::vector<double> scores;
  bool has_metrics = false;
  MetricsReport metrics;
  MinDcf dcf;         // at --dcf_p_target, --dcf_c_miss, --dcf_c_fa
  bool has_ci = false;
  EerInterval ci;     // --eer_ci
};

// The seconds each step took, for --json.
struct Laps {
  json seconds;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  void lap(const char* what) {
    const auto t = std::chrono::steady_clock::now();
    seconds[what] = std::chrono::duration<double>(t - t0).count();
    t0 = t;
  }
};

// The trials scored, their labels and the score sets with their metrics.
struct Scored {
  std::vector<TrialPair> pairs;
  std::vector<int> labels;
  bool labelled = false;
  int64_t crops_per_file = 0;
  int64_t rows_embedded = 0;  // --eval_protocol taoruijie / sliding: the rows the model embedded (crops, windows)
  std::vector<ScoreSet> sets;
  size_t primary_index = 0;   // the normalised set with --score_norm, else the first
  double ci_level = 0;        // --eer_ci (0 = none), with its resamples and seed: the same draws for every set
  int64_t ci_resamples = 0;
  uint64_t ci_seed = 0;
  const ScoreSet& primary() const { return sets[primary_index]; }

  void add(const RecipeConfig& rc, const std::string& name, std::vector<double> scores) {
    ScoreSet s;
    s.name = name;
    s.scores = std::move(scores);
    s.has_metrics = labelled;
    if (labelled) {
      s.metrics = compute_metrics(s.scores, labels);
      s.dcf = min_dcf(s.scores, labels, rc.dcf_p_target, rc.dcf_c_miss, rc.dcf_c_fa);
      s.has_ci = ci_level > 0;
      if (s.has_ci) s.ci = vt_eer_confidence_interval(s.scores, labels, ci_level, ci_resamples, ci_seed);
    }
    sets.push_back(std::move(s));
  }
};

// The cohort's utterance embeddings (F, D), computed as the protocol computes the trial files' ones: the mean
// over crops (voxceleb_trainer), the whole-utterance embedding (taoruijie), the mean over windows (sliding).
Tensor cohort_embeddings(EvalRun& r) {
  const audio::TrainList& cohort_list = r.inputs.cohort;
  const EvalProgress progress = progress_printer("embedding cohort");
  if (r.flags.protocol.protocol != EvalProtocol::voxceleb_trainer)
    return embed_protocol_files(r.model, r.frontend, cohort_list.paths, r.flags.protocol, r.embed,
                                ProtocolRows::utterance, progress)
        .first_rows(model_device(r.model));
  EmbedSettings cs = r.embed;
  cs.mean_over_crops = true;
  return squeeze(embed_files(r.model, r.frontend, cohort_list.paths, cs, progress), 1);
}

// The cohort's embeddings, and the cosine scores of the utterance embeddings utts (F, D) normalised against
// them: the mean-subtracted raw scores (wespeaker's, the ones the normalisation starts from) and the
// normalised ones.
void add_normalised_sets(EvalRun& r, const Tensor& utts, Scored& sc, Laps& laps) {
  const audio::TrainList& cohort_list = r.inputs.cohort;
  const std::string& norm = r.flags.score_norm;
  const Tensor ce = cohort_embeddings(r);
  laps.lap("embed_cohort");
  std::vector<std::string> speakers;
  for (int64_t l : cohort_list.labels) speakers.push_back(cohort_list.speakers.name(l));
  NoGradGuard ng;
  const Cohort cohort = build_cohort(ce, speakers);
  const NormedScores ns = cosine_scores_normed(utts, sc.pairs, cohort, norm == "asnorm" ? r.flags.top_n : 0);
  sc.add(r.recipe, "cosine_mean_subtracted", ns.raw);
  sc.add(r.recipe, norm, ns.normed);
  r.out["cohort"] = {{"list", r.options.str("cohort_list")},
                     {"utterances", cohort_list.size()},
                     {"speakers", cohort_list.speakers.size()},
                     {"top_n", norm == "asnorm" ? std::min<int64_t>(r.flags.top_n, cohort_list.speakers.size())
                                                : cohort_list.speakers.size()}};
  laps.lap("score_norm");
}

// --eval_protocol taoruijie or sliding: the protocol's score set (primary) and, for taoruijie, the cosine of
// the whole-utterance embeddings; returns the utterance embeddings (F, D) that --score_norm normalises.
Tensor embed_and_score_protocol(EvalRun& r, Scored& sc, Laps& laps) {
  const ProtocolSettings& ps = r.flags.protocol;
  const FileEmbeddings fe = embed_protocol_files(r.model, r.frontend, r.inputs.paths, ps, r.embed,
                                                 ProtocolRows::scoring, progress_printer("embedding"));
  laps.lap("embed");
  sc.crops_per_file = ps.protocol == EvalProtocol::taoruijie ? ps.num_crops : 0;
  sc.rows_embedded = fe.rows_embedded;
  NoGradGuard ng;
  const Tensor utts = fe.first_rows(model_device(r.model));
  if (ps.protocol == EvalProtocol::taoruijie) {
    sc.add(r.recipe, "taoruijie", taoruijie_scores(fe, sc.pairs));
    sc.add(r.recipe, "cosine", cosine_scores(utts, sc.pairs));
  } else {
    sc.add(r.recipe, "sliding", cosine_scores(utts, sc.pairs));
  }
  laps.lap("score");
  return utts;
}

Scored embed_and_score(EvalRun& r, Laps& laps) {
  Scored sc;
  sc.pairs = trial_pairs(r.inputs.trials);
  sc.labels = trial_labels(r.inputs.trials);
  sc.labelled = r.inputs.trials.labelled();
  sc.ci_level = r.flags.eer_ci;
  sc.ci_resamples = r.flags.eer_ci_resamples;
  sc.ci_seed = r.flags.eer_ci_seed;
  Tensor utts;   // (F, D) the utterance embeddings cosine scoring and --score_norm use
  if (r.flags.protocol.protocol != EvalProtocol::voxceleb_trainer) {
    utts = embed_and_score_protocol(r, sc, laps);
  } else {
    const Tensor crops = embed_files(r.model, r.frontend, r.inputs.paths, r.embed, progress_printer("embedding"));
    sc.crops_per_file = crops.size(1);
    laps.lap("embed");
    const std::string& scoring = r.flags.scoring;
    if (scoring != "cosine") sc.add(r.recipe, "vt", score_trials(crops, sc.pairs, "vt", r.test_normalize));
    if (scoring != "vt") sc.add(r.recipe, "cosine", score_trials(crops, sc.pairs, "cosine", r.test_normalize));
    laps.lap("score");
    NoGradGuard ng;
    if (r.flags.score_norm != "none") utts = mean(crops, {1});
  }
  if (r.flags.score_norm != "none") add_normalised_sets(r, utts, sc, laps);
  sc.primary_index = sc.sets.back().name == r.flags.score_norm ? sc.sets.size() - 1 : 0;
  return sc;
}

// The figures of the run in --json's document.
void record_figures(EvalRun& r, const Scored& sc) {
  r.out["test_list"] = r.recipe.test_list;
  r.out["test_path"] = r.recipe.test_path;
  r.out["files"] = int64_t(r.inputs.paths.size());
  r.out["trials"] = int64_t(sc.pairs.size());
  r.out["labelled"] = sc.labelled;
  r.out["crops_per_file"] = sc.crops_per_file;
  if (r.flags.protocol.protocol != EvalProtocol::voxceleb_trainer) r.out["rows_embedded"] = sc.rows_embedded;
  r.out["primary"] = sc.primary().name;
  json js = json::object();
  for (const auto& s : sc.sets) {
    json j = {{"trials", int64_t(s.scores.size())}};
    if (s.has_metrics) {
      j.update(metrics_json(s.metrics));
      j["min_dcf"] = min_dcf_json(s.dcf);
      if (s.has_ci) {
        j["eer_ci_low"] = s.ci.low;
        j["eer_ci_high"] = s.ci.high;
        j["eer_ci_level"] = s.ci.level;
        j["eer_ci_resamples"] = s.ci.resamples;
        j["eer_ci_seed"] = s.ci.seed;
        j["eer_ci_method"] = "percentile bootstrap over trials, stratified by target/non-target";
      }
    }
    js[s.name] = j;
  }
  r.out["scores"] = js;
}

// --score_file (the primary scores) and --det_plot (every set), where asked for.
void write_score_outputs(EvalRun& r, const Scored& sc) {
  const OptionParser& p = r.options;
  const audio::TrialList& trials = r.inputs.trials;
  if (!p.str("score_file").empty()) {
    std::vector<ScoreLine> lines;
    lines.reserve(sc.pairs.size());
    for (size_t i = 0; i < sc.pairs.size(); ++i)
      lines.push_back({trials.trials[i].enroll, trials.trials[i].test, sc.primary().scores[i], sc.labels[i]});
    if (r.flags.score_format == "vt") write_scores_vt(p.str("score_file"), lines);
    else write_scores_kaldi(p.str("score_file"), lines);
    r.out["score_file"] = {
        {"path", p.str("score_file")}, {"format", r.flags.score_format}, {"scores", sc.primary().name}};
  }
  if (!p.str("det_plot").empty() && sc.labelled) {
    std::vector<DetSeries> series;
    for (const auto& s : sc.sets) series.push_back({s.name, det_curve(s.scores, sc.labels), s.metrics.vt.eer});
    write_det_svg(p.str("det_plot"), series);
    r.out["det_plot"] = p.str("det_plot");
  }
}

// The console figures, one line per score set, then voxceleb_trainer's line.
void print_eval_figures(const EvalRun& r, const Scored& sc) {
  const RecipeConfig& rc = r.recipe;
  const ProtocolSettings& ps = r.flags.protocol;
  if (ps.protocol == EvalProtocol::voxceleb_trainer)
    std::printf("%s: %zu files, %zu trials, %lld crops per file, test_normalize %s (%s)\n", rc.test_list.c_str(),
                r.inputs.paths.size(), sc.pairs.size(), (long long)sc.crops_per_file,
                r.test_normalize ? "true" : "false", r.test_normalize_why.c_str());
  else if (ps.protocol == EvalProtocol::taoruijie)
    std::printf("%s: %zu files, %zu trials, eval_protocol taoruijie: whole file + %lld crops of %lld samples\n",
                rc.test_list.c_str(), r.inputs.paths.size(), sc.pairs.size(), (long long)ps.num_crops,
                (long long)ps.crop_samples);
  else
    std::printf("%s: %zu files, %zu trials, eval_protocol sliding: windows of %lld samples every %lld, %lld in all\n",
                rc.test_list.c_str(), r.inputs.paths.size(), sc.pairs.size(), (long long)ps.window_samples,
                (long long)ps.step_samples, (long long)sc.rows_embedded);
  if (!sc.labelled) {
    std::printf("unlabelled trial list: scores only, no metrics\n");
    return;
  }
  // The minDCF of the flags is printed separately only when it is not one of the two standard ones.
  const bool custom_dcf = (rc.dcf_p_target != 0.05 && rc.dcf_p_target != 0.01) || rc.dcf_c_miss != 1 || rc.dcf_c_fa != 1;
  for (const auto& s : sc.sets) {
    std::printf("%-22s EER %.4f %%", s.name.c_str(), s.metrics.vt.eer);
    if (s.has_ci) std::printf(" [%.4f, %.4f]", s.ci.low, s.ci.high);
    std::printf(" (interpolated %.4f %%)  minDCF(0.05) %.5f  minDCF(0.01) %.5f", s.metrics.interpolated.eer,
                s.metrics.dcf_p05.min_dcf, s.metrics.dcf_p01.min_dcf);
    if (custom_dcf)
      std::printf("  minDCF(%g, C_miss %g, C_fa %g) %.5f", rc.dcf_p_target, rc.dcf_c_miss, rc.dcf_c_fa, s.dcf.min_dcf);
    std::printf("\n");
  }
  if (sc.primary().has_ci)
    std::printf("EER %g %% confidence interval: %lld stratified bootstrap resamples of the trials, seed %llu\n",
                sc.primary().ci.level * 100, (long long)sc.primary().ci.resamples,
                (unsigned long long)sc.primary().ci.seed);
  // voxceleb_trainer's "VEER {:2.4f} MinDCF {:2.5f}": the primary scores' VT EER and minDCF at --dcf_p_target.
  std::printf("EER %.4f MinDCF %.5f\n", sc.primary().metrics.vt.eer, sc.primary().dcf.min_dcf);
}

}  // namespace

int run_eval_mode(EvalRun& r) {
  r.model.to(r.flags.device);
  Laps laps;
  const Scored sc = embed_and_score(r, laps);
  record_figures(r, sc);
  write_score_outputs(r, sc);
  laps.lap("write");
  r.out["seconds"] = laps.seconds;
  if (!r.options.str("json").empty()) std::ofstream(r.options.str("json")) << r.out.dump(2) << "\n";
  print_eval_figures(r, sc);
  return 0;
}

}  // namespace spk::recipe::eval_app
