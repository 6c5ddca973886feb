// x-vector TDNN: parameter count 4,347,868 (hand count in nets/tdnn.h), Kaldi/wespeaker names, valid
// (unpadded) context, output shape, BatchNorm train/eval, backward smoke test.
#include "nets/tdnn.h"

#include "model_test_util.h"

using namespace spk;

namespace {
ModelConfig tdnn(int64_t nOut = 512) {
  ModelConfig c;
  c.n_mels = 80;
  c.nOut = nOut;
  c.encoder_type = "";
  return c;
}
}  // namespace

TEST_CASE("TDNN: parameter count (hand-derived)") {
  CHECK(make_model("TDNN", tdnn())->num_parameters() == 4347868);
}

TEST_CASE("TDNN: state_dict names follow wespeaker's XVEC") {
  auto m = make_model("TDNN", tdnn());
  CHECK(test::has_state(*m, "frame_1.conv_1d.weight", {512, 80, 5}));
  CHECK(test::has_state(*m, "frame_2.conv_1d.weight", {512, 512, 3}));
  CHECK(test::has_state(*m, "frame_5.conv_1d.bias", {1500}));
  CHECK(test::has_state(*m, "frame_1.bn.running_mean", {512}));
  CHECK(!test::has_state(*m, "frame_1.bn.weight", {512}));   // affine=False, as Kaldi
  CHECK(test::has_state(*m, "seg_1.weight", {512, 3000}));
}

TEST_CASE("TDNN: output shape, context, train/eval, backward") {
  auto m = make_model("TDNN", tdnn(32));
  auto feats = test::random_feats(2, 80, 100);
  CHECK(m->forward(feats).shape() == Shape{2, 32});
  CHECK(m->forward(test::random_feats(2, 80, 16)).shape() == Shape{2, 32});   // 2 frames after the context
  CHECK_THROWS_WITH_AS(m->forward(test::random_feats(2, 80, 15)), doctest::Contains("T >= 16"), Error);
  test::check_train_eval(*m, feats);
  test::check_backward(*m, test::random_feats(2, 80, 30));
}
