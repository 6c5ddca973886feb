// Model -> front end (see frontend.h).
#include "apps/recipe/frontend.h"

#include <algorithm>
#include <map>

#include "engine/audio/fbank.h"
#include "engine/audio/mfcc.h"
#include "engine/ops.h"

namespace spk::recipe {

namespace {

constexpr const char* kMfccSuffix = "_mfcc";
constexpr const char* kWaveform = "waveform";

// "kaldi_voxceleb_mfcc" -> "kaldi_voxceleb"; "" when `name` is not an MFCC front end.
std::string mfcc_preset_of(const std::string& name) {
  for (const auto& n : mfcc_preset_names())
    if (name == n + kMfccSuffix) return n;
  return "";
}

FrontEnd mfcc_frontend(const RecipeConfig& c, const std::string& name) {
  MfccConfig m = mfcc_preset(mfcc_preset_of(name));
  // Per-utterance CMN of the cepstra: Kaldi's x-vector recipe follows its MFCC with sliding CMN over 300 frames
  // (egs/voxceleb/v2/run.sh, apply-cmvn-sliding), which equals this for crops up to 300 frames; the kaldi-mode
  // fbank presets (wespeaker, 3dspeaker) normalise so too.
  m.norm = FbankNorm::mean;
  if (c.n_ceps < 0) throw UsageError("--n_ceps: must be >= 0 (0 = the preset's), got " + std::to_string(c.n_ceps));
  if (c.n_ceps > 0) m.n_ceps = int(c.n_ceps);
  if (m.n_ceps > m.fbank.n_mels)
    throw UsageError("--n_ceps " + std::to_string(m.n_ceps) + ": front end " + name + " has " +
                     std::to_string(m.fbank.n_mels) + " mel bins, so at most " + std::to_string(m.fbank.n_mels) +
                     " cepstra");
  if (c.n_mels != m.n_ceps)
    throw UsageError("--n_mels " + std::to_string(c.n_mels) + " with --frontend " + name + ": the model's input " +
                     "width (--n_mels) must equal the cepstra (" + std::to_string(m.n_ceps) + ", --n_ceps" +
                     (c.n_ceps > 0 ? "" : " unset: the preset's") + "); set --n_mels " + std::to_string(m.n_ceps) +
                     (c.n_mels <= m.fbank.n_mels ? " or --n_ceps " + std::to_string(c.n_mels)
                                                 : " (at most " + std::to_string(m.fbank.n_mels) + " cepstra)"));
  const std::string err = mfcc_config_error(m);
  if (!err.empty()) throw UsageError("--n_ceps " + std::to_string(m.n_ceps) + " with front end " + name + ": " + err);
  return FrontEnd(m);
}

}  // namespace

FrontEnd FrontEnd::waveform(double sample_rate) {
  FrontEnd f;
  f.fbank.sample_rate = sample_rate;
  f.is_waveform = true;
  return f;
}

std::string FrontEnd::error() const {
  if (is_waveform) return fbank.sample_rate > 0 ? "" : "waveform front end: sample_rate must be positive";
  return is_mfcc ? mfcc_config_error(mfcc) : fbank_config_error(fbank);
}

std::string FrontEnd::str() const {
  if (is_waveform) return "waveform (B, 1, L) at " + std::to_string(int64_t(fbank.sample_rate)) + " Hz";
  return is_mfcc ? "mfcc " + mfcc_config_str(mfcc) : fbank_config_str(fbank);
}

Tensor FrontEnd::features(const Tensor& wav) const {
  if (is_waveform) {
    SPK_CHECK(wav.dim() == 2, "waveform front end: expected (B, L) samples, got ", wav.str());
    return reshape(wav, {wav.size(0), 1, wav.size(1)});
  }
  return is_mfcc ? spk::mfcc(wav, mfcc) : spk::fbank(wav, fbank);
}

const std::vector<std::string>& waveform_models() {
  static const std::vector<std::string> names = {"SincTDNN", "RawNet3", "CPCEncoder"};
  return names;
}

std::vector<std::string> mfcc_frontend_names() {
  std::vector<std::string> out;
  for (const auto& n : mfcc_preset_names()) out.push_back(n + kMfccSuffix);
  return out;
}

std::string frontend_name(const RecipeConfig& c) {
  if (c.frontend != "auto") {
    for (const auto& n : fbank_preset_names())
      if (n == c.frontend) return n;
    if (!mfcc_preset_of(c.frontend).empty()) return c.frontend;
    if (c.frontend == kWaveform) return c.frontend;
    std::string names;
    for (const auto& n : fbank_preset_names()) names += " " + n;
    for (const auto& n : mfcc_frontend_names()) names += " " + n;
    names += std::string(" ") + kWaveform;
    throw UsageError("--frontend: unknown preset '" + c.frontend + "' (auto," + names + ")");
  }
  static const std::map<std::string, std::string> by_model = {
      {"ResNetSE34L", "resnetse34l"}, {"ResNetSE34V2", "resnetse34v2"}, {"VGGVox", "vggvox"},
      {"ECAPA_TDNN", "ecapa"},        {"ResNet34", "wespeaker"},        {"TDNN", "wespeaker"},
      // wespeaker's other ResNet depths; the HardNeg seed's ECAPA has TaoRuijie's front end
      {"ResNet18", "wespeaker"},      {"ResNet50", "wespeaker"},        {"ResNet101", "wespeaker"},
      {"ResNet152", "wespeaker"},     {"ResNet221", "wespeaker"},       {"ResNet293", "wespeaker"},
      {"ECAPA_TDNN_HardNeg", "ecapa"},{"ResNet18_HardNeg", "ecapa"},    {"ResNet34_HardNeg", "ecapa"}};
  for (const auto& m : waveform_models())
    if (m == c.model) return kWaveform;
  auto it = by_model.find(c.model);
  if (it == by_model.end())
    throw UsageError("--model: unknown model '" + c.model + "' (ResNetSE34L, ResNetSE34V2, VGGVox, ECAPA_TDNN, "
                     "ResNet34, TDNN, ResNet18/50/101/152/221/293, ECAPA_TDNN_HardNeg, "
                     "ResNet18_HardNeg, ResNet34_HardNeg)");
  return it->second;
}

FrontEnd frontend_config(const RecipeConfig& c) {
  const std::string name = frontend_name(c);
  const bool wave_model =
      std::find(waveform_models().begin(), waveform_models().end(), c.model) != waveform_models().end();
  if (name == kWaveform) {   // --n_mels is not read
    if (c.n_ceps != 0)
      throw UsageError("--n_ceps " + std::to_string(c.n_ceps) + ": only for an MFCC --frontend, not waveform");
    if (!wave_model) {
      std::string names;
      for (const auto& m : waveform_models()) names += (names.empty() ? "" : ", ") + m;
      throw UsageError("--frontend waveform with --model " + c.model + ": only models that read the raw waveform (" +
                       names + ") take it; " + c.model + " takes a filterbank (--frontend auto)");
    }
    return FrontEnd::waveform(FbankConfig{}.sample_rate);   // 16 kHz, as every preset
  }
  if (c.n_mels < 1) throw UsageError("--n_mels: must be at least 1, got " + std::to_string(c.n_mels));
  if (!mfcc_preset_of(name).empty() && !wave_model) return mfcc_frontend(c, name);
  if (wave_model)
    throw UsageError("--frontend " + name + " with --model " + c.model + ": the model reads the raw waveform; use "
                     "--frontend waveform (or auto)");
  if (c.n_ceps != 0)
    throw UsageError("--n_ceps " + std::to_string(c.n_ceps) + ": only for an MFCC --frontend (" + [] {
      std::string s;
      for (const auto& n : mfcc_frontend_names()) s += (s.empty() ? "" : ", ") + n;
      return s;
    }() + "), not " + name);
  FbankConfig fb = fbank_preset(name);
  fb.n_mels = int(c.n_mels);
  if (name == "resnetse34l" || name == "resnetse34v2" || name == "vggvox") fb.log = c.log_input;
  const std::string err = fbank_config_error(fb);
  if (!err.empty()) throw UsageError("--n_mels " + std::to_string(c.n_mels) + " with front end " + name + ": " + err);
  return fb;
}

}  // namespace spk::recipe
