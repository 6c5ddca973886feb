// SincTDNN (see sinc_tdnn.h).
#include "nets/sinc_tdnn.h"

#include "engine/rng.h"

namespace spk {

namespace {
constexpr int64_t kSincFilters = 80, kChannels = 60, kKernel = 5, kPool = 3;
constexpr double kLeakySlope = 0.2;   // SincNet's nn.LeakyReLU(negative_slope=0.2)
}  // namespace

SincNet::SincNet(int64_t sinc_stride_, Rng& rng) : sinc_stride(sinc_stride_) {
  SPK_CHECK(sinc_stride >= 1, "SincTDNN: --sinc_stride ", sinc_stride, " must be at least 1");
  waveform_normalize = register_module("waveform_normalize_", affine_instance_norm(1));
  auto convs = register_module("conv1d_", std::make_shared<ModuleList>());
  SincOptions o;                        // pyannote's SincConv1d: sincnet convention, 251 taps, 16 kHz, 50/50 Hz
  o.convention = SincConvention::sincnet;
  o.kernel_size = 251;
  o.stride = sinc_stride;
  sinc = convs->push_back(std::make_shared<SincConv1d>(kSincFilters, o));
  conv1 = convs->push_back(std::make_shared<Conv1d>(kSincFilters, kChannels, kKernel, rng));
  conv2 = convs->push_back(std::make_shared<Conv1d>(kChannels, kChannels, kKernel, rng));
  instance_norms = register_module("instance_norm1d_", std::make_shared<ModuleList>());
  for (int64_t c : {kSincFilters, kChannels, kChannels}) instance_norms->push_back(affine_instance_norm(c));
}

int64_t SincNet::frames(int64_t samples) const {
  int64_t t = samples < 251 ? 0 : (samples - 251) / sinc_stride + 1;
  t /= kPool;
  for (int i = 0; i < 2; ++i) t = t < kKernel ? 0 : (t - kKernel + 1) / kPool;
  return t;
}

Tensor SincNet::forward(const Tensor& wav) const {
  Tensor x = waveform_normalize->forward(wav);
  x = abs(sinc->forward(x));
  for (int i = 0; i < 3; ++i) {
    if (i == 1) x = conv1->forward(x);
    if (i == 2) x = conv2->forward(x);
    x = max_pool1d(x, kPool);
    x = leaky_relu(instance_norms->at<InstanceNorm1d>(size_t(i)).forward(x), kLeakySlope);
  }
  return x;
}

PyannoteTdnnLayer::PyannoteTdnnLayer(int64_t in, int64_t out, int64_t kernel, int64_t dilation, Rng& rng) {
  temporal_conv = register_module("temporal_conv", std::make_shared<WeightNormConv1d>(in, out, kernel, dilation, rng));
}

PyannoteXVector::PyannoteXVector(int64_t input_dim, int64_t embedding_dim, Rng& rng) {
  tdnn = register_module("tdnn", std::make_shared<ModuleList>());
  tdnn->push_back(std::make_shared<PyannoteTdnnLayer>(input_dim, 512, 5, 1, rng));   // context [-2, 2]
  tdnn->push_back(std::make_shared<PyannoteTdnnLayer>(512, 512, 3, 2, rng));         // {-2, 0, 2}
  tdnn->push_back(std::make_shared<PyannoteTdnnLayer>(512, 512, 3, 3, rng));         // {-3, 0, 3}
  tdnn->push_back(std::make_shared<PyannoteTdnnLayer>(512, 512, 1, 1, rng));         // {0}
  tdnn->push_back(std::make_shared<PyannoteTdnnLayer>(512, 1500, 1, 1, rng));        // {0}
  segment6 = register_module("segment6", std::make_shared<Linear>(3000, embedding_dim, rng));
  segment7 = register_module("segment7", std::make_shared<Linear>(embedding_dim, embedding_dim, rng));
}

Tensor PyannoteXVector::forward(const Tensor& x) const {
  Tensor h = x;
  for (size_t i = 0; i < tdnn->size(); ++i) h = tdnn->at<PyannoteTdnnLayer>(i).forward(h);
  return segment6->forward(mean_std_pool(h));   // return_intermediate="segment6"
}

SincTdnn::SincTdnn(const ModelConfig& config, Rng& rng) : SpeakerNet(1, config.nOut) {
  SPK_CHECK(config.encoder_type.empty() || config.encoder_type == "STAT",
            "SincTDNN: unknown --encoder_type '", config.encoder_type,
            "' (SincTDNN has the x-vector mean and standard deviation pooling, STAT)");
  SPK_CHECK(config.sinc_stride >= 0, "SincTDNN: --sinc_stride ", config.sinc_stride,
            " must be at least 1 (0 = the model's, 5)");
  const int64_t stride = config.sinc_stride > 0 ? config.sinc_stride : 5;
  sincnet_ = register_module("sincnet_", std::make_shared<SincNet>(stride, rng));
  tdnn_ = register_module("tdnn_", std::make_shared<PyannoteXVector>(kChannels, config.nOut, rng));
}

int64_t SincTdnn::min_samples() const {
  int64_t lo = 251, hi = 251;
  while (sincnet_->frames(hi) < 16) hi *= 2;
  while (lo < hi) {   // frames() is non-decreasing in the length
    const int64_t mid = lo + (hi - lo) / 2;
    if (sincnet_->frames(mid) >= 16) hi = mid; else lo = mid + 1;
  }
  return lo;
}

Tensor SincTdnn::forward(const Tensor& wav) {
  check_input(wav, min_samples());
  return tdnn_->forward(sincnet_->forward(wav));
}

}  // namespace spk
