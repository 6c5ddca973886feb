// Checkpoints and weight import (see checkpoint.h).
#include "apps/recipe/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <regex>

#include "apps/recipe/config.h"
#include "engine/optim.h"
#include "losses/adasoftmax.h"
#include "losses/loss.h"
#include "nets/model.h"

#ifndef SPK_GIT_SHA
#define SPK_GIT_SHA "unknown"
#endif

namespace fs = std::filesystem;

namespace spk::recipe {

namespace {

constexpr const char* kModelPrefix = "__S__.";
constexpr const char* kLossPrefix = "__L__.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

NamedTensors prefixed(const NamedTensors& in, const std::string& prefix) {
  NamedTensors out;
  out.reserve(in.size());
  for (const auto& [n, t] : in) out.emplace_back(prefix + n, t);
  return out;
}

// Entries of `all` whose names start with `prefix`, with the prefix removed.
NamedTensors strip(const NamedTensors& all, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [n, t] : all)
    if (starts_with(n, prefix)) out.emplace_back(n.substr(prefix.size()), t);
  return out;
}

const std::string& meta(const Checkpoint& ck, const std::string& key) {
  auto it = ck.file.metadata.find(key);
  if (it == ck.file.metadata.end()) SPK_FAIL("checkpoint ", ck.path, ": metadata has no '", key, "'");
  return it->second;
}

nlohmann::json meta_json(const Checkpoint& ck, const std::string& key) {
  try {
    return nlohmann::json::parse(meta(ck, key));
  } catch (const nlohmann::json::exception& e) {
    SPK_FAIL("checkpoint ", ck.path, ": metadata '", key, "' is not valid JSON: ", e.what());
  }
}

}  // namespace

NamedTensors training_parameters(const SpeakerNet& model, const Loss& loss) {
  NamedTensors p = prefixed(model.named_parameters(), kModelPrefix);
  for (auto& e : prefixed(loss.named_parameters(), kLossPrefix)) p.push_back(std::move(e));
  return p;
}

void save_checkpoint(const std::string& path, const SpeakerNet& model, const Loss& loss, const Optimizer& optim,
                     const TrainingState& st) {
  NamedTensors all = prefixed(model.state(), kModelPrefix);
  for (auto& e : prefixed(loss.state(), kLossPrefix)) all.push_back(std::move(e));
  for (auto& e : optim.state()) all.push_back(std::move(e));
  Metadata m = st.speakers.to_metadata();
  m["spk.format"] = kCheckpointFormat;
  m["spk.epoch"] = std::to_string(st.epoch);
  m["spk.step"] = std::to_string(st.step);
  m["spk.rng"] = nlohmann::json{{"seed", st.rng_seed}, {"offset", st.rng_offset}}.dump();
  m["spk.lr"] = nlohmann::json(st.lr).dump();
  m["spk.config"] = st.config.dump();
  m["spk.eval"] = st.eval.dump();
  m["spk.commit"] = SPK_GIT_SHA;
  if (loss.has_margin()) m["spk.margin"] = nlohmann::json(loss.margin()).dump();
  if (auto* ada = dynamic_cast<const AdaCosLoss*>(&loss)) m["spk.adacos_scale"] = nlohmann::json(ada->scale()).dump();
  fs::create_directories(fs::path(path).parent_path());
  save_safetensors(path, all, m);
}

Checkpoint read_checkpoint(const std::string& path) {
  if (!fs::exists(path)) throw UsageError("--initial_model / checkpoint: no such file '" + path + "'");
  Checkpoint ck;
  ck.path = path;
  ck.file = load_safetensors(path);
  auto f = ck.file.metadata.find("spk.format");
  if (f == ck.file.metadata.end()) return ck;   // a state_dict from elsewhere
  if (f->second != kCheckpointFormat)
    SPK_FAIL("checkpoint ", path, ": format '", f->second, "' is not ", kCheckpointFormat,
             " (written by another spk version)");
  ck.is_spk = true;
  TrainingState& s = ck.state;
  try {
    s.epoch = std::stoll(meta(ck, "spk.epoch"));
    s.step = std::stoll(meta(ck, "spk.step"));
  } catch (const std::logic_error&) {
    SPK_FAIL("checkpoint ", path, ": spk.epoch / spk.step are not integers");
  }
  const auto rng = meta_json(ck, "spk.rng");
  s.rng_seed = rng.at("seed").get<uint64_t>();
  s.rng_offset = rng.at("offset").get<uint64_t>();
  s.lr = meta_json(ck, "spk.lr").get<double>();
  s.config = meta_json(ck, "spk.config");
  s.eval = meta_json(ck, "spk.eval");
  s.speakers = audio::LabelMap::from_metadata(ck.file.metadata);
  return ck;
}

std::string numbered_checkpoint_path(const std::string& save_path, int64_t epoch) {
  char name[64];
  std::snprintf(name, sizeof name, "model%09lld.safetensors", static_cast<long long>(epoch));
  return (fs::path(save_path) / "model" / name).string();
}

std::string last_checkpoint_path(const std::string& save_path) {
  return (fs::path(save_path) / "model" / "last.safetensors").string();
}

std::string find_resume_checkpoint(const std::string& save_path) {
  const fs::path dir = fs::path(save_path) / "model";
  if (!fs::is_directory(dir)) return "";
  // Only two files can be the newest: last.safetensors and the numbered file with the highest epoch in its name
  // (numbered files are never replaced, so the name tells their epoch without reading them). Leftover temporary
  // files of an interrupted write ("last.safetensors.tmp.123") match neither name.
  static const std::regex numbered(R"(model(\d{9})\.safetensors)");
  std::string best_numbered;
  long long best_numbered_epoch = -1;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string fname = e.path().filename().string();
    std::smatch m;
    if (std::regex_match(fname, m, numbered) && std::stoll(m[1]) > best_numbered_epoch) {
      best_numbered_epoch = std::stoll(m[1]);
      best_numbered = e.path().string();
    }
  }
  std::string best;
  int64_t best_epoch = -1;
  // The numbered file first: on a tie with last.safetensors (same content) it is kept.
  for (const std::string& path : {best_numbered, last_checkpoint_path(save_path)}) {
    if (path.empty() || !fs::exists(path)) continue;
    const Checkpoint ck = read_checkpoint(path);   // unreadable: an error naming it, never silently skipped
    if (!ck.is_spk) SPK_FAIL("checkpoint ", path, " has no spk metadata; move it out of ", dir.string());
    if (ck.state.epoch > best_epoch) {
      best_epoch = ck.state.epoch;
      best = path;
    }
  }
  return best;
}

void restore_training(const Checkpoint& ck, SpeakerNet& model, Loss& loss, Optimizer& optim) {
  SPK_CHECK(ck.is_spk, "checkpoint ", ck.path, ": not an spk training checkpoint");
  load_state(model, strip(ck.file.tensors, kModelPrefix), {}, ck.path + " (model)");
  load_state(loss, strip(ck.file.tensors, kLossPrefix), {}, ck.path + " (loss)");
  optim.load_state(ck.file.tensors);
  optim.set_lr(ck.state.lr);
  auto m = ck.file.metadata.find("spk.margin");
  if (m != ck.file.metadata.end() && loss.has_margin()) loss.set_margin(nlohmann::json::parse(m->second).get<double>());
  auto a = ck.file.metadata.find("spk.adacos_scale");
  if (a != ck.file.metadata.end())
    if (auto* ada = dynamic_cast<AdaCosLoss*>(&loss)) ada->set_scale(nlohmann::json::parse(a->second).get<double>());
}

ImportResult import_weights(const Checkpoint& ck, SpeakerNet& model, Loss* loss) {
  ImportResult r;
  const NamedTensors& all = ck.file.tensors;
  auto has_prefix = [&](const std::string& p) {
    for (const auto& [n, t] : all)
      if (starts_with(n, p)) return true;
    return false;
  };
  // Which naming scheme: the prefixes of the reference implementations, else bare model names.
  std::string model_prefix, loss_prefix;
  if (has_prefix(kModelPrefix)) {
    model_prefix = kModelPrefix, loss_prefix = kLossPrefix;
    r.source_format = ck.is_spk ? "spk" : "voxceleb_trainer";
  } else if (has_prefix("speaker_encoder.")) {
    model_prefix = "speaker_encoder.", loss_prefix = "speaker_loss.";
    r.source_format = "ECAPA-TDNN (TaoRuijie)";
  } else {
    loss_prefix = "projection.";
    r.source_format = has_prefix("projection.") ? "wespeaker" : "bare";
  }
  NamedTensors model_entries;
  for (const auto& [n, t] : all) {
    if (!model_prefix.empty() && !starts_with(n, model_prefix)) continue;
    if (model_prefix.empty() && (starts_with(n, loss_prefix) || starts_with(n, "optim."))) continue;
    const std::string name = n.substr(model_prefix.size());
    if (starts_with(name, "torchfb.") || starts_with(name, "torchfbank.")) {
      r.skipped.push_back(n);
      continue;
    }
    model_entries.emplace_back(name, t);
  }
  if (model_entries.empty())
    SPK_FAIL("--initial_model ", ck.path, ": no model weights found (expected names like '", kModelPrefix,
             "<layer>' or the model's own state_dict names)");
  load_state(model, model_entries, {}, "--initial_model " + ck.path);
  r.model_entries = int64_t(model_entries.size());

  if (!loss) return r;
  const NamedTensors loss_entries = strip(all, loss_prefix);
  if (loss_entries.empty()) {
    r.loss_note = "the file has no loss weights; the loss starts from its initialisation";
    return r;
  }
  // Compare before loading so that a head of another size (new speakers) is a note, not an error.
  const NamedTensors mine = loss->state();
  std::string why;
  for (const auto& [n, t] : mine) {
    const Tensor* src = nullptr;
    for (const auto& [sn, st] : loss_entries)
      if (sn == n) src = &st;
    if (!src) {
      why = "the file's loss has no '" + n + "' (another loss)";
      break;
    }
    if (src->shape() != t.shape()) {
      why = "'" + n + "' is " + shape_str(src->shape()) + " in the file but " + shape_str(t.shape()) +
            " here (another class count?)";
      break;
    }
  }
  if (why.empty() && loss_entries.size() != mine.size()) why = "the file's loss has other entries (another loss)";
  if (!why.empty()) {
    r.loss_note = "loss weights not loaded, re-initialised: " + why;
    return r;
  }
  load_state(*loss, loss_entries, {}, "--initial_model " + ck.path + " (loss)");
  r.loss_loaded = true;
  return r;
}

}  // namespace spk::recipe
