// spk_eval's --eval_protocol, --window_duration and --window_step, checked against the other flags before any
// audio is read (see eval_app.h, eval_protocol.h, docs/evaluation.md "Evaluation protocols").
#include <cmath>
#include <cstdio>

#include "apps/recipe/eval_app.h"
#include "engine/audio/crop.h"

namespace spk::recipe::eval_app {

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A duration flag in seconds: finite, positive, at least one sample, at most a day.
int64_t duration_samples(const OptionParser& p, const std::string& flag, int sample_rate) {
  const double v = p.real(flag);
  if (!(std::isfinite(v) && v > 0 && v <= 86400))
    usage("--" + flag + ": must be a positive number of seconds (at most 86400), got " + num(v));
  const int64_t n = seconds_to_samples(v, sample_rate);
  if (n < 1)
    usage("--" + flag + ": " + num(v) + " s is less than one sample at " + std::to_string(sample_rate) + " Hz");
  return n;
}

}  // namespace

void check_protocol_flags(const OptionParser& p, EvalFlags& f) {
  try {
    f.protocol.protocol = parse_eval_protocol(p.str("eval_protocol"));
  } catch (const Error& e) {
    usage(e.what());
  }
  const EvalProtocol proto = f.protocol.protocol;
  const std::string name = eval_protocol_name(proto);
  constexpr int kRate = 16000;   // EmbedSettings::sample_rate: files are read at 16 kHz
  f.protocol.window_samples = duration_samples(p, "window_duration", kRate);
  f.protocol.step_samples = duration_samples(p, "window_step", kRate);
  if (proto != EvalProtocol::sliding)
    for (const char* flag : {"window_duration", "window_step"})
      if (p.given(flag)) usage(std::string("--") + flag + " is only used with --eval_protocol sliding");
  if (proto == EvalProtocol::voxceleb_trainer) return;
  if (proto == EvalProtocol::sliding)
    for (const char* flag : {"eval_frames", "num_eval"})
      if (p.given(flag))
        usage(std::string("--") + flag + " is not used with --eval_protocol sliding (its windows are --window_duration "
              "every --window_step)");
  // VT's own choices: which of its two scores, and whether its crops are normalised.
  for (const char* flag : {"scoring", "test_normalize"})
    if (p.given(flag))
      usage(std::string("--") + flag + " is voxceleb_trainer's (VT and/or cosine scores of its crops); " +
            "--eval_protocol " + name + " has its own scores (docs/evaluation.md)");
  if (proto == EvalProtocol::taoruijie) {
    // TaoRuijie's 5 crops of 300 frames; --eval_frames / --num_eval on the command line change them. A config
    // file's values are voxceleb_trainer's crop settings (the trainer's; often eval_frames 0) and are not taken.
    const int64_t frames = p.given("eval_frames") ? p.integer("eval_frames") : 300;
    if (frames < 1)
      usage("--eval_frames: --eval_protocol taoruijie takes the whole file plus crops of --eval_frames (300 = "
            "TaoRuijie's 3 s), so it must be >= 1, got " + std::to_string(frames));
    f.protocol.crop_samples = audio::max_audio_samples(frames);
    f.protocol.num_crops = p.given("num_eval") ? p.integer("num_eval") : 5;
  }
}

nlohmann::json protocol_json(const EvalFlags& f) {
  const ProtocolSettings& ps = f.protocol;
  nlohmann::json j = {{"name", eval_protocol_name(ps.protocol)}};
  switch (ps.protocol) {
    case EvalProtocol::voxceleb_trainer:
      j["crop_samples"] = f.recipe.eval_frames > 0 ? audio::max_audio_samples(f.recipe.eval_frames) : 0;
      j["crops"] = f.recipe.eval_frames > 0 ? f.recipe.num_eval : 1;
      j["scores"] = "vt: -mean crop-pair distance; cosine: cosine of the mean over crops";
      break;
    case EvalProtocol::taoruijie:
      j["crop_samples"] = ps.crop_samples;
      j["crops"] = ps.num_crops;
      j["scores"] = "taoruijie: (full_a . full_b + mean crops_a . crops_b^T) / 2 of L2-normalised embeddings; "
                    "cosine: of the whole-utterance embeddings";
      break;
    case EvalProtocol::sliding:
      j["window_samples"] = ps.window_samples;
      j["step_samples"] = ps.step_samples;
      j["scores"] = "sliding: cosine of the mean window embeddings (averaged unnormalised)";
      break;
  }
  return j;
}

}  // namespace spk::recipe::eval_app
