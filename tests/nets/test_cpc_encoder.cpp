// CPCEncoder (the CPC paper's five strided convolutions on the waveform): names and shapes, the frame arithmetic
// (kernels 10, 8, 4, 4, 4, strides 5, 4, 2, 2, 2, no padding) and the shortest input, frames() against forward()
// (the embedding is the mean of the frames over time), the level invariance the waveform normalisation gives, and
// the errors naming the model (training: tests/recipe/test_train_cpc_lim.cpp).
#include "nets/cpc_encoder.h"

#include "engine/rng.h"
#include "model_test_util.h"
#include "support/check.h"

using namespace spk;

namespace {
ModelConfig cpc(int64_t nOut = 8) {
  ModelConfig c;
  c.n_mels = 1;
  c.nOut = nOut;
  return c;
}
}  // namespace

TEST_CASE("CPCEncoder: names, shapes, frame arithmetic") {
  auto m = make_model("CPCEncoder", cpc(16));
  CHECK(m->n_mels() == 1);
  CHECK(test::has_state(*m, "waveform_normalize_.weight", {1}));
  CHECK(test::has_state(*m, "blocks.0.conv.weight", {16, 1, 10}));
  CHECK(test::has_state(*m, "blocks.1.conv.weight", {16, 16, 8}));
  CHECK(test::has_state(*m, "blocks.4.conv.weight", {16, 16, 4}));
  CHECK(test::has_state(*m, "blocks.4.bn.running_var", {16}));
  // 2-s crops (--max_frames 200: 32,240 samples) give 199 frames, about one per 10 ms; 465 samples are the least.
  CHECK(CPCEncoder::frames_for(32240) == 199);
  CHECK(CPCEncoder::frames_for(13040) == 79);
  CHECK(CPCEncoder::frames_for(465) == 1);
  CHECK(CPCEncoder::frames_for(464) == 0);
  Rng rng(3);
  Tensor wav = Tensor::uniform({2, 1, 3440}, rng, -0.5, 0.5);
  Tensor z = m->frames(wav);
  CHECK(z.shape() == Shape{2, CPCEncoder::frames_for(3440), 16});
  test::expect_close(m->forward(wav), mean(z, {1}).to_double(), 0, 0, "embedding = mean of frames");
  CHECK(m->forward(Tensor::uniform({2, 1, 465}, rng, -1, 1)).shape() == Shape{2, 16});   // one frame each
}

TEST_CASE("CPCEncoder: a louder copy of a waveform encodes the same (per-utterance normalisation)") {
  auto m = make_model("CPCEncoder", cpc());
  m->eval();
  Rng rng(4);
  Tensor wav = Tensor::uniform({1, 1, 2000}, rng, -0.1, 0.1);
  test::expect_close(m->forward(mul_scalar(wav, 8.0)), m->forward(wav).to_double(), 1e-5, 1e-3, "gain");   // f32: the normalised samples differ by rounding
}

TEST_CASE("CPCEncoder: errors name the model; other models have no frames") {
  auto m = make_model("CPCEncoder", cpc());
  CHECK_THROWS_WITH_AS(m->forward(Tensor::zeros({1, 1, 464})), doctest::Contains("CPCEncoder: input"), Error);
  ModelConfig mel = cpc();
  mel.n_mels = 40;
  CHECK_THROWS_WITH_AS(make_model("CPCEncoder", mel), doctest::Contains("n_mels must be 1"), Error);
  ModelConfig tdnn;
  tdnn.n_mels = 40;
  tdnn.nOut = 8;
  tdnn.encoder_type = "";
  CHECK_THROWS_WITH_AS(make_model("TDNN", tdnn)->frames(Tensor::zeros({1, 40, 20})),
                       doctest::Contains("TDNN: gives no frame-level encoding"), Error);
}
