// spk_eval: evaluate a speaker-embedding model, extract embeddings, or score two files (docs/evaluation.md).
//
//   --mode eval   (default) embed the trial list's files, score every trial with voxceleb_trainer's protocol
//                 (−mean Euclidean distance over crop pairs) and/or the cosine of whole-utterance embeddings,
//                 optionally AS-norm / S-norm against a cohort from a train list; report both EERs and minDCF;
//                 write the score file, a JSON of every figure and a DET plot. Last stdout line:
//                 "EER <VT EER in %> MinDCF <minDCF at --dcf_p_target>" of the primary scores.
//   --mode embed  embeddings of a list of files (or the trial list's files) as .npy + index or a Kaldi text ark.
//   --mode pair   the VT and cosine scores of --enrol_file against --test_file.
//
// An app: flags, files and progress; the maths is in apps/recipe (evaluator, scoring, score_norm) and losses/.
// Every mistake in the call (unknown flag, bad value, missing file, malformed list line, flags that do not fit
// the mode) is reported before any audio is read, as "spk_eval: error: ..." naming the flag, file or line,
// with exit status 2; a failure during the work exits with status 1.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/recipe_parts.h"
#include "apps/recipe/det_plot.h"
#include "apps/recipe/embeddings_io.h"
#include "apps/recipe/evaluator.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/score_norm.h"
#include "engine/audio/fbank.h"
#include "engine/autograd.h"
#include "engine/cuda.h"
#include "engine/ops.h"
#include "losses/loss.h"
#include "nets/model.h"

#ifndef SPK_GIT_SHA
#define SPK_GIT_SHA "unknown"
#endif

namespace fs = std::filesystem;
using namespace spk;
using namespace spk::recipe;
using json = nlohmann::json;

namespace {

constexpr const char* kApp = "spk_eval";

[[noreturn]] void usage(const std::string& msg) { throw UsageError(msg); }

void add_options(OptionParser& p) {
  const std::string g = "spk_eval";
  p.add("mode", OptionKind::str, "eval", "eval (score a trial list), embed (write embeddings), pair (score two files)", g);
  p.add("scoring", OptionKind::str, "both",
        "vt (-mean Euclidean distance over crop pairs), cosine (mean-over-crops embeddings), or both; "
        "the primary scores are vt's unless --scoring cosine or --score_norm", g);
  p.add("test_normalize", OptionKind::str, "auto",
        "L2-normalise crop embeddings before VT scoring: auto (as the --trainfunc loss says; false only for proto), "
        "true, false", g);
  p.add("allow_unlabelled", OptionKind::boolean, "false",
        "accept a trial list of 'path1 path2' lines (scores only, no EER)", g);
  p.add("eval_batch", OptionKind::integer, "64", "crops per forward pass (files batched together)", g);
  p.add("score_file", OptionKind::str, "", "write the primary scores here", g);
  p.add("score_format", OptionKind::str, "vt", "score file format: vt ('score path1 path2') or kaldi "
        "('path1 path2 score target|nontarget')", g);
  p.add("json", OptionKind::str, "", "write every figure (EERs, thresholds, minDCFs, counts, settings) as JSON here", g);
  p.add("det_plot", OptionKind::str, "", "write a DET plot (SVG) of every score set here", g);
  p.add("score_norm", OptionKind::str, "none", "none, asnorm (top --top_n cohort scores) or snorm (whole cohort); "
        "normalises the cosine scores", g);
  p.add("cohort_list", OptionKind::str, "", "score normalisation cohort: a train list ('speaker path' lines)", g);
  p.add("cohort_path", OptionKind::str, "", "root of the cohort list's paths", g);
  p.add("top_n", OptionKind::integer, "300", "asnorm: cohort scores averaged per embedding", g);
  p.add("embed_list", OptionKind::str, "", "embed mode: files to embed, one path per line (default: the trial "
        "list's files)", g);
  p.add("embed_path", OptionKind::str, "", "embed mode: root of --embed_list's paths (default --test_path when "
        "embedding the trial list)", g);
  p.add("embed_out", OptionKind::str, "", "embed mode: output stem: STEM.npy + STEM.index.txt (npy) or STEM.ark "
        "(kaldi)", g);
  p.add("embed_format", OptionKind::str, "npy", "embed mode: npy (NumPy '<f4' (n, D) + keys, one per line) or kaldi "
        "(text ark)", g);
  p.add("embed_crops", OptionKind::boolean, "false", "embed mode: one row per crop (keys 'path#i') instead of the "
        "mean over crops", g);
  p.add("wav_scp", OptionKind::str, "", "Kaldi wav.scp ('utt path' lines; paths joined to --test_path) resolving "
        "the trial list's keys when they are utterance ids (Kaldi 'utt1 utt2 target|nontarget' lists)", g);
  p.add("enrol_file", OptionKind::str, "", "pair mode: first audio file", g);
  p.add("test_file", OptionKind::str, "", "pair mode: second audio file", g);
}

std::string one_of(const OptionParser& p, const std::string& name, const std::set<std::string>& allowed) {
  const std::string v = p.str(name);
  if (allowed.count(v)) return v;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  usage("--" + name + ": '" + v + "' is not one of " + list);
}

// Flags that only one mode uses: giving them in another mode is a mistake worth stopping for.
void check_mode_flags(const OptionParser& p, const std::string& mode) {
  static const std::vector<std::pair<std::string, std::set<std::string>>> used_by = {
      {"score_file", {"eval"}},  {"score_format", {"eval"}}, {"det_plot", {"eval"}},    {"score_norm", {"eval"}},
      {"cohort_list", {"eval"}}, {"cohort_path", {"eval"}},  {"top_n", {"eval"}},       {"scoring", {"eval"}},
      {"allow_unlabelled", {"eval", "embed"}},               {"embed_list", {"embed"}}, {"embed_path", {"embed"}},
      {"embed_out", {"embed"}},  {"embed_format", {"embed"}}, {"embed_crops", {"embed"}},
      {"enrol_file", {"pair"}},  {"test_file", {"pair"}}};
  for (const auto& [flag, modes] : used_by)
    if (p.source(flag) != OptionSource::default_value && !modes.count(mode))
      usage("--" + flag + " is not used with --mode " + mode);
}

void require_file(const std::string& path, const std::string& flag) {
  if (path.empty()) usage(flag + ": required");
  std::error_code ec;
  if (!fs::exists(path, ec)) usage(flag + ": no such file '" + path + "'");
  if (fs::is_directory(path, ec)) usage(flag + ": '" + path + "' is a directory, not a file");
}

// An output file's folder must exist or be creatable, so a bad path fails before hours of embedding.
void prepare_output(const std::string& path, const std::string& flag) {
  if (path.empty()) return;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (fs::is_directory(path, ec)) usage(flag + ": '" + path + "' is a directory");
  if (parent.empty()) return;
  fs::create_directories(parent, ec);
  if (!fs::is_directory(parent, ec)) usage(flag + ": cannot create the folder '" + parent.string() + "' for " + path);
}

// Audio files that do not exist, reported all at once (the first few named) before any decoding.
void check_files_exist(const std::vector<std::string>& paths, const std::string& what) {
  const std::vector<std::string> missing = missing_files(paths);
  if (missing.empty()) return;
  std::string msg = what + ": " + std::to_string(missing.size()) + " of " + std::to_string(paths.size()) +
                    " audio files do not exist:";
  for (size_t i = 0; i < missing.size() && i < 5; ++i) msg += " '" + missing[i] + "'";
  if (missing.size() > 5) msg += " ...";
  usage(msg);
}

std::vector<std::string> read_path_list(const std::string& list, const std::string& root) {
  std::ifstream f(list);
  if (!f) usage("--embed_list: cannot open '" + list + "'");
  std::vector<std::string> out;
  std::string line;
  for (int64_t n = 1; std::getline(f, line); ++n) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r");
    const std::string path = line.substr(b, e - b + 1);
    if (path.find_first_of(" \t") != std::string::npos)
      usage(list + ":" + std::to_string(n) + ": expected one path per line, got '" + line + "'");
    out.push_back(audio::join_path(root, path));
  }
  if (out.empty()) usage("--embed_list: '" + list + "' lists no files");
  return out;
}

// Progress on stderr: at most every 5 s, and at the end.
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

// The keys of the recipe that describe the model: the only ones an spk checkpoint's saved config supplies
// (its device, lists and crop settings are the training run's, not this evaluation's).
json model_keys(const json& config) {
  json out = json::object();
  for (const char* k : {"model", "encoder_type", "nOut", "n_mels", "log_input", "C", "frontend", "trainfunc"})
    if (config.contains(k)) out[k] = config[k];
  return out;
}

// Whether VT scoring L2-normalises crop embeddings: the loss class's test_normalize (false only for proto).
bool resolve_test_normalize(const std::string& flag, const RecipeConfig& rc, std::string& why) {
  if (flag == "true" || flag == "false") {
    why = "--test_normalize " + flag;
    return flag == "true";
  }
  if (rc.trainfunc.empty()) {
    why = "no --trainfunc known: normalised, as every loss but proto";
    return true;
  }
  std::string err;
  for (int64_t m : {1, 2}) {   // the loss classes want 1 or >= 2 utterances per speaker; probe both
    LossConfig lc;
    lc.nOut = rc.nOut;
    lc.nClasses = 2;
    lc.nPerSpeaker = m;
    try {
      const bool tn = make_loss(rc.trainfunc, lc)->test_normalize();
      why = "loss " + rc.trainfunc;
      return tn;
    } catch (const Error& e) {
      err = e.what();
    }
  }
  usage("--trainfunc '" + rc.trainfunc + "': " + err);
}

struct ScoreSet {
  std::string name;   // vt, cosine, asnorm, snorm
  std::vector<double> scores;
  bool has_metrics = false;
  MetricsReport metrics;
  MinDcf dcf;         // at --dcf_p_target, --dcf_c_miss, --dcf_c_fa
};

struct Loaded {
  std::shared_ptr<SpeakerNet> model;
  json info;
};

Loaded load_model(OptionParser& p, const std::string& path) {
  Checkpoint ck;
  try {
    ck = read_checkpoint(path);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    usage(std::string("--initial_model: ") + e.what());
  }
  if (ck.is_spk) p.apply_defaults_from(model_keys(ck.state.config), OptionSource::checkpoint, path);
  const RecipeConfig rc = recipe_config(p);
  if (rc.model.empty())
    usage("--model: required (--initial_model '" + path + "' is not an spk checkpoint, so its metadata does not "
          "name the model)");
  const ModelConfig mc = model_config(rc);
  Loaded l;
  try {
    l.model = make_model(rc.model, mc);
  } catch (const Error& e) {
    usage(std::string("--model ") + rc.model + ": " + e.what());
  }
  ImportResult ir;
  try {
    ir = import_weights(ck, *l.model, nullptr);
  } catch (const Error& e) {
    usage(std::string("--initial_model '") + path + "' does not fit --model " + rc.model + " (--nOut " +
          std::to_string(rc.nOut) + ", --n_mels " + std::to_string(rc.n_mels) + ", --encoder_type " +
          rc.encoder_type + "): " + e.what());
  }
  std::fprintf(stderr, "%s: %s (%s): %s\n", kApp, path.c_str(), ir.source_format.c_str(), ir.summary().c_str());
  l.info = {{"path", path},
            {"format", ir.source_format},
            {"entries", ir.model_entries},
            {"skipped", ir.skipped},
            {"extra", ir.extra}};
  if (ck.is_spk) {
    l.info["epoch"] = ck.state.epoch;
    auto c = ck.file.metadata.find("spk.commit");
    if (c != ck.file.metadata.end()) l.info["commit"] = c->second;
  }
  return l;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Pair mode: score one enrolment file against one test file.
int run_pair(const OptionParser& p, SpeakerNet& model, const Device& device, const FbankConfig& fb,
             const EmbedSettings& es, bool test_normalize, json& out) {
  model.to(device);
  const Tensor crops = embed_files(model, fb, {p.str("enrol_file"), p.str("test_file")}, es);   // (2, n, D)
  const std::vector<TrialPair> pair{{0, 1}};
  const double vt = score_trials(crops, pair, "vt", test_normalize)[0];
  const double cos = score_trials(crops, pair, "cosine", test_normalize)[0];
  out["enrol_file"] = p.str("enrol_file");
  out["test_file"] = p.str("test_file");
  out["vt_score"] = vt;
  out["cosine_score"] = cos;
  if (!p.str("json").empty()) {
    std::ofstream(p.str("json")) << out.dump(2) << "\n";
  }
  std::printf("%s %s\nVT score %.6f cosine %.6f\n", p.str("enrol_file").c_str(), p.str("test_file").c_str(), vt,
              cos);
  return 0;
}

// Embed mode: write one embedding per file (or per crop) as npy + index or a Kaldi text ark.
int run_embed(const OptionParser& p, SpeakerNet& model, const Device& device, const FbankConfig& fb,
              const EmbedSettings& es, const std::vector<std::string>& paths, const std::vector<std::string>& keys,
              const std::string& embed_format, const std::string& npy, const std::string& index,
              const std::string& ark, json& out) {
  model.to(device);
  const auto t0 = std::chrono::steady_clock::now();
  const bool crops_out = p.boolean("embed_crops");
  EmbedSettings s = es;
  s.mean_over_crops = !crops_out;
  const Tensor e = embed_files(model, fb, paths, s, progress_printer("embedding"));   // (F, n, D)
  Embeddings emb;
  emb.matrix = reshape(e, {e.size(0) * e.size(1), e.size(2)});
  for (const auto& k : keys)
    for (int64_t i = 0; i < e.size(1); ++i) emb.keys.push_back(crops_out ? k + "#" + std::to_string(i) : k);
  if (embed_format == "npy") write_embeddings_npy(npy, index, emb);
  else write_kaldi_text_ark(ark, emb);
  out["embeddings"] = {{"files", e.size(0)},
                       {"rows", emb.matrix.size(0)},
                       {"dim", emb.matrix.size(1)},
                       {"per_crop", crops_out},
                       {"format", embed_format},
                       {"outputs", embed_format == "npy" ? json::array({npy, index}) : json::array({ark})},
                       {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  if (!p.str("json").empty()) std::ofstream(p.str("json")) << out.dump(2) << "\n";
  std::printf("wrote %lld embeddings of dimension %lld to %s\n", (long long)emb.matrix.size(0),
              (long long)emb.matrix.size(1), embed_format == "npy" ? npy.c_str() : ark.c_str());
  return 0;
}

// The files to embed in eval and embed modes (from --test_list, maybe through --wav_scp, or --embed_list) and
// their keys, read and checked before the model is loaded.
void read_files_to_embed(const OptionParser& p, const RecipeConfig& rc0, const std::string& mode,
                         audio::TrialList& trials, std::vector<std::string>& paths, std::vector<std::string>& keys) {
  const bool from_trials = mode == "eval" || p.str("embed_list").empty();
  if (from_trials) {
    require_file(rc0.test_list, "--test_list");
    audio::TrialOptions to;
    to.allow_unlabelled = p.boolean("allow_unlabelled");
    try {
      trials = audio::read_trials(rc0.test_list, to);
    } catch (const Error& e) {
      usage(std::string("--test_list: ") + e.what());
    }
    if (trials.trials.empty()) usage("--test_list: '" + rc0.test_list + "' has no trials");
    if (!trials.labelled() && !p.str("det_plot").empty())
      usage("--det_plot: the trial list '" + rc0.test_list + "' has no labels, so there is no DET curve");
    const std::string root = mode == "embed" && !p.str("embed_path").empty() ? p.str("embed_path") : rc0.test_path;
    if (!p.str("wav_scp").empty()) {
      require_file(p.str("wav_scp"), "--wav_scp");
      std::map<std::string, std::string> scp;
      try {
        scp = audio::read_wav_scp(p.str("wav_scp"), root);
      } catch (const Error& e) {
        usage(std::string("--wav_scp: ") + e.what());
      }
      for (const auto& k : trials.files) {
        auto it = scp.find(k);
        if (it == scp.end())
          usage("--wav_scp: '" + p.str("wav_scp") + "' has no entry for '" + k + "' of --test_list " + rc0.test_list);
        paths.push_back(it->second);
      }
    } else {
      for (const auto& k : trials.files) paths.push_back(audio::join_path(root, k));
    }
    keys = trials.files;
  } else {
    require_file(p.str("embed_list"), "--embed_list");
    paths = read_path_list(p.str("embed_list"), p.str("embed_path"));
    keys = paths;
  }
  check_files_exist(paths, from_trials ? "--test_list " + rc0.test_list : "--embed_list " + p.str("embed_list"));
}

// The --score_norm cohort, read and checked before any embedding.
audio::TrainList read_cohort(const OptionParser& p) {
  audio::TrainList cohort_list;
  require_file(p.str("cohort_list"), "--cohort_list");
  try {
    cohort_list = audio::read_train_list(p.str("cohort_list"), p.str("cohort_path"));
  } catch (const Error& e) {
    usage(std::string("--cohort_list: ") + e.what());
  }
  if (cohort_list.speakers.size() < 2)
    usage("--cohort_list: '" + p.str("cohort_list") + "' has " + std::to_string(cohort_list.speakers.size()) +
          " speaker(s); a cohort needs at least 2");
  check_files_exist(cohort_list.paths, "--cohort_list " + p.str("cohort_list"));
  return cohort_list;
}

// Eval mode's console figures, one line per score set.
void print_eval_figures(const RecipeConfig& rc, const std::vector<ScoreSet>& sets, const ScoreSet& primary,
                        size_t n_files, size_t n_trials, int64_t crops_per_file, bool labelled,
                        bool test_normalize, const std::string& tn_why) {
  std::printf("%s: %zu files, %zu trials, %lld crops per file, test_normalize %s (%s)\n", rc.test_list.c_str(),
              n_files, n_trials, (long long)crops_per_file, test_normalize ? "true" : "false", tn_why.c_str());
  if (!labelled) {
    std::printf("unlabelled trial list: scores only, no metrics\n");
    return;
  }
  // The minDCF of the flags is printed separately only when it is not one of the two standard ones.
  const bool custom_dcf = (rc.dcf_p_target != 0.05 && rc.dcf_p_target != 0.01) || rc.dcf_c_miss != 1 || rc.dcf_c_fa != 1;
  for (const auto& s : sets) {
    std::printf("%-22s EER %.4f %% (interpolated %.4f %%)  minDCF(0.05) %.5f  minDCF(0.01) %.5f", s.name.c_str(),
                s.metrics.vt.eer, s.metrics.interpolated.eer, s.metrics.dcf_p05.min_dcf, s.metrics.dcf_p01.min_dcf);
    if (custom_dcf)
      std::printf("  minDCF(%g, C_miss %g, C_fa %g) %.5f", rc.dcf_p_target, rc.dcf_c_miss, rc.dcf_c_fa, s.dcf.min_dcf);
    std::printf("\n");
  }
  // voxceleb_trainer's "VEER {:2.4f} MinDCF {:2.5f}": the primary scores' VT EER and minDCF at --dcf_p_target.
  std::printf("EER %.4f MinDCF %.5f\n", primary.metrics.vt.eer, primary.dcf.min_dcf);
}

// Eval mode: embed the trial list's files, score every trial (and normalise with a cohort), write the score
// file, DET plot and --json, and print the figures; the last line is voxceleb_trainer's.
int run_eval(const OptionParser& p, SpeakerNet& model, const Device& device, const FbankConfig& fb,
             const EmbedSettings& es, const RecipeConfig& rc, const audio::TrialList& trials,
             const std::vector<std::string>& paths, bool test_normalize, const std::string& tn_why,
             const std::string& scoring, const std::string& score_norm, const std::string& score_format,
             int64_t top_n, const audio::TrainList& cohort_list, json& out) {
  model.to(device);
  const std::vector<TrialPair> pairs = trial_pairs(trials);
  const std::vector<int> labels = trial_labels(trials);
  const bool labelled = trials.labelled();
  json seconds;
  auto t0 = std::chrono::steady_clock::now();
  auto lap = [&](const char* what) {
    const auto t = std::chrono::steady_clock::now();
    seconds[what] = std::chrono::duration<double>(t - t0).count();
    t0 = t;
  };
  const Tensor crops = embed_files(model, fb, paths, es, progress_printer("embedding"));
  lap("embed");

  std::vector<ScoreSet> sets;
  auto add_set = [&](const std::string& name, std::vector<double> scores) {
    ScoreSet s;
    s.name = name;
    s.scores = std::move(scores);
    s.has_metrics = labelled;
    if (labelled) {
      s.metrics = compute_metrics(s.scores, labels);
      s.dcf = min_dcf(s.scores, labels, rc.dcf_p_target, rc.dcf_c_miss, rc.dcf_c_fa);
    }
    sets.push_back(std::move(s));
  };
  if (scoring != "cosine") add_set("vt", score_trials(crops, pairs, "vt", test_normalize));
  if (scoring != "vt") add_set("cosine", score_trials(crops, pairs, "cosine", test_normalize));
  lap("score");

  if (score_norm != "none") {
    EmbedSettings cs = es;
    cs.mean_over_crops = true;
    const Tensor ce = embed_files(model, fb, cohort_list.paths, cs, progress_printer("embedding cohort"));
    lap("embed_cohort");
    std::vector<std::string> speakers;
    for (int64_t l : cohort_list.labels) speakers.push_back(cohort_list.speakers.name(l));
    NoGradGuard ng;
    const Cohort cohort = build_cohort(squeeze(ce, 1), speakers);
    const Tensor utts = mean(crops, {1});   // (F, D) whole-utterance embeddings
    const NormedScores ns = cosine_scores_normed(utts, pairs, cohort, score_norm == "asnorm" ? top_n : 0);
    // wespeaker's raw score, the one the normalisation starts from: the cosine after subtracting the cohort mean.
    add_set("cosine_mean_subtracted", ns.raw);
    add_set(score_norm, ns.normed);
    out["cohort"] = {{"list", p.str("cohort_list")},
                     {"utterances", cohort_list.size()},
                     {"speakers", cohort_list.speakers.size()},
                     {"top_n", score_norm == "asnorm" ? std::min<int64_t>(top_n, cohort_list.speakers.size())
                                                      : cohort_list.speakers.size()}};
    lap("score_norm");
  }
  const ScoreSet& primary = sets.back().name == score_norm ? sets.back() : sets.front();

  // ---- outputs ----
  out["test_list"] = rc.test_list;
  out["test_path"] = rc.test_path;
  out["files"] = int64_t(paths.size());
  out["trials"] = int64_t(pairs.size());
  out["labelled"] = labelled;
  out["crops_per_file"] = crops.size(1);
  out["primary"] = primary.name;
  json js = json::object();
  for (const auto& s : sets) {
    json j = {{"trials", int64_t(s.scores.size())}};
    if (s.has_metrics) {
      j.update(metrics_json(s.metrics));
      j["min_dcf"] = min_dcf_json(s.dcf);
    }
    js[s.name] = j;
  }
  out["scores"] = js;
  if (!p.str("score_file").empty()) {
    std::vector<ScoreLine> lines;
    lines.reserve(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i)
      lines.push_back({trials.trials[i].enroll, trials.trials[i].test, primary.scores[i], labels[i]});
    if (score_format == "vt") write_scores_vt(p.str("score_file"), lines);
    else write_scores_kaldi(p.str("score_file"), lines);
    out["score_file"] = {{"path", p.str("score_file")}, {"format", score_format}, {"scores", primary.name}};
  }
  if (!p.str("det_plot").empty() && labelled) {
    std::vector<DetSeries> series;
    for (const auto& s : sets) series.push_back({s.name, det_curve(s.scores, labels), s.metrics.vt.eer});
    write_det_svg(p.str("det_plot"), series);
    out["det_plot"] = p.str("det_plot");
  }
  lap("write");
  out["seconds"] = seconds;
  if (!p.str("json").empty()) std::ofstream(p.str("json")) << out.dump(2) << "\n";

  print_eval_figures(rc, sets, primary, paths.size(), pairs.size(), crops.size(1), labelled, test_normalize, tn_why);
  return 0;
}

int run(int argc, char** argv) {
  OptionParser p(kApp,
                 "Evaluate a speaker-embedding model on a trial list, extract embeddings, or score two files.\n"
                 "Eval mode's last line is 'EER <percent> MinDCF <value>': voxceleb_trainer's (non-interpolated) EER "
                 "in % and the minDCF at --dcf_p_target (default 0.05, C_miss --dcf_c_miss, C_fa --dcf_c_fa) of the "
                 "primary scores (VT scoring; cosine with --scoring cosine; the normalised ones with --score_norm). "
                 "--json holds every figure of every score set.",
                 EVAL);
  add_options(p);
  if (!p.parse(argc, argv)) return 0;   // --help

  // ---- everything that can be checked before any work ----
  const std::string mode = one_of(p, "mode", {"eval", "embed", "pair"});
  check_mode_flags(p, mode);
  const std::string scoring = one_of(p, "scoring", {"vt", "cosine", "both"});
  const std::string score_format = one_of(p, "score_format", {"vt", "kaldi"});
  const std::string score_norm = one_of(p, "score_norm", {"none", "asnorm", "snorm"});
  const std::string embed_format = one_of(p, "embed_format", {"npy", "kaldi"});
  const std::string tn_flag = one_of(p, "test_normalize", {"auto", "true", "false"});
  const int64_t eval_batch = p.integer("eval_batch");
  if (eval_batch < 1) usage("--eval_batch: must be >= 1, got " + std::to_string(eval_batch));
  const int64_t top_n = p.integer("top_n");
  if (score_norm == "asnorm" && top_n < 2) usage("--top_n: must be >= 2 for asnorm, got " + std::to_string(top_n));
  if (score_norm == "snorm" && p.source("top_n") != OptionSource::default_value)
    usage("--top_n is not used by --score_norm snorm (it takes the whole cohort)");
  if (score_norm != "none" && scoring == "vt")
    usage("--score_norm " + score_norm + " normalises cosine scores; use --scoring cosine or both");
  if (score_norm != "none" && p.str("cohort_list").empty()) usage("--score_norm " + score_norm + ": needs --cohort_list");
  if (score_norm == "none" && !p.str("cohort_list").empty()) usage("--cohort_list is only used with --score_norm");

  const RecipeConfig rc0 = recipe_config(p);   // all but the model keys, which a checkpoint may still supply
  if (rc0.dcf_p_target <= 0 || rc0.dcf_p_target >= 1)
    usage("--dcf_p_target: must be in (0, 1), got " + fmt("%g", rc0.dcf_p_target));
  if (rc0.dcf_c_miss <= 0) usage("--dcf_c_miss: must be positive, got " + fmt("%g", rc0.dcf_c_miss));
  if (rc0.dcf_c_fa <= 0) usage("--dcf_c_fa: must be positive, got " + fmt("%g", rc0.dcf_c_fa));
  if (rc0.eval_frames < 0) usage("--eval_frames: must be >= 0 (0 = the whole file), got " + std::to_string(rc0.eval_frames));
  if (rc0.num_eval < 1) usage("--num_eval: must be >= 1, got " + std::to_string(rc0.num_eval));
  if (rc0.nDataLoaderThread < 0) usage("--nDataLoaderThread: must be >= 0, got " + std::to_string(rc0.nDataLoaderThread));
  Device device;
  try {
    device = Device::parse(rc0.device);
  } catch (const Error&) {
    usage("--device: '" + rc0.device + "' is not cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && (!cuda::available() || device.index >= cuda::device_count()))
    usage("--device " + rc0.device + ": no such CUDA device (" +
          (cuda::built_with_cuda() ? "none usable" : "this build has no CUDA") + ")");
  const std::string model_path = p.str("initial_model");
  require_file(model_path, "--initial_model");
  for (const char* f : {"json", "score_file", "det_plot"}) prepare_output(p.str(f), std::string("--") + f);

  // ---- the files, read and checked before the model is loaded ----
  if (mode == "pair") {
    require_file(p.str("enrol_file"), "--enrol_file");
    require_file(p.str("test_file"), "--test_file");
  }
  audio::TrialList trials;
  std::vector<std::string> paths, keys;
  if (mode != "pair") read_files_to_embed(p, rc0, mode, trials, paths, keys);
  std::string npy, index, ark;
  if (mode == "embed") {
    const std::string stem = p.str("embed_out");
    if (stem.empty()) usage("--embed_out: required with --mode embed");
    npy = stem + ".npy", index = stem + ".index.txt", ark = stem + ".ark";
    for (const auto& f : embed_format == "npy" ? std::vector<std::string>{npy, index} : std::vector<std::string>{ark})
      prepare_output(f, "--embed_out");
    for (const auto& k : keys)
      if (k.empty() || k.find_first_of(" \t\r\n") != std::string::npos)
        usage("--embed_out: key '" + k + "' contains whitespace; npy index and Kaldi ark keys cannot");
  }
  // ---- eval mode: the cohort (read and checked before any embedding) ----
  audio::TrainList cohort_list;
  if (score_norm != "none") cohort_list = read_cohort(p);

  // ---- the model (its weights must fit) and the settings that depend on it ----
  Loaded loaded = load_model(p, model_path);
  SpeakerNet& model = *loaded.model;
  const RecipeConfig rc = recipe_config(p);   // after the checkpoint's model keys
  const FbankConfig fb = frontend_config(rc);
  std::string tn_why;
  const bool test_normalize = resolve_test_normalize(tn_flag, rc, tn_why);

  EmbedSettings es;
  es.eval_frames = rc.eval_frames;
  es.num_eval = rc.num_eval;
  es.num_workers = int(rc.nDataLoaderThread);
  es.max_batch_rows = eval_batch;
  try {
    check_embed_settings(es, fb, model);
  } catch (const Error& e) {
    usage(e.what());
  }

  json out;
  out["tool"] = kApp;
  out["mode"] = mode;
  out["commit"] = SPK_GIT_SHA;
  out["settings"] = p.values();
  if (!p.config_path().empty()) out["config_file"] = p.config_path();
  out["model"] = {{"name", model.name()},
                  {"parameters", model.num_parameters()},
                  {"embedding_dim", model.embedding_dim()},
                  {"n_mels", model.n_mels()}};
  out["checkpoint"] = loaded.info;
  out["frontend"] = {{"preset", frontend_name(rc)}, {"config", fbank_config_str(fb)}};
  out["device"] = device.str();
  out["test_normalize"] = {{"value", test_normalize}, {"why", tn_why}};

  if (mode == "pair") return run_pair(p, model, device, fb, es, test_normalize, out);
  if (mode == "embed") return run_embed(p, model, device, fb, es, paths, keys, embed_format, npy, index, ark, out);

  return run_eval(p, model, device, fb, es, rc, trials, paths, test_normalize, tn_why, scoring, score_norm,
                  score_format, top_n, cohort_list, out);
}

}  // namespace

int main(int argc, char** argv) {
  return run_app(kApp, [&] { return run(argc, argv); });
}
