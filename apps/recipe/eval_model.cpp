// spk_eval's model: the checkpoint read, the model built from the flags (and an spk checkpoint's saved config)
// and its weights imported; the VT scoring's normalisation the loss implies (see eval_app.h).
#include <cstdio>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/eval_app.h"
#include "apps/recipe/eval_fold_bn.h"
#include "apps/recipe/recipe_parts.h"
#include "losses/loss.h"

namespace spk::recipe::eval_app {

namespace {

using json = nlohmann::json;

// The keys of the recipe that describe the model: the only ones an spk checkpoint's saved config supplies
// (its device, lists and crop settings are the training run's, not this evaluation's).
json model_keys(const json& config) {
  json out = json::object();
  // (The moco / dino head sizes only let resolve_test_normalize build those losses.)
  for (const char* k : {"model", "encoder_type", "nOut", "n_mels", "log_input", "C", "frontend", "n_ceps", "trainfunc",
                        "sim_loss", "sinc_stride", "ssl_proj_layers", "ssl_proj_dim", "moco_queue", "dino_out",
                        "dino_hidden", "dino_bottleneck"})
    if (config.contains(k)) out[k] = config[k];
  return out;
}

Checkpoint read_model_file(const std::string& path) {
  try {
    return read_checkpoint(path);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    usage(std::string("--initial_model: ") + e.what());
  }
}

json checkpoint_info(const std::string& path, const Checkpoint& ck, const ImportResult& ir) {
  json info = {{"path", path},
               {"format", ir.source_format},
               {"entries", ir.model_entries},
               {"skipped", ir.skipped},
               {"extra", ir.extra}};
  if (ck.is_spk) {
    info["epoch"] = ck.state.epoch;
    auto c = ck.file.metadata.find("spk.commit");
    if (c != ck.file.metadata.end()) info["commit"] = c->second;
  }
  return info;
}

}  // namespace

LoadedModel load_eval_model(OptionParser& p, const std::string& path) {
  const Checkpoint ck = read_model_file(path);
  if (ck.is_spk) p.apply_defaults_from(model_keys(ck.state.config), OptionSource::checkpoint, path);
  const RecipeConfig rc = recipe_config(p);
  if (rc.model.empty())
    usage("--model: required (--initial_model '" + path + "' is not an spk checkpoint, so its metadata does not "
          "name the model)");
  const ModelConfig mc = model_config(rc);
  LoadedModel l;
  try {
    l.model = make_model(rc.model, mc);
  } catch (const Error& e) {
    usage(std::string("--model ") + rc.model + ": " + e.what());
  }
  ImportResult ir;
  try {
    ir = import_weights(ck, *l.model, nullptr);
  } catch (const Error& e) {
    usage(std::string("--initial_model '") + path + "' does not fit --model " + rc.model + " (--nOut " +
          std::to_string(rc.nOut) + ", --n_mels " + std::to_string(rc.n_mels) + ", --encoder_type " +
          rc.encoder_type + "): " + e.what());
  }
  std::fprintf(stderr, "%s: %s (%s): %s\n", kApp, path.c_str(), ir.source_format.c_str(), ir.summary().c_str());
  l.info = checkpoint_info(path, ck, ir);
  // Inference mode: spk_eval never trains or saves the model, so its BNs can be folded into their convs.
  l.model->eval();
  if (rc.fold_bn) l.info["folded_batch_norms"] = fold_batch_norms(*l.model);
  return l;
}

// The loss class's test_normalize decides (false only for proto).
bool resolve_test_normalize(const std::string& flag, const RecipeConfig& rc, std::string& why) {
  if (flag == "true" || flag == "false") {
    why = "--test_normalize " + flag;
    return flag == "true";
  }
  if (rc.trainfunc.empty()) {
    why = "no --trainfunc known: normalised, as every loss but proto";
    return true;
  }
  std::string err;
  for (int64_t m : {1, 2}) {   // the loss classes want 1 or >= 2 utterances per speaker; probe both
    LossConfig lc;
    lc.nOut = rc.nOut;
    lc.nClasses = 2;
    lc.nPerSpeaker = m;
    lc.sim_loss = rc.sim_loss;   // cel normalises as its L_sim does (not for proto)
    if (rc.trainfunc == "moco" || rc.trainfunc == "dino") {   // they refuse to build without their head (sizes)
      lc.ssl_proj_layers = rc.ssl_proj_layers;
      lc.ssl_proj_dim = rc.ssl_proj_dim;
      lc.moco_queue = rc.moco_queue;
      lc.dino_out = rc.dino_out;
      lc.dino_hidden = rc.dino_hidden;
      lc.dino_bottleneck = rc.dino_bottleneck;
    }
    try {
      const bool tn = make_loss(rc.trainfunc, lc)->test_normalize();
      why = "loss " + rc.trainfunc;
      return tn;
    } catch (const Error& e) {
      err = e.what();
    }
  }
  usage("--trainfunc '" + rc.trainfunc + "': " + err);
}

}  // namespace spk::recipe::eval_app
