// The waveform front end in the recipe apps (--frontend waveform, docs/frontend.md "Waveform"): the waveform
// models (SincTDNN, RawNet3) resolve to it under --frontend auto and get ModelConfig::n_mels = 1 (the waveform
// contract of nets/model.h); a batch of evaluation crops reaches a model as (B, 1, L) samples, unchanged; the
// filterbank models refuse it and the waveform models refuse a filterbank, naming the flags.
#include <string>
#include <vector>

#include "apps/recipe/config.h"
#include "apps/recipe/evaluator.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/recipe_parts.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/crop.h"
#include "engine/ops.h"
#include "nets/model.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;

namespace {

RecipeConfig wave_recipe(const std::string& model, const std::string& frontend) {
  RecipeConfig c;
  c.model = model;
  c.frontend = frontend;
  c.n_mels = 40;   // the option's default
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

// A waveform model stand-in: n_mels 1, remembers every input it was given, returns zeros.
class WaveProbe : public SpeakerNet {
 public:
  WaveProbe() : SpeakerNet(1, 8) {}
  Tensor forward(const Tensor& x) override {
    check_input(x);
    inputs.push_back(x.detach().clone());
    return Tensor::zeros({x.size(0), 8});
  }
  std::string name() const override { return "WaveProbe"; }
  std::vector<Tensor> inputs;
};

}  // namespace

TEST_CASE("frontend_config: --frontend waveform, the waveform models, and n_mels = 1") {
  for (const char* model : {"SincTDNN", "RawNet3"}) {
    INFO(model);
    for (const char* fe : {"auto", "waveform"}) {
      const RecipeConfig c = wave_recipe(model, fe);
      CHECK(frontend_name(c) == "waveform");
      const FrontEnd f = frontend_config(c);
      CHECK(f.is_waveform);
      CHECK_FALSE(f.is_mfcc);
      CHECK(f.width() == 1);
      CHECK(f.fbank.sample_rate == 16000);
      CHECK(f.error().empty());
      CHECK(model_config(c).n_mels == 1);   // --n_mels (40 by default) is a filterbank setting
    }
  }
  CHECK(model_config(wave_recipe("ECAPA_TDNN", "auto")).n_mels == 40);
  Tensor wav = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor f = frontend_config(wave_recipe("RawNet3", "auto")).features(wav);
  CHECK(f.shape() == Shape{2, 1, 3});
  test::expect_close(f, {1, 2, 3, 4, 5, 6}, 0, 0, "the samples, unchanged");
}

TEST_CASE("frontend_config: waveform and filterbank models do not mix") {
  CHECK(usage_error(wave_recipe("ECAPA_TDNN", "waveform"))
            .find("--frontend waveform with --model ECAPA_TDNN: only models that read the raw waveform (SincTDNN, "
                  "RawNet3, CPCEncoder)") != std::string::npos);
  CHECK(usage_error(wave_recipe("RawNet3", "ecapa"))
            .find("--frontend ecapa with --model RawNet3: the model reads the raw waveform") != std::string::npos);
  RecipeConfig c = wave_recipe("SincTDNN", "waveform");
  c.n_ceps = 13;
  CHECK(usage_error(c).find("--n_ceps 13: only for an MFCC --frontend, not waveform") != std::string::npos);
  CHECK(usage_error(wave_recipe("TDNN", "wave")).find("(auto,") != std::string::npos);
  CHECK(usage_error(wave_recipe("TDNN", "wave")).find(" waveform)") != std::string::npos);
}

TEST_CASE("a waveform-front-end batch reaches the model as (B, 1, L) samples") {
  test::TinyCorpus corpus("spk_frontend_waveform");
  const FrontEnd fe = frontend_config(wave_recipe("RawNet3", "auto"));
  WaveProbe model;
  EmbedSettings s;
  s.eval_frames = 20;
  s.num_eval = 3;
  s.num_workers = 0;
  const std::string wav = corpus.dir.string() + "/wav/";
  const std::vector<std::string> paths = {wav + "s0/u0.wav", wav + "s1/u1.wav"};
  Tensor e = embed_files(model, fe, paths, s);
  CHECK(e.shape() == Shape{2, 3, 8});
  REQUIRE(!model.inputs.empty());
  int64_t rows = 0;
  for (const Tensor& x : model.inputs) {
    CHECK(x.dim() == 3);
    CHECK(x.size(1) == 1);
    CHECK(x.size(2) == audio::max_audio_samples(20));   // the crop's samples: no framing, no features
    rows += x.size(0);
  }
  CHECK(rows == 6);
  // The first crop of s0/u0 starts at sample 0 (evenly spaced crops): the model sees the file's samples.
  const std::vector<float> file = audio::read_audio(paths[0]);
  Tensor first = slice(model.inputs[0], 0, 0, 1);
  for (int64_t i : {int64_t(0), int64_t(100), int64_t(2345)})
    CHECK(slice(first, 2, i, i + 1).item() == doctest::Approx(double(file[size_t(i)])));
  // A filterbank model would get (B, 40, T): the check of the front end against the model says so.
  FrontEnd fb = frontend_config(wave_recipe("ECAPA_TDNN", "auto"));
  CHECK_THROWS_WITH_AS(check_embed_settings(s, fb, model),
                       doctest::Contains("front end gives 40 mel bands but model WaveProbe expects --n_mels 1"), Error);
}
