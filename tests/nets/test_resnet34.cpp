// wespeaker ResNet34-TSTP: parameter count 6,634,336 (wespeaker's 6.63 M; hand count in nets/resnet34.h),
// names, output shape, BatchNorm train/eval.
#include "nets/resnet34.h"

#include "model_test_util.h"

using namespace spk;

namespace {
ModelConfig r34(int64_t nOut = 256) {
  ModelConfig c;
  c.n_mels = 80;
  c.nOut = nOut;
  c.encoder_type = "TSTP";
  return c;
}
}  // namespace

TEST_CASE("ResNet34: parameter count matches wespeaker's 6.63 M") {
  CHECK(make_model("ResNet34", r34())->num_parameters() == 6634336);
}

TEST_CASE("ResNet34: state_dict names follow wespeaker's module") {
  auto m = make_model("ResNet34", r34());
  CHECK(test::has_state(*m, "conv1.weight", {32, 1, 3, 3}));
  CHECK(test::has_state(*m, "bn1.weight", {32}));
  CHECK(test::has_state(*m, "layer1.0.conv2.weight", {32, 32, 3, 3}));
  CHECK(test::has_state(*m, "layer2.0.shortcut.0.weight", {64, 32, 1, 1}));
  CHECK(test::has_state(*m, "layer2.0.shortcut.1.running_mean", {64}));
  CHECK(!test::has_state(*m, "layer1.0.shortcut.0.weight", {32, 32, 1, 1}));
  CHECK(test::has_state(*m, "layer4.2.bn2.bias", {256}));
  CHECK(test::has_state(*m, "seg_1.weight", {256, 5120}));
}

TEST_CASE("ResNet34: output shape and train/eval") {
  auto feats = test::random_feats(2, 80, 100);
  auto m = make_model("ResNet34", r34(32));
  CHECK(m->forward(feats).shape() == Shape{2, 32});
  test::check_train_eval(*m, feats);
  CHECK(m->forward(test::random_feats(2, 80, 9)).shape() == Shape{2, 32});   // 9 -> 5 -> 3 -> 2 frames
  CHECK_THROWS_WITH_AS(m->forward(test::random_feats(2, 80, 8)), doctest::Contains("T >= 9"), Error);
}
