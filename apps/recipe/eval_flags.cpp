// spk_eval's own flags and every check that needs no audio: the words are among the allowed ones, the numbers
// in range, the flags fit the mode and each other, the device exists, --initial_model is a file and the
// output folders can be made (see eval_app.h).
#include <cstdio>
#include <set>
#include <utility>

#include "apps/recipe/cpu_conv_flag.h"
#include "apps/recipe/eval_app.h"
#include "engine/cuda.h"

namespace spk::recipe::eval_app {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
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
      {"eer_ci", {"eval"}},      {"eer_ci_resamples", {"eval"}},                      {"eer_ci_seed", {"eval"}},
      {"allow_unlabelled", {"eval", "embed"}},               {"embed_list", {"embed"}}, {"embed_path", {"embed"}},
      {"embed_out", {"embed"}},  {"embed_format", {"embed"}}, {"embed_crops", {"embed"}},
      {"enrol_file", {"pair"}},  {"test_file", {"pair"}}};
  for (const auto& [flag, modes] : used_by)
    if (p.source(flag) != OptionSource::default_value && !modes.count(mode))
      usage("--" + flag + " is not used with --mode " + mode);
}

// The words, the batch, and score normalisation's flags against each other.
void check_own_flags(const OptionParser& p, EvalFlags& f) {
  f.mode = one_of(p, "mode", {"eval", "embed", "pair"});
  check_mode_flags(p, f.mode);
  f.scoring = one_of(p, "scoring", {"vt", "cosine", "both"});
  f.score_format = one_of(p, "score_format", {"vt", "kaldi"});
  f.score_norm = one_of(p, "score_norm", {"none", "asnorm", "snorm"});
  f.embed_format = one_of(p, "embed_format", {"npy", "kaldi"});
  f.test_normalize = one_of(p, "test_normalize", {"auto", "true", "false"});
  f.eval_batch = p.integer("eval_batch");
  if (f.eval_batch < 1) usage("--eval_batch: must be >= 1, got " + std::to_string(f.eval_batch));
  f.top_n = p.integer("top_n");
  const std::string& norm = f.score_norm;
  if (norm == "asnorm" && f.top_n < 2) usage("--top_n: must be >= 2 for asnorm, got " + std::to_string(f.top_n));
  if (norm == "snorm" && p.source("top_n") != OptionSource::default_value)
    usage("--top_n is not used by --score_norm snorm (it takes the whole cohort)");
  if (norm != "none" && f.scoring == "vt")
    usage("--score_norm " + norm + " normalises cosine scores; use --scoring cosine or both");
  if (norm != "none" && p.str("cohort_list").empty()) usage("--score_norm " + norm + ": needs --cohort_list");
  if (norm == "none" && !p.str("cohort_list").empty()) usage("--cohort_list is only used with --score_norm");
}

// The EER confidence interval: off (0) or a level in (0, 1); its resamples and seed only with it.
void check_eer_ci_flags(const OptionParser& p, EvalFlags& f) {
  f.eer_ci = p.real("eer_ci");
  if (!(f.eer_ci == 0 || (f.eer_ci > 0 && f.eer_ci < 1)))
    usage("--eer_ci: must be 0 (no interval) or a level in (0, 1) such as 0.95, got " + fmt("%g", f.eer_ci));
  f.eer_ci_resamples = p.integer("eer_ci_resamples");
  if (f.eer_ci_resamples < 100)
    usage("--eer_ci_resamples: must be >= 100 (a percentile interval needs the tails), got " +
          std::to_string(f.eer_ci_resamples));
  const int64_t seed = p.integer("eer_ci_seed");
  if (seed < 0) usage("--eer_ci_seed: must be >= 0, got " + std::to_string(seed));
  f.eer_ci_seed = uint64_t(seed);
  for (const char* flag : {"eer_ci_resamples", "eer_ci_seed"})
    if (f.eer_ci == 0 && p.source(flag) != OptionSource::default_value)
      usage(std::string("--") + flag + " is only used with --eer_ci (e.g. --eer_ci 0.95)");
}

// The recipe flags spk_eval reads before the model: minDCF's parameters, crops, loader threads.
void check_recipe_flags(const RecipeConfig& rc) {
  if (rc.dcf_p_target <= 0 || rc.dcf_p_target >= 1)
    usage("--dcf_p_target: must be in (0, 1), got " + fmt("%g", rc.dcf_p_target));
  if (rc.dcf_c_miss <= 0) usage("--dcf_c_miss: must be positive, got " + fmt("%g", rc.dcf_c_miss));
  if (rc.dcf_c_fa <= 0) usage("--dcf_c_fa: must be positive, got " + fmt("%g", rc.dcf_c_fa));
  if (rc.eval_frames < 0)
    usage("--eval_frames: must be >= 0 (0 = the whole file), got " + std::to_string(rc.eval_frames));
  if (rc.num_eval < 1) usage("--num_eval: must be >= 1, got " + std::to_string(rc.num_eval));
  if (rc.nDataLoaderThread < 0)
    usage("--nDataLoaderThread: must be >= 0, got " + std::to_string(rc.nDataLoaderThread));
}

Device check_device(const std::string& flag) {
  Device device;
  try {
    device = Device::parse(flag);
  } catch (const Error&) {
    usage("--device: '" + flag + "' is not cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && (!cuda::available() || device.index >= cuda::device_count()))
    usage("--device " + flag + ": no such CUDA device (" +
          (cuda::built_with_cuda() ? "none usable" : "this build has no CUDA") + ")");
  return device;
}

}  // namespace

void add_eval_options(OptionParser& p) {
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
  p.add("eer_ci", OptionKind::real, "0", "a confidence interval of the VT EER at this level (e.g. 0.95): stratified "
        "percentile bootstrap over the trials; 0 = none", g);
  p.add("eer_ci_resamples", OptionKind::integer, "1000", "--eer_ci: bootstrap resamples (>= 100)", g);
  p.add("eer_ci_seed", OptionKind::integer, "0", "--eer_ci: seed of the resampling (same seed, same interval)", g);
  p.add("score_norm", OptionKind::str, "none", "none, asnorm (top --top_n cohort scores) or snorm (whole cohort); "
        "normalises the cosine scores", g);
  p.add("cohort_list", OptionKind::str, "", "score normalisation cohort: a train list ('speaker path' lines) or a Kaldi data dir (wav.scp + utt2spk)", g);
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

EvalFlags check_eval_flags(const OptionParser& p) {
  EvalFlags f;
  check_own_flags(p, f);
  check_eer_ci_flags(p, f);
  check_protocol_flags(p, f);
  f.recipe = recipe_config(p);
  check_recipe_flags(f.recipe);
  apply_cpu_conv_flag(f.recipe.cpu_conv);
  f.device = check_device(f.recipe.device);
  cuda::use_device(f.device);   // streams and handles follow the current device (engine/cuda.h)
  f.model_path = p.str("initial_model");
  require_file(f.model_path, "--initial_model");
  for (const char* o : {"json", "score_file", "det_plot"}) prepare_output(p.str(o), std::string("--") + o);
  return f;
}

}  // namespace spk::recipe::eval_app
