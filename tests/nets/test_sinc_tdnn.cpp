// SincTDNN (pyannote-audio 1.x, Coria et al. 2020): parameter count 4,605,554 (= pyannote's model, counted by
// scripts/golden_models/pyannote.py), state_dict names and shapes, the frame arithmetic and shortest input,
// --sinc_stride, segment7 unused (training steps: tests/recipe/test_train_waveform.cpp).
// Numbers against PyTorch: tests/nets/test_model_golden.cpp (case SincTDNN).
#include "nets/sinc_tdnn.h"

#include "model_test_util.h"
#include "waveform_test_util.h"

using namespace spk;

namespace {
ModelConfig sinc_tdnn(int64_t nOut = 512, int64_t stride = 0) {
  ModelConfig c;
  c.n_mels = 1;
  c.nOut = nOut;
  c.encoder_type = "";
  c.sinc_stride = stride;
  return c;
}
}  // namespace

TEST_CASE("SincTDNN: parameter count and state_dict names are pyannote's") {
  auto m = make_model("SincTDNN", sinc_tdnn());
  CHECK(m->num_parameters() == 4605554);
  CHECK(m->n_mels() == 1);
  CHECK(test::has_state(*m, "sincnet_.waveform_normalize_.weight", {1}));
  CHECK(test::has_state(*m, "sincnet_.conv1d_.0.low_hz_", {80, 1}));
  CHECK(test::has_state(*m, "sincnet_.conv1d_.0.band_hz_", {80, 1}));
  CHECK(test::has_state(*m, "sincnet_.conv1d_.1.weight", {60, 80, 5}));
  CHECK(test::has_state(*m, "sincnet_.conv1d_.2.bias", {60}));
  CHECK(test::has_state(*m, "sincnet_.instance_norm1d_.2.bias", {60}));
  CHECK(test::has_state(*m, "tdnn_.tdnn.0.temporal_conv.weight_g", {512, 1, 1}));
  CHECK(test::has_state(*m, "tdnn_.tdnn.0.temporal_conv.weight_v", {512, 60, 5}));
  CHECK(test::has_state(*m, "tdnn_.tdnn.2.temporal_conv.weight_v", {512, 512, 3}));
  CHECK(test::has_state(*m, "tdnn_.tdnn.4.temporal_conv.bias", {1500}));
  CHECK(test::has_state(*m, "tdnn_.segment6.weight", {512, 3000}));
  CHECK(test::has_state(*m, "tdnn_.segment7.weight", {512, 512}));
  CHECK(m->state().size() == 33);   // pyannote's SincTDNN state_dict has 33 entries, no buffers
  CHECK(m->named_buffers().empty());
}

TEST_CASE("SincTDNN: weight_norm starts at the plain conv weight (g = ||v||)") {
  Rng rng(3);
  WeightNormConv1d wn(6, 4, 3, 2, rng);
  CHECK(test::max_abs_diff(wn.weight(), wn.weight_v) < 1e-6);
  const auto g = wn.weight_g.to_double();
  const auto v = wn.weight_v.to_double();
  for (size_t o = 0; o < 4; ++o) {
    double n2 = 0;
    for (size_t i = 0; i < 18; ++i) n2 += v[o * 18 + i] * v[o * 18 + i];
    CHECK(g[o] == doctest::Approx(std::sqrt(n2)).epsilon(1e-6));
  }
}

TEST_CASE("SincTDNN: frames, shortest input, --sinc_stride") {
  auto m = std::dynamic_pointer_cast<SincTdnn>(make_model("SincTDNN", sinc_tdnn(16)));
  REQUIRE(m);
  CHECK(m->sincnet_->frames(48000) == 351);   // 3 s at stride 5 (pyannote's 3 s chunks)
  CHECK(m->min_samples() == 2646);
  CHECK(m->forward(test::random_wave(2, 2646)).shape() == Shape{2, 16});
  CHECK_THROWS_WITH_AS(m->forward(test::random_wave(2, 2645)), doctest::Contains("T >= 2646"), Error);
  CHECK_THROWS_WITH_AS(m->forward(test::random_feats(2, 40, 3000)), doctest::Contains("n_mels = 1"), Error);
  auto s1 = std::dynamic_pointer_cast<SincTdnn>(make_model("SincTDNN", sinc_tdnn(16, 1)));
  CHECK(s1->min_samples() == 251 + 479);
  CHECK(s1->sincnet_->sinc->opt.stride == 1);
  CHECK(s1->num_parameters() == m->num_parameters());
  CHECK_THROWS_WITH_AS(make_model("SincTDNN", sinc_tdnn(16, -1)), doctest::Contains("--sinc_stride -1"), Error);
  ModelConfig bad = sinc_tdnn();
  bad.encoder_type = "SAP";
  CHECK_THROWS_WITH_AS(make_model("SincTDNN", bad), doctest::Contains("--encoder_type"), Error);
}

TEST_CASE("SincTDNN: backward reaches every parameter but the unused segment7") {
  auto m = make_model("SincTDNN", sinc_tdnn(32));
  test::check_backward_except(*m, test::random_wave(2, 3200), {"tdnn_.segment7."});
}
