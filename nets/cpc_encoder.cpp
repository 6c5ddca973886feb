// The CPC waveform encoder; see cpc_encoder.h.
#include "nets/cpc_encoder.h"

#include "engine/ops.h"
#include "nets/waveform_blocks.h"

namespace spk {

namespace {

constexpr int64_t kKernels[] = {10, 8, 4, 4, 4};
constexpr int64_t kStrides[] = {5, 4, 2, 2, 2};

class ConvBnRelu : public Module {
 public:
  ConvBnRelu(int64_t in, int64_t out, int64_t k, int64_t s, Rng& rng) {
    conv = register_module("conv", std::make_shared<Conv1d>(in, out, k, rng, Conv1dOptions{.stride = s}));
    bn = register_module("bn", std::make_shared<BatchNorm1d>(out));
  }
  Tensor forward(const Tensor& x) { return bn->forward_relu(conv->forward(x)); }
  std::shared_ptr<Conv1d> conv;
  std::shared_ptr<BatchNorm1d> bn;
};

}  // namespace

int64_t CPCEncoder::frames_for(int64_t samples) {
  int64_t n = samples;
  for (int i = 0; i < 5; ++i) n = n < kKernels[i] ? 0 : (n - kKernels[i]) / kStrides[i] + 1;
  return n;
}

CPCEncoder::CPCEncoder(const ModelConfig& c, Rng& rng) : SpeakerNet(1, c.nOut) {
  SPK_CHECK(c.n_mels == 1, "CPCEncoder: takes the raw waveform (B, 1, L): n_mels must be 1 (--frontend waveform), got ",
            c.n_mels);
  SPK_CHECK(c.nOut >= 1, "CPCEncoder: nOut ", c.nOut, " must be at least 1");
  waveform_normalize = register_module("waveform_normalize_", affine_instance_norm(1));
  blocks = register_module("blocks", std::make_shared<ModuleList>());
  for (int i = 0; i < 5; ++i)
    blocks->push_back(std::make_shared<ConvBnRelu>(i == 0 ? 1 : c.nOut, c.nOut, kKernels[i], kStrides[i], rng));
}

Tensor CPCEncoder::frames(const Tensor& wav) {
  check_input(wav, 465);   // frames_for(465) == 1
  Tensor x = waveform_normalize->forward(wav);
  for (size_t i = 0; i < blocks->size(); ++i) x = blocks->at<ConvBnRelu>(i).forward(x);
  return transpose(x, 1, 2);   // (B, T', nOut)
}

Tensor CPCEncoder::forward(const Tensor& wav) { return mean(frames(wav), {1}); }

}  // namespace spk
