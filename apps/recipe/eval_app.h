// spk_eval's parts, one file per job (docs/evaluation.md): eval_app.cpp runs them in order (flags, files, model,
// then the mode); eval_flags.cpp checks the flags, eval_inputs.cpp reads and checks the lists and files,
// eval_model.cpp loads the model; eval_mode_eval.cpp, eval_mode_embed.cpp and eval_mode_pair.cpp are the three
// modes. Every mistake in the call is a UsageError naming the flag, file or line, raised before any audio is
// read; apps/spk_eval.cpp is only the main().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/recipe/config.h"
#include "apps/recipe/eval_protocol.h"
#include "apps/recipe/evaluator.h"
#include "engine/audio/fbank.h"
#include "engine/audio/lists.h"
#include "engine/device.h"
#include "nets/model.h"

namespace spk::recipe::eval_app {

inline constexpr const char* kApp = "spk_eval";

// Runs spk_eval on argv: 0 when done (or after --help); throws UsageError for a mistake in the call and any
// other Error for a failure during the work (run_app turns them into exit status 2 and 1).
int run_spk_eval(int argc, char** argv);

[[noreturn]] inline void usage(const std::string& msg) { throw UsageError(msg); }

// ---- eval_flags.cpp: spk_eval's own flags, and every check that needs no file ----

void add_eval_options(OptionParser& p);

// The flags' values once checked (the words are each one of the allowed ones).
struct EvalFlags {
  std::string mode;             // eval, embed, pair
  std::string scoring;          // vt, cosine, both
  std::string score_format;     // vt, kaldi
  std::string score_norm;       // none, asnorm, snorm
  std::string embed_format;     // npy, kaldi
  std::string test_normalize;   // auto, true, false
  int64_t eval_batch = 64;
  int64_t top_n = 300;
  double eer_ci = 0;              // the EER confidence interval's level; 0 = no interval
  int64_t eer_ci_resamples = 1000;
  uint64_t eer_ci_seed = 0;
  RecipeConfig recipe;          // all but the model keys, which a checkpoint may still supply
  Device device;
  std::string model_path;       // --initial_model, an existing file
  ProtocolSettings protocol;    // --eval_protocol and its crop / window sizes (eval_protocol.h)
};

// Checks every flag on its own and against the others, that --initial_model exists and that the output files'
// folders exist or can be made, in the order a user is told about them.
EvalFlags check_eval_flags(const OptionParser& p);

// --eval_protocol, --window_duration, --window_step against the other flags (eval_flags.cpp).
void check_protocol_flags(const OptionParser& p, EvalFlags& f);
// The protocol and its sizes, for every mode's --json.
nlohmann::json protocol_json(const EvalFlags& f);

// ---- eval_inputs.cpp: the lists and files, read and checked before the model is loaded ----

void require_file(const std::string& path, const std::string& flag);   // flag: "--test_list", ...
// An output file's folder must exist or be creatable, so a bad path fails before hours of embedding.
void prepare_output(const std::string& path, const std::string& flag);

struct EvalInputs {
  audio::TrialList trials;          // eval mode, and embed mode without --embed_list
  std::vector<std::string> paths;   // the audio files to embed
  std::vector<std::string> keys;    // their names in the outputs (trial-list keys or --embed_list paths)
  std::string npy, index, ark;      // embed mode: the files --embed_out names
  audio::TrainList cohort;          // --score_norm's cohort
};

EvalInputs read_eval_inputs(const OptionParser& p, const EvalFlags& flags);

// ---- eval_model.cpp: the model and the settings that depend on it ----

struct LoadedModel {
  std::shared_ptr<SpeakerNet> model;
  nlohmann::json info;   // the checkpoint: path, format, entries, skipped, extra (+ epoch, commit of spk's)
};

// Reads --initial_model; an spk checkpoint's saved config supplies the model keys the flags leave unset.
LoadedModel load_eval_model(OptionParser& p, const std::string& path);

// Whether VT scoring L2-normalises crop embeddings (flag: auto, true, false), and why, for the output.
bool resolve_test_normalize(const std::string& flag, const RecipeConfig& rc, std::string& why);

// ---- the modes ----

// What every mode works with once the model is loaded.
struct EvalRun {
  const OptionParser& options;
  const EvalFlags& flags;
  const EvalInputs& inputs;
  SpeakerNet& model;
  RecipeConfig recipe;   // after the checkpoint's model keys
  FrontEnd frontend;
  EmbedSettings embed;
  bool test_normalize = true;
  std::string test_normalize_why;
  nlohmann::json out;    // the --json document, filled by the mode
};

int run_eval_mode(EvalRun& r);    // eval_mode_eval.cpp
int run_embed_mode(EvalRun& r);   // eval_mode_embed.cpp
int run_pair_mode(EvalRun& r);    // eval_mode_pair.cpp

// Progress on stderr ("spk_eval: <what> i/n files, ..."): at most every 5 s, and at the end.
EvalProgress progress_printer(const std::string& what);

}  // namespace spk::recipe::eval_app
