// spk_eval's BatchNorm folding (apps/recipe/eval_fold_bn.h): on random models whose BNs have random statistics and
// affine parameters (so a BN that is not the identity, and a pair folded across a ReLU, would show), the folded
// model's embeddings equal the unfolded one's within 1e-5 relative; ECAPA-TDNN has nothing to fold; a folded BN
// refuses training.
#include <cmath>
#include <string>

#include "apps/recipe/eval_fold_bn.h"
#include "engine/autograd.h"
#include "engine/layers.h"
#include "engine/rng.h"
#include "support/check.h"

using namespace spk;

namespace {

// Random running statistics and affine parameters in every BatchNorm.
void randomise_batch_norms(SpeakerNet& m, Rng& rng) {
  NoGradGuard ng;
  for (auto& [name, mod] : m.named_modules()) {
    auto* bn = dynamic_cast<BatchNorm*>(mod);
    if (!bn) continue;
    const Shape s = bn->running_mean.shape();
    bn->running_mean.copy_(Tensor::normal(s, rng, 0, 0.5));
    bn->running_var.copy_(Tensor::uniform(s, rng, 0.3, 2.0));
    if (bn->weight.defined()) bn->weight.copy_(Tensor::uniform(s, rng, 0.5, 1.5));
    if (bn->bias.defined()) bn->bias.copy_(Tensor::normal(s, rng, 0, 0.3));
  }
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

}  // namespace

TEST_CASE("BatchNorm folding keeps the embeddings (1e-5 relative) and folds what it should") {
  struct Case {
    const char* model;
    int64_t n_mels, T;
    int expected;   // BNs folded
  };
  // ResNetSE34L: stem + 16 blocks' bn2 + 3 downsamples; ResNetSE34V2 (stem not foldable): 16 + 3;
  // ResNet18 (wespeaker BasicBlock): stem + 8 blocks x 2 + 3 shortcuts.
  for (const Case c : {Case{"ResNetSE34L", 40, 50, 20}, Case{"ResNetSE34V2", 64, 50, 19}, Case{"ResNet18", 80, 40, 20}}) {
    SUBCASE(c.model) {
      ModelConfig mc;
      mc.n_mels = c.n_mels;
      mc.nOut = 64;
      mc.encoder_type = "";
      Rng rng(3);
      auto m = make_model(c.model, mc, rng);
      randomise_batch_norms(*m, rng);
      m->eval();
      NoGradGuard ng;
      const Tensor x = Tensor::normal({2, c.n_mels, c.T}, rng);
      const std::vector<double> before = m->forward(x).to_double();
      CHECK(recipe::fold_batch_norms(*m) == c.expected);
      const std::vector<double> after = m->forward(x).to_double();
      REQUIRE(before.size() == after.size());
      double worst = 0;
      for (size_t i = 0; i < before.size(); ++i) worst = std::max(worst, std::abs(after[i] - before[i]));
      INFO(c.model << ": max |folded - unfolded| " << worst << " of max |emb| " << max_abs(before));
      CHECK(worst <= 1e-5 * max_abs(before));
      CHECK(worst > 0);   // the weights did change: rounding differs somewhere
      m->train();
      CHECK_THROWS_WITH_AS(m->forward(x), doctest::Contains("folded"), Error);
    }
  }
}

TEST_CASE("BatchNorm folding: ECAPA-TDNN's BNs all follow a ReLU, nothing folds") {
  ModelConfig mc;
  mc.n_mels = 80;
  mc.nOut = 192;
  mc.C = 512;
  mc.encoder_type = "";
  Rng rng(1);
  auto m = make_model("ECAPA_TDNN", mc, rng);
  m->eval();
  CHECK(recipe::fold_batch_norms(*m) == 0);
  m->train();
  CHECK_THROWS_WITH_AS(recipe::fold_batch_norms(*m), doctest::Contains("eval mode"), Error);
}
