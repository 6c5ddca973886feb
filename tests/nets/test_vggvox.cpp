// VGGVox: parameter counts against the anchor (SAP 4,032,448; TAP/MAX 3,769,280 at nOut 512), netcnn
// names with Sequential indices, output shapes for SAP/TAP/MAX, BatchNorm train/eval behaviour, and the
// shortest crop the net accepts.
#include "nets/vggvox.h"

#include "model_test_util.h"

using namespace spk;

namespace {
ModelConfig vgg(const std::string& enc, int64_t nOut = 512) {
  ModelConfig c;
  c.encoder_type = enc;
  c.nOut = nOut;
  return c;
}
}  // namespace

TEST_CASE("VGGVox: parameter counts match the anchor") {
  CHECK(make_model("VGGVox", vgg("SAP"))->num_parameters() == 4032448);
  CHECK(make_model("VGGVox", vgg("TAP"))->num_parameters() == 3769280);
  CHECK(make_model("VGGVox", vgg("MAX"))->num_parameters() == 3769280);
}

TEST_CASE("VGGVox: state_dict names follow the PyTorch module") {
  auto m = make_model("VGGVox", vgg("SAP"));
  CHECK(test::has_state(*m, "netcnn.0.weight", {96, 1, 5, 7}));
  CHECK(test::has_state(*m, "netcnn.1.running_mean", {96}));
  CHECK(test::has_state(*m, "netcnn.4.weight", {256, 96, 5, 5}));
  CHECK(test::has_state(*m, "netcnn.11.bias", {256}));
  CHECK(test::has_state(*m, "netcnn.18.weight", {512, 256, 4, 1}));
  CHECK(test::has_state(*m, "netcnn.19.weight", {512}));
  CHECK(test::has_state(*m, "attention", {512, 1}));
  CHECK(test::has_state(*m, "sap_linear.weight", {512, 512}));
  CHECK(test::has_state(*m, "fc.weight", {512, 512}));
  CHECK(!test::has_state(*make_model("VGGVox", vgg("TAP")), "attention", {512, 1}));
}

TEST_CASE("VGGVox: output shapes, train/eval, minimum length") {
  auto feats = test::random_feats(2, 40, 100);
  for (const char* enc : {"SAP", "TAP", "MAX"}) {
    INFO(enc);
    auto m = make_model("VGGVox", vgg(enc, 16));
    CHECK(m->forward(feats).shape() == Shape{2, 16});
  }
  auto m = make_model("VGGVox", vgg("TAP", 16));
  test::check_train_eval(*m, feats);
  CHECK(m->forward(test::random_feats(2, 40, 63)).shape() == Shape{2, 16});   // T' = 1
  CHECK_THROWS_WITH_AS(m->forward(test::random_feats(1, 40, 62)), doctest::Contains("T >= 63"), Error);
  ModelConfig c = vgg("SAP");
  c.n_mels = 64;
  CHECK_THROWS_WITH_AS(make_model("VGGVox", c), doctest::Contains("--n_mels 64"), Error);
}
