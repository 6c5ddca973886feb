// The MFCC front end in the recipe apps: --frontend kaldi_mfcc / kaldi_voxceleb_mfcc (+ --n_ceps) resolves to
// spk::mfcc with the cepstra as the model's input; spk_train trains a TDNN (x-vector) on it for an epoch of the
// tiny corpus, spk_eval evaluates that checkpoint with the front end restored from it (no --frontend given), and
// bad combinations fail naming the flags.
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/frontend.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "support/check.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

using namespace spk;
using namespace spk::recipe;

namespace {

RecipeConfig mfcc_recipe(const std::string& frontend, int64_t n_mels, int64_t n_ceps) {
  RecipeConfig c;
  c.model = "TDNN";
  c.frontend = frontend;
  c.n_mels = n_mels;
  c.n_ceps = n_ceps;
  return c;
}

std::string usage_error(const RecipeConfig& c) {
  try {
    frontend_config(c);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("frontend_config: the MFCC presets, --n_ceps, and the width the model takes") {
  const FrontEnd vox = frontend_config(mfcc_recipe("kaldi_voxceleb_mfcc", 30, 0));
  CHECK(vox.is_mfcc);
  CHECK(vox.width() == 30);
  CHECK(vox.fbank.n_mels == 30);          // the preset's mel bins
  CHECK(vox.mfcc.use_energy);             // Kaldi's x-vector conf, not torchaudio's defaults
  CHECK(vox.mfcc.norm == FbankNorm::mean);   // the recipe's CMN
  const FrontEnd k = frontend_config(mfcc_recipe("kaldi_mfcc", 20, 20));
  CHECK(k.is_mfcc);
  CHECK(k.width() == 20);
  CHECK(k.fbank.n_mels == 23);
  // The features are the cepstra: (B, n_ceps, T), and not the fbank's mels.
  Rng rng(3);
  Tensor wav = Tensor::uniform({2, 8000}, rng, -0.5, 0.5);
  CHECK(k.features(wav).shape() == Shape{2, 20, 48});
  CHECK(frontend_config(mfcc_recipe("wespeaker", 80, 0)).width() == 80);
  CHECK_FALSE(frontend_config(mfcc_recipe("wespeaker", 80, 0)).is_mfcc);

  // Bad combinations name the flags.
  const std::string width = usage_error(mfcc_recipe("kaldi_mfcc", 40, 0));
  CHECK(width.find("--n_mels 40") != std::string::npos);
  CHECK(width.find("--n_ceps") != std::string::npos);
  CHECK(width.find("13") != std::string::npos);
  CHECK(usage_error(mfcc_recipe("kaldi_mfcc", 24, 24)).find("--n_ceps 24") != std::string::npos);   // > 23 mels
  CHECK(usage_error(mfcc_recipe("kaldi_mfcc", 13, -1)).find("--n_ceps") != std::string::npos);
  CHECK(usage_error(mfcc_recipe("wespeaker", 80, 13)).find("--n_ceps 13: only for an MFCC --frontend") !=
        std::string::npos);
  CHECK(usage_error(mfcc_recipe("kaldi_voxceleb", 30, 0)).find("--frontend: unknown preset") != std::string::npos);
}

#if defined(SPK_TRAIN_BINARY) && defined(SPK_EVAL_BINARY)

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_frontend_mfcc");
  return f;
}

// The tiny corpus's flags with a TDNN on kaldi_voxceleb_mfcc, 24 cepstra (so --n_ceps is exercised).
std::string tdnn_mfcc_flags(const spk::test::TinyCorpus& f) {
  const std::string wav = (f.dir / "wav").string();
  return "--model TDNN --encoder_type TSTP --nOut 16 --trainfunc softmax --nClasses 0 --max_frames 20 "
         "--batch_size 4 --nDataLoaderThread 1 --eval_frames 20 --num_eval 2 --lr 0.001 --train_path " + wav +
         " --test_path " + wav + " --test_list " + f.trials + " --frontend kaldi_voxceleb_mfcc --n_ceps 24 --n_mels 24";
}

void check_failure(const std::string& binary, const std::string& args, const std::string& needle) {
  const Run r = spk::test::run_binary(binary, args);
  INFO(binary << " " << args << "\n" << r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find(": error:") != std::string::npos);
  CHECK(r.output.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("spk_train / spk_eval: a TDNN on MFCC trains, and spk_eval restores the front end from the checkpoint") {
  spk::test::TinyCorpus& f = fx();
  const std::string out = f.file("tdnn_mfcc");
  const Run t = spk::test::run_binary(SPK_TRAIN_BINARY, tdnn_mfcc_flags(f) + " --train_list " + f.train4 +
                                                            " --max_epoch 1 --save_path " + out);
  INFO(t.output);
  REQUIRE(t.status == 0);
  CHECK(t.output.find("front end kaldi_voxceleb_mfcc") != std::string::npos);
  const std::string ckpt = out + "/model/last.safetensors";
  const Checkpoint ck = read_checkpoint(ckpt);
  CHECK(ck.state.config.at("frontend") == "kaldi_voxceleb_mfcc");
  CHECK(ck.state.config.at("n_ceps") == 24);

  // No --model, --frontend, --n_ceps or --n_mels: all from the checkpoint.
  const std::string wav = (f.dir / "wav").string();
  const std::string json_out = f.file("tdnn_mfcc.json");
  const std::string eval_args = "--initial_model " + ckpt + " --test_list " + f.trials + " --test_path " + wav +
                                " --eval_frames 20 --num_eval 2 --nDataLoaderThread 1";
  const Run e = spk::test::run_binary(SPK_EVAL_BINARY, eval_args + " --json " + json_out);
  INFO(e.output);
  REQUIRE(e.status == 0);
  CHECK(std::regex_match(e.last_line(), std::regex(R"(EER [0-9]+\.[0-9]{4} MinDCF [0-9]+\.[0-9]{5})")));
  std::ifstream jf(json_out);
  const nlohmann::json j = nlohmann::json::parse(jf);
  CHECK(j["frontend"]["preset"] == "kaldi_voxceleb_mfcc");
  CHECK(j["frontend"]["config"].get<std::string>().rfind("mfcc n_ceps=24 ", 0) == 0);
  CHECK(j["model"]["n_mels"] == 24);

  // Overriding the restored cepstra without the model's width fails naming both flags.
  check_failure(SPK_EVAL_BINARY, eval_args + " --n_ceps 20", "--n_ceps");
  check_failure(SPK_EVAL_BINARY, eval_args + " --n_ceps 20", "--n_mels 24");
}

TEST_CASE("spk_train: an MFCC front end whose cepstra differ from --n_mels fails before any work") {
  spk::test::TinyCorpus& f = fx();
  const std::string base = tdnn_mfcc_flags(f) + " --train_list " + f.train4 + " --max_epoch 1 --save_path ";
  check_failure(SPK_TRAIN_BINARY, base + f.file("bad1") + " --n_mels 30", "--n_mels 30");
  check_failure(SPK_TRAIN_BINARY, base + f.file("bad2") + " --n_ceps 31 --n_mels 31", "--n_ceps 31");
  check_failure(SPK_TRAIN_BINARY, base + f.file("bad3") + " --frontend wespeaker", "--n_ceps 24: only for an MFCC");
  CHECK_FALSE(std::filesystem::exists(f.file("bad1") + "/model"));
}

#endif
