// SpeakerNet input checks and the model factory (see model.h).
#include "nets/model.h"

#include "engine/rng.h"
#include "nets/cpc_encoder.h"
#include "nets/ecapa_tdnn.h"
#include "nets/rawnet3.h"
#include "nets/resnet_se34l.h"
#include "nets/resnet_se34v2.h"
#include "nets/sinc_tdnn.h"
#include "nets/tdnn.h"
#include "nets/vggvox.h"
#include "nets/wespeaker_resnet.h"

namespace spk {

void SpeakerNet::check_input(const Tensor& feats, int64_t min_frames) const {
  SPK_CHECK(feats.defined() && feats.dim() == 3 && feats.size(1) == n_mels_ && feats.size(0) >= 1 &&
                feats.size(2) >= min_frames,
            name(), ": input ", feats.defined() ? feats.str() : std::string("undefined"),
            " must be features (B, n_mels = ", n_mels_, ", T >= ", min_frames, ")");
}

Tensor SpeakerNet::frames(const Tensor&) {
  SPK_FAIL(name(), ": gives no frame-level encoding (the frame losses cpc, lim and gim need one: --model CPCEncoder)");
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"ResNetSE34L", "ResNetSE34V2", "VGGVox",
                                                 "ECAPA_TDNN",  "ResNet34",     "TDNN",
                                                 // wespeaker_resnet.h's other depths; the HardNeg seed's ECAPA
                                                 "ResNet18", "ResNet50", "ResNet101", "ResNet152", "ResNet221",
                                                 "ResNet293", "ECAPA_TDNN_HardNeg", "ResNet18_HardNeg",
                                                 "ResNet34_HardNeg",
                                                 // the raw-waveform models (--frontend waveform)
                                                 "SincTDNN", "RawNet3",
                                                 // ssl-for-slr's CPC / LIM frame encoder
                                                 "CPCEncoder"};
  return names;
}

std::shared_ptr<SpeakerNet> make_model(const std::string& name, const ModelConfig& config, Rng& rng) {
  SPK_CHECK(config.n_mels >= 1 && config.nOut >= 1, "make_model: --n_mels ", config.n_mels, " and --nOut ",
            config.nOut, " must be positive");
  if (name == "ResNetSE34L") return std::make_shared<ResNetSE34L>(config, rng);
  if (name == "ResNetSE34V2") return std::make_shared<ResNetSE34V2>(config, rng);
  if (name == "VGGVox") return std::make_shared<VGGVox>(config, rng);
  if (name == "ECAPA_TDNN") return std::make_shared<EcapaTdnn>(config, rng);
  if (name == "ECAPA_TDNN_HardNeg") return std::make_shared<EcapaTdnn>(config, rng, 64, name);
  for (const auto& d : wespeaker_resnet_depths())
    if (name == d.name) return std::make_shared<WespeakerResNet>(name, config, rng);
  if (name == "ResNet18_HardNeg" || name == "ResNet34_HardNeg")
    return std::make_shared<WespeakerResNet>(name, config, rng);
  if (name == "TDNN") return std::make_shared<XVectorTdnn>(config, rng);
  if (name == "SincTDNN") return std::make_shared<SincTdnn>(config, rng);
  if (name == "CPCEncoder") return std::make_shared<CPCEncoder>(config, rng);
  if (name == "RawNet3") return std::make_shared<RawNet3>(config, rng);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  SPK_FAIL("make_model: unknown --model '", name, "' (known: ", known, ")");
}

std::shared_ptr<SpeakerNet> make_model(const std::string& name, const ModelConfig& config) {
  Rng rng(config.seed);
  return make_model(name, config, rng);
}

}  // namespace spk
