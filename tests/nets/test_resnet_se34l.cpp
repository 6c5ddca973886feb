// ResNetSE34L: parameter count against the anchor (1,437,078, issue #133 log), state_dict names and
// shapes, output shapes for SAP/ASP, BatchNorm train/eval behaviour, and a backward smoke test.
#include "nets/resnet_se34l.h"

#include "model_test_util.h"

using namespace spk;

TEST_CASE("ResNetSE34L: parameter count matches voxceleb_trainer") {
  ModelConfig c;   // n_mels 40, nOut 512, SAP
  auto sap = make_model("ResNetSE34L", c);
  CHECK(sap->num_parameters() == 1437078);
  c.encoder_type = "ASP";   // fc grows by 128·512
  CHECK(make_model("ResNetSE34L", c)->num_parameters() == 1437078 + 128 * 512);
}

TEST_CASE("ResNetSE34L: state_dict names follow the PyTorch module") {
  auto m = make_model("ResNetSE34L", ModelConfig{});
  CHECK(test::has_state(*m, "conv1.weight", {16, 1, 7, 7}));
  CHECK(test::has_state(*m, "bn1.weight", {16}));
  CHECK(test::has_state(*m, "bn1.running_mean", {16}));
  CHECK(test::has_state(*m, "bn1.num_batches_tracked", {}));
  CHECK(test::has_state(*m, "layer1.0.conv1.weight", {16, 16, 3, 3}));
  CHECK(test::has_state(*m, "layer1.0.se.fc.0.weight", {2, 16}));
  CHECK(test::has_state(*m, "layer1.0.se.fc.2.bias", {16}));
  CHECK(test::has_state(*m, "layer2.0.downsample.0.weight", {32, 16, 1, 1}));
  CHECK(test::has_state(*m, "layer2.0.downsample.1.running_var", {32}));
  CHECK(test::has_state(*m, "layer4.0.downsample.0.weight", {128, 64, 1, 1}));
  CHECK(!test::has_state(*m, "layer1.0.downsample.0.weight", {16, 16, 1, 1}));
  CHECK(test::has_state(*m, "layer4.2.bn2.bias", {128}));
  CHECK(test::has_state(*m, "attention", {128, 1}));
  CHECK(test::has_state(*m, "sap_linear.weight", {128, 128}));
  CHECK(test::has_state(*m, "fc.weight", {512, 128}));
  CHECK(m->state().front().first == "attention");   // own parameters first, as torch's state_dict
}

TEST_CASE("ResNetSE34L: output shapes, train/eval, backward") {
  ModelConfig c;
  c.nOut = 64;
  auto feats = test::random_feats(2, 40, 100);
  auto sap = make_model("ResNetSE34L", c);
  CHECK(sap->forward(feats).shape() == Shape{2, 64});
  test::check_train_eval(*sap, feats);
  test::check_backward(*sap, feats);
  c.encoder_type = "ASP";
  auto asp = make_model("ResNetSE34L", c);
  CHECK(asp->forward(feats).shape() == Shape{2, 64});
  test::check_backward(*asp, feats);
}

TEST_CASE("ResNetSE34L: bad input and flags are reported") {
  auto m = make_model("ResNetSE34L", ModelConfig{});
  CHECK_THROWS_WITH_AS(m->forward(test::random_feats(2, 64, 50)), doctest::Contains("n_mels = 40"), Error);
  ModelConfig c;
  c.encoder_type = "VLAD";
  CHECK_THROWS_WITH_AS(make_model("ResNetSE34L", c), doctest::Contains("--encoder_type 'VLAD'"), Error);
  CHECK_THROWS_WITH_AS(make_model("ResNetSE50", ModelConfig{}), doctest::Contains("unknown --model 'ResNetSE50'"),
                       Error);
}
