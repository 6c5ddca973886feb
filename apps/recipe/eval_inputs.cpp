// spk_eval's inputs, read and checked before the model is loaded (see eval_app.h): the trial list (maybe keyed
// through a wav.scp) or --embed_list, the files they name, --embed_out's files and the --score_norm cohort.
#include <filesystem>
#include <fstream>
#include <map>

#include "apps/recipe/eval_app.h"
#include "apps/recipe/recipe_parts.h"

namespace fs = std::filesystem;

namespace spk::recipe::eval_app {

namespace {

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
  // The list readers' line reader: a NUL byte or a line past the cap is an error naming list:line.
  for (int64_t n = 1; audio::read_list_line(f, line, list, n); ++n) {
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

audio::TrialList read_trial_list(const OptionParser& p, const std::string& test_list) {
  require_file(test_list, "--test_list");
  audio::TrialOptions to;
  to.allow_unlabelled = p.boolean("allow_unlabelled");
  audio::TrialList trials;
  try {
    trials = audio::read_trials(test_list, to);
  } catch (const Error& e) {
    usage(std::string("--test_list: ") + e.what());
  }
  if (trials.trials.empty()) usage("--test_list: '" + test_list + "' has no trials");
  if (!trials.labelled() && !p.str("det_plot").empty())
    usage("--det_plot: the trial list '" + test_list + "' has no labels, so there is no DET curve");
  return trials;
}

// The trial list's keys as paths: through --wav_scp when given (Kaldi utterance ids), else joined to root.
std::vector<std::string> trial_file_paths(const OptionParser& p, const audio::TrialList& trials,
                                          const std::string& test_list, const std::string& root) {
  std::vector<std::string> paths;
  if (p.str("wav_scp").empty()) {
    for (const auto& k : trials.files) paths.push_back(audio::join_path(root, k));
    return paths;
  }
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
      usage("--wav_scp: '" + p.str("wav_scp") + "' has no entry for '" + k + "' of --test_list " + test_list);
    paths.push_back(it->second);
  }
  return paths;
}

// The files to embed in eval and embed modes (from --test_list, maybe through --wav_scp, or --embed_list) and
// their keys.
void read_files_to_embed(const OptionParser& p, const EvalFlags& flags, EvalInputs& in) {
  const RecipeConfig& rc = flags.recipe;
  const bool from_trials = flags.mode == "eval" || p.str("embed_list").empty();
  if (from_trials) {
    in.trials = read_trial_list(p, rc.test_list);
    const bool own_root = flags.mode == "embed" && !p.str("embed_path").empty();
    in.paths = trial_file_paths(p, in.trials, rc.test_list, own_root ? p.str("embed_path") : rc.test_path);
    in.keys = in.trials.files;
  } else {
    require_file(p.str("embed_list"), "--embed_list");
    in.paths = read_path_list(p.str("embed_list"), p.str("embed_path"));
    in.keys = in.paths;
  }
  check_files_exist(in.paths, from_trials ? "--test_list " + rc.test_list : "--embed_list " + p.str("embed_list"));
}

// Embed mode's output files (their folders made now) and keys they can hold.
void prepare_embed_outputs(const OptionParser& p, const EvalFlags& flags, EvalInputs& in) {
  const std::string stem = p.str("embed_out");
  if (stem.empty()) usage("--embed_out: required with --mode embed");
  in.npy = stem + ".npy", in.index = stem + ".index.txt", in.ark = stem + ".ark";
  const bool npy = flags.embed_format == "npy";
  for (const auto& f : npy ? std::vector<std::string>{in.npy, in.index} : std::vector<std::string>{in.ark})
    prepare_output(f, "--embed_out");
  for (const auto& k : in.keys)
    if (k.empty() || k.find_first_of(" \t\r\n") != std::string::npos)
      usage("--embed_out: key '" + k + "' contains whitespace; npy index and Kaldi ark keys cannot");
}

// The --score_norm cohort, read and checked before any embedding.
audio::TrainList read_cohort(const OptionParser& p) {
  audio::TrainList cohort_list;
  const std::string& list = p.str("cohort_list");
  // A directory is a Kaldi data dir (wav.scp + utt2spk), as spk_train's --train_list reads it.
  const bool kaldi_dir = fs::is_directory(list);
  if (!kaldi_dir) require_file(list, "--cohort_list");
  try {
    cohort_list = kaldi_dir ? audio::read_kaldi_dir(list, p.str("cohort_path"))
                            : audio::read_train_list(list, p.str("cohort_path"));
  } catch (const Error& e) {
    usage(std::string("--cohort_list: ") + e.what());
  }
  // Cohort embeddings are of whole files (embed_files); a segment would silently become its whole recording.
  if (!cohort_list.segments.empty())
    usage("--cohort_list: " + cohort_list.segments_file +
          ": segments are not supported in a cohort (each cohort utterance is embedded as a whole file); "
          "write the segments out as files first");
  if (cohort_list.speakers.size() < 2)
    usage("--cohort_list: '" + p.str("cohort_list") + "' has " + std::to_string(cohort_list.speakers.size()) +
          " speaker(s); a cohort needs at least 2");
  check_files_exist(cohort_list.paths, "--cohort_list " + p.str("cohort_list"));
  return cohort_list;
}

}  // namespace

void require_file(const std::string& path, const std::string& flag) {
  if (path.empty()) usage(flag + ": required");
  std::error_code ec;
  if (!fs::exists(path, ec)) usage(flag + ": no such file '" + path + "'");
  if (fs::is_directory(path, ec)) usage(flag + ": '" + path + "' is a directory, not a file");
}

void prepare_output(const std::string& path, const std::string& flag) {
  if (path.empty()) return;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (fs::is_directory(path, ec)) usage(flag + ": '" + path + "' is a directory");
  if (parent.empty()) return;
  fs::create_directories(parent, ec);
  if (!fs::is_directory(parent, ec)) usage(flag + ": cannot create the folder '" + parent.string() + "' for " + path);
}

EvalInputs read_eval_inputs(const OptionParser& p, const EvalFlags& flags) {
  EvalInputs in;
  if (flags.mode == "pair") {
    require_file(p.str("enrol_file"), "--enrol_file");
    require_file(p.str("test_file"), "--test_file");
    return in;
  }
  read_files_to_embed(p, flags, in);
  if (flags.mode == "embed") prepare_embed_outputs(p, flags, in);
  if (flags.score_norm != "none") in.cohort = read_cohort(p);
  return in;
}

}  // namespace spk::recipe::eval_app
