// ResNetSE34V2: parameter count against the anchor (8,028,492 for ASP, n_mels 64, nOut 512), names of the
// channel-wise attention, output shapes for ASP/SAP, BatchNorm train/eval behaviour.
#include "nets/resnet_se34v2.h"

#include "model_test_util.h"

using namespace spk;

namespace {
ModelConfig v2_config(const std::string& enc, int64_t nOut = 512) {
  ModelConfig c;
  c.n_mels = 64;
  c.nOut = nOut;
  c.encoder_type = enc;
  return c;
}
}  // namespace

TEST_CASE("ResNetSE34V2: parameter count matches the anchor") {
  CHECK(make_model("ResNetSE34V2", v2_config("ASP"))->num_parameters() == 8028492);
  CHECK(make_model("ResNetSE34V2", v2_config("SAP"))->num_parameters() == 8028492 - 2048 * 512);
}

TEST_CASE("ResNetSE34V2: state_dict names follow the PyTorch module") {
  auto m = make_model("ResNetSE34V2", v2_config("ASP"));
  CHECK(test::has_state(*m, "conv1.weight", {32, 1, 3, 3}));
  CHECK(test::has_state(*m, "conv1.bias", {32}));
  CHECK(test::has_state(*m, "bn1.running_var", {32}));
  CHECK(test::has_state(*m, "layer1.0.se.fc.0.weight", {4, 32}));
  CHECK(test::has_state(*m, "layer4.0.downsample.0.weight", {256, 128, 1, 1}));
  CHECK(test::has_state(*m, "attention.0.weight", {128, 2048, 1}));
  CHECK(test::has_state(*m, "attention.2.running_mean", {128}));
  CHECK(test::has_state(*m, "attention.3.weight", {2048, 128, 1}));
  CHECK(test::has_state(*m, "fc.weight", {512, 4096}));
}

TEST_CASE("ResNetSE34V2: output shapes and train/eval") {
  auto feats = test::random_feats(2, 64, 100);
  auto asp = make_model("ResNetSE34V2", v2_config("ASP", 32));
  CHECK(asp->forward(feats).shape() == Shape{2, 32});
  test::check_train_eval(*asp, feats);
  auto sap = make_model("ResNetSE34V2", v2_config("SAP", 32));
  CHECK(sap->forward(feats).shape() == Shape{2, 32});
  CHECK_THROWS_WITH_AS(make_model("ResNetSE34V2", v2_config("TAP")), doctest::Contains("--encoder_type 'TAP'"),
                       Error);
}
