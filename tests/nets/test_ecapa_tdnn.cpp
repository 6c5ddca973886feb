// ECAPA-TDNN (TaoRuijie): parameter counts derived by hand in nets/ecapa_tdnn.h (C=1024: 15,444,544,
// the 14.73 Mi TaoRuijie prints; C=512: 6,978,176), names, output shape, BatchNorm train/eval.
#include "nets/ecapa_tdnn.h"

#include "model_test_util.h"

using namespace spk;

namespace {
ModelConfig ecapa(int64_t C, int64_t nOut = 192) {
  ModelConfig c;
  c.n_mels = 80;
  c.nOut = nOut;
  c.C = C;
  c.encoder_type = "";
  return c;
}
}  // namespace

TEST_CASE("ECAPA_TDNN: parameter counts (hand-derived)") {
  CHECK(make_model("ECAPA_TDNN", ecapa(1024))->num_parameters() == 15444544);
  CHECK(make_model("ECAPA_TDNN", ecapa(512))->num_parameters() == 6978176);
}

TEST_CASE("ECAPA_TDNN: state_dict names follow TaoRuijie's module") {
  auto m = make_model("ECAPA_TDNN", ecapa(512));
  CHECK(test::has_state(*m, "conv1.weight", {512, 80, 5}));
  CHECK(test::has_state(*m, "bn1.running_mean", {512}));
  CHECK(test::has_state(*m, "layer1.conv1.weight", {512, 512, 1}));
  CHECK(test::has_state(*m, "layer1.convs.0.weight", {64, 64, 3}));
  CHECK(test::has_state(*m, "layer3.convs.6.bias", {64}));
  CHECK(test::has_state(*m, "layer2.bns.6.running_var", {64}));
  CHECK(!test::has_state(*m, "layer1.convs.7.weight", {64, 64, 3}));
  CHECK(test::has_state(*m, "layer1.se.se.1.weight", {128, 512, 1}));
  CHECK(test::has_state(*m, "layer1.se.se.3.weight", {512, 128, 1}));
  CHECK(test::has_state(*m, "layer4.weight", {1536, 1536, 1}));
  CHECK(test::has_state(*m, "attention.0.weight", {256, 4608, 1}));
  CHECK(test::has_state(*m, "attention.2.num_batches_tracked", {}));
  CHECK(test::has_state(*m, "attention.4.weight", {1536, 256, 1}));
  CHECK(test::has_state(*m, "bn5.weight", {3072}));
  CHECK(test::has_state(*m, "fc6.weight", {192, 3072}));
  CHECK(test::has_state(*m, "bn6.running_mean", {192}));
}

TEST_CASE("ECAPA_TDNN: output shape and train/eval") {
  auto feats = test::random_feats(2, 80, 100);
  auto m = make_model("ECAPA_TDNN", ecapa(512));
  CHECK(m->forward(feats).shape() == Shape{2, 192});
  test::check_train_eval(*m, feats);
  ModelConfig bad = ecapa(512);
  bad.encoder_type = "SAP";
  CHECK_THROWS_WITH_AS(make_model("ECAPA_TDNN", bad), doctest::Contains("--encoder_type 'SAP'"), Error);
}
