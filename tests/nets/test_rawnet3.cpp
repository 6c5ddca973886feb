// RawNet3 (voxceleb_trainer): parameter counts 16,280,322 (ECA) and 16,082,307 (ASP) (= the reference model,
// counted by scripts/golden_models/rawnet3.py), state_dict names and shapes with asteroid's buffers, the shortest
// input, pre-emphasis, --sinc_stride, the unused bn1 / bn6, BatchNorm train/eval (training steps on synthetic
// waveforms: tests/recipe/test_train_waveform.cpp). Numbers against PyTorch: tests/nets/test_model_golden.cpp
// (cases RawNet3_ECA, RawNet3_ASP_C256).
#include "nets/rawnet3.h"

#include "model_test_util.h"
#include "waveform_test_util.h"

using namespace spk;

namespace {
ModelConfig rawnet3(int64_t nOut = 256, const std::string& enc = "", int64_t C = 1024, int64_t stride = 0) {
  ModelConfig c;
  c.n_mels = 1;
  c.nOut = nOut;
  c.encoder_type = enc;
  c.C = C;
  c.sinc_stride = stride;
  return c;
}
}  // namespace

TEST_CASE("RawNet3: parameter counts and state_dict names are voxceleb_trainer's") {
  auto m = make_model("RawNet3", rawnet3());
  CHECK(m->num_parameters() == 16280322);
  CHECK(make_model("RawNet3", rawnet3(256, "ASP"))->num_parameters() == 16082307);
  CHECK(test::has_state(*m, "preprocess.0.flipped_filter", {1, 1, 2}));
  CHECK(test::has_state(*m, "preprocess.1.weight", {1}));
  CHECK(test::has_state(*m, "conv1.filterbank.low_hz_", {128, 1}));
  CHECK(test::has_state(*m, "conv1.filterbank.band_hz_", {128, 1}));
  CHECK(test::has_state(*m, "conv1.filterbank.window_", {125}));
  CHECK(test::has_state(*m, "conv1.filterbank.n_", {1, 125}));
  CHECK(test::has_state(*m, "bn1.running_var", {256}));
  CHECK(test::has_state(*m, "layer1.conv1.weight", {1024, 256, 1}));
  CHECK(test::has_state(*m, "layer1.convs.6.weight", {128, 128, 3}));
  CHECK(test::has_state(*m, "layer1.bns.6.num_batches_tracked", {}));
  CHECK(test::has_state(*m, "layer1.afms.alpha", {1024, 1}));
  CHECK(test::has_state(*m, "layer1.afms.fc.weight", {1024, 1024}));
  CHECK(test::has_state(*m, "layer1.residual.0.weight", {1024, 256, 1}));
  CHECK_FALSE(test::has_state(*m, "layer2.residual.0.weight", {1024, 1024, 1}));
  CHECK(test::has_state(*m, "layer4.weight", {1536, 3072, 1}));
  CHECK(test::has_state(*m, "attention.0.weight", {128, 4608, 1}));
  CHECK(test::has_state(*m, "attention.2.running_mean", {128}));
  CHECK(test::has_state(*m, "attention.3.weight", {1536, 128, 1}));
  CHECK(test::has_state(*m, "bn5.weight", {3072}));
  CHECK(test::has_state(*m, "fc6.weight", {256, 3072}));
  CHECK(test::has_state(*m, "bn6.bias", {256}));
  CHECK(m->state().size() == 234);   // the reference's state_dict entries (scripts/golden_models/rawnet3.py)
}

TEST_CASE("RawNet3: asteroid's window_ and n_ buffers hold its values") {
  auto m = std::dynamic_pointer_cast<RawNet3>(make_model("RawNet3", rawnet3(32, "", 64)));
  REQUIRE(m);
  const auto w = m->conv1->filterbank->window_.to_double();
  const auto n = m->conv1->filterbank->n_.to_double();
  CHECK(w[0] == doctest::Approx(0.08));                                        // np.hamming(251)[0]
  CHECK(w[124] == doctest::Approx(0.54 - 0.46 * std::cos(2 * std::numbers::pi * 124 / 250)));
  CHECK(n[0] == doctest::Approx(-2 * std::numbers::pi * 125 / 16000));
  CHECK(n[124] == doctest::Approx(-2 * std::numbers::pi / 16000));
}

TEST_CASE("RawNet3: pre-emphasis with the reflect pad") {
  PreEmphasis pe;
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 4, 8}, {1, 1, 4});
  const auto y = pe.forward(x).to_double();
  REQUIRE(y.size() == 4);
  CHECK(y[0] == doctest::Approx(1 - 0.97 * 2));   // reflect: x[-1] = x[1]
  CHECK(y[1] == doctest::Approx(2 - 0.97 * 1));
  CHECK(y[3] == doctest::Approx(8 - 0.97 * 4));
}

TEST_CASE("RawNet3: shortest input, --sinc_stride, --encoder_type, --C") {
  auto m = std::dynamic_pointer_cast<RawNet3>(make_model("RawNet3", rawnet3(16, "ECA", 64)));
  REQUIRE(m);
  CHECK(m->min_samples() == 541);
  CHECK(m->forward(test::random_wave(2, 541)).shape() == Shape{2, 16});
  CHECK_THROWS_WITH_AS(m->forward(test::random_wave(2, 540)), doctest::Contains("T >= 541"), Error);
  auto s5 = std::dynamic_pointer_cast<RawNet3>(make_model("RawNet3", rawnet3(16, "ASP", 64, 5)));
  CHECK(s5->min_samples() == 251 + 29 * 5);
  CHECK(s5->forward(test::random_wave(2, 400)).shape() == Shape{2, 16});
  CHECK_THROWS_WITH_AS(make_model("RawNet3", rawnet3(16, "", 64, -2)), doctest::Contains("--sinc_stride -2"), Error);
  CHECK_THROWS_WITH_AS(make_model("RawNet3", rawnet3(16, "SAP")), doctest::Contains("--encoder_type"), Error);
  CHECK_THROWS_WITH_AS(make_model("RawNet3", rawnet3(16, "", 100)), doctest::Contains("--C"), Error);
}

TEST_CASE("RawNet3: BatchNorm train/eval, backward reaches every parameter but the unused bn1 / bn6") {
  auto m = make_model("RawNet3", rawnet3(16, "ECA", 64));
  const Tensor wav = test::random_wave(3, 1600);
  m->train();
  Tensor y_train = m->forward(wav);
  m->eval();
  Tensor y_eval = m->forward(wav);
  CHECK(test::max_abs_diff(y_train, y_eval) > 1e-3);
  Tensor y0 = m->forward(contiguous(slice(wav, 0, 0, 1)));   // eval: rows independent
  CHECK(test::max_abs_diff(y0, slice(y_eval, 0, 0, 1)) < 1e-4);
  test::check_backward_except(*m, wav, {"bn1.", "bn6."});
}
