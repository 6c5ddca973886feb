// spk_eval: evaluate a speaker-embedding model, extract embeddings, or score two files (docs/evaluation.md).
//
//   --mode eval   (default) embed the trial list's files, score every trial with voxceleb_trainer's protocol
//                 (−mean Euclidean distance over crop pairs) and/or the cosine of whole-utterance embeddings,
//                 optionally AS-norm / S-norm against a cohort from a train list; report both EERs and minDCF;
//                 write the score file, a JSON of every figure and a DET plot. Last stdout line:
//                 "EER <VT EER in %> MinDCF <minDCF at --dcf_p_target>" of the primary scores.
//   --mode embed  embeddings of a list of files (or the trial list's files) as .npy + index or a Kaldi text ark.
//   --mode pair   the VT and cosine scores of --enrol_file against --test_file.
//   --eval_protocol taoruijie | sliding: TaoRuijie's whole file + 5 crops, or pyannote's averaged sliding windows,
//                 instead of voxceleb_trainer's crops, in every mode (apps/recipe/eval_protocol.h).
//
// An app: flags, files and progress; the steps live in apps/recipe/eval_app.h (one file per job: flags,
// inputs, model, and each mode) and the maths in apps/recipe (evaluator, scoring, score_norm) and losses/.
// Every mistake in the call (unknown flag, bad value, missing file, malformed list line, flags that do not fit
// the mode) is reported before any audio is read, as "spk_eval: error: ..." naming the flag, file or line,
// with exit status 2; a failure during the work exits with status 1.
#include "apps/recipe/eval_app.h"
#include "apps/recipe/recipe_parts.h"

int main(int argc, char** argv) {
  using namespace spk::recipe;
  return run_app(eval_app::kApp, [&] { return eval_app::run_spk_eval(argc, argv); });
}
