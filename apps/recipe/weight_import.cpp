// Importing weights trained elsewhere (--initial_model, spk_eval): which naming scheme a state_dict uses, and
// which of its entries belong to the model, to the loss, to a front end spk computes outside the model, or to
// heads spk does not have. Declared in checkpoint.h (ImportResult, import_weights).
//
// The anchors wrap the same model names in different prefixes: voxceleb_trainer "__S__." (loss "__L__."),
// TaoRuijie / HardNeg ECAPA "speaker_encoder." (loss "speaker_loss."), DistributedDataParallel "module.",
// wespeaker bare names with the margin head as "projection.", and checkpoints that nest the state_dict in a
// dict ({'model': ..., 'optimizer': ...}, flattened by the reader to "model.<name>"). Rather than a list of
// every combination, the model prefix is found from the model itself: the prefix under which most of the
// model's own state names exist.
#include <map>
#include <set>

#include "apps/recipe/checkpoint.h"
#include "losses/loss.h"
#include "nets/model.h"

namespace spk::recipe {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Buffers of the anchors' in-model front ends (mel filterbank, window, pre-emphasis filter): spk computes the
// front end outside the model (docs/models.md), so these have no counterpart.
bool is_front_end(const std::string& name) {
  return starts_with(name, "torchfb.") || starts_with(name, "torchfbank.") || starts_with(name, "instancenorm.");
}

// The prefix P ("" or ending in '.') such that P + name exists for the most names of `mine`; ties go to the
// shorter prefix. Returns the number of names found in *hits.
std::string find_model_prefix(const NamedTensors& all, const NamedTensors& mine, size_t* hits) {
  std::map<std::string, std::set<std::string>> found;   // prefix -> model names found under it
  for (const auto& [key, t] : all)
    for (const auto& [name, u] : mine) {
      if (!ends_with(key, name)) continue;
      const size_t cut = key.size() - name.size();
      if (cut == 0 || key[cut - 1] == '.') found[key.substr(0, cut)].insert(name);
    }
  std::string best;
  *hits = 0;
  for (const auto& [prefix, names] : found)
    if (names.size() > *hits || (names.size() == *hits && prefix.size() < best.size())) {
      best = prefix;
      *hits = names.size();
    }
  return best;
}

std::string loss_prefix_for(const std::string& model_prefix) {
  if (ends_with(model_prefix, "__S__.")) return model_prefix.substr(0, model_prefix.size() - 6) + "__L__.";
  if (ends_with(model_prefix, "speaker_encoder."))
    return model_prefix.substr(0, model_prefix.size() - 16) + "speaker_loss.";
  return model_prefix + "projection.";   // wespeaker's margin head
}

std::string describe(const std::string& prefix, bool is_spk, bool has_projection) {
  if (is_spk) return "spk";
  std::string what, canonical;
  if (ends_with(prefix, "__S__.")) what = "voxceleb_trainer", canonical = "__S__.";
  else if (ends_with(prefix, "speaker_encoder.")) what = "ECAPA-TDNN (TaoRuijie)", canonical = "speaker_encoder.";
  else what = has_projection ? "wespeaker" : "bare";
  return prefix == canonical ? what : what + ", names under '" + prefix + "'";
}

// Loads `entries` into `loss` when they are exactly its state; otherwise returns why not (a head of another size,
// new speakers, is a note, not an error) and the loss keeps its initialisation.
std::string load_loss_if_matching(Loss& loss, const NamedTensors& entries, const std::string& where) {
  if (entries.empty()) return "the file has no weights for it; it starts from its initialisation";
  const NamedTensors loss_state = loss.state();
  std::string why;
  for (const auto& [n, t] : loss_state) {
    const Tensor* src = nullptr;
    for (const auto& [sn, st] : entries)
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
  if (why.empty() && entries.size() != loss_state.size()) why = "the file's loss has other entries (another loss)";
  if (!why.empty()) return "weights not loaded, re-initialised: " + why;
  load_state(loss, entries, {}, where);
  return "";
}

}  // namespace

ImportResult import_weights(const Checkpoint& ck, SpeakerNet& model, Loss* loss, Loss* loss2) {
  ImportResult r;
  const NamedTensors& all = ck.file.tensors;
  const NamedTensors mine = model.state();
  size_t hits = 0;
  const std::string model_prefix = find_model_prefix(all, mine, &hits);
  if (hits == 0)
    SPK_FAIL("--initial_model ", ck.path, ": no model weights found (none of the model's names such as '",
             mine.empty() ? std::string("?") : mine.front().first,
             "' occurs in the file, bare or under a prefix such as '__S__.', 'speaker_encoder.', 'module.' or "
             "'model.'; `spk_convert --list` shows the file's names)");
  const std::string loss_prefix = loss_prefix_for(model_prefix);
  std::map<std::string, const Tensor*> my_names;
  for (const auto& [n, t] : mine) my_names.emplace(n, &t);

  NamedTensors model_entries, loss_entries, loss2_entries;
  bool has_projection = false;
  for (const auto& [key, t] : all) {
    if (ck.is_spk && starts_with(key, "optim.")) continue;   // spk's own optimiser state
    if (ck.is_spk && starts_with(key, kSecondLossPrefix)) {   // --trainfunc2's loss
      loss2_entries.emplace_back(key.substr(std::string(kSecondLossPrefix).size()), t);
      continue;
    }
    if (starts_with(key, loss_prefix)) {
      loss_entries.emplace_back(key.substr(loss_prefix.size()), t);
      has_projection = has_projection || ends_with(loss_prefix, "projection.");
      continue;
    }
    const std::string name = starts_with(key, model_prefix) ? key.substr(model_prefix.size()) : std::string();
    auto mine_it = name.empty() ? my_names.end() : my_names.find(name);
    if (mine_it == my_names.end()) {
      (is_front_end(name) ? r.skipped : r.extra).push_back(key);
      continue;
    }
    // A checkpoint saved in another floating precision (half, double) loads with a conversion, as PyTorch's
    // load_state_dict copies with copy_().
    const DType want = mine_it->second->dtype();
    if (t.dtype() != want && is_floating(t.dtype()) && is_floating(want)) {
      model_entries.emplace_back(name, t.to(want));
      ++r.converted;
    } else {
      model_entries.emplace_back(name, t);
    }
  }
  r.source_format = describe(model_prefix, ck.is_spk, has_projection);
  load_state(model, model_entries, {}, "--initial_model " + ck.path);
  r.model_entries = int64_t(model_entries.size());

  if (loss2) {
    r.loss2_note = load_loss_if_matching(*loss2, loss2_entries, "--initial_model " + ck.path + " (second loss)");
    r.loss2_loaded = r.loss2_note.empty();
    if (!r.loss2_loaded) r.loss2_note = "second loss (--trainfunc2): " + r.loss2_note;
  }
  if (!loss) return r;
  if (loss_entries.empty()) {
    r.loss_note = "the file has no loss weights; the loss starts from its initialisation";
    return r;
  }
  r.loss_note = load_loss_if_matching(*loss, loss_entries, "--initial_model " + ck.path + " (loss)");
  r.loss_loaded = r.loss_note.empty();
  if (!r.loss_loaded) r.loss_note = "loss " + r.loss_note;
  return r;
}

std::string ImportResult::summary() const {
  std::string s = std::to_string(model_entries) + " model tensors loaded";
  if (converted) s += ", " + std::to_string(converted) + " converted to the model's precision";
  if (!skipped.empty()) s += ", " + std::to_string(skipped.size()) + " front-end buffers skipped";
  if (!extra.empty()) {
    s += "; skipped " + std::to_string(extra.size()) + " entries the model does not have:";
    const size_t shown = std::min<size_t>(extra.size(), 6);
    for (size_t i = 0; i < shown; ++i) s += (i ? ", " : " ") + extra[i];
    if (shown < extra.size()) s += ", ...";
  }
  return s;
}

}  // namespace spk::recipe
