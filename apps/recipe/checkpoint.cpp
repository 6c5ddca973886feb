// Checkpoints and weight import (see checkpoint.h).
#include "apps/recipe/checkpoint.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "apps/recipe/config.h"
#include "engine/io/atomic_file.h"
#include "engine/io/torch_checkpoint.h"
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

// A metadata entry that must be a JSON number (spk.lr, spk.margin, spk.adacos_scale).
double meta_number(const Checkpoint& ck, const std::string& key) {
  const nlohmann::json j = meta_json(ck, key);
  if (!j.is_number()) SPK_FAIL("checkpoint ", ck.path, ": metadata '", key, "' is not a number: ", j.dump());
  return j.get<double>();
}

// A metadata entry that must be a non-negative integer, as a decimal string (spk.epoch, spk.step).
int64_t meta_count(const Checkpoint& ck, const std::string& key) {
  const std::string& text = meta(ck, key);
  int64_t v = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0)
    SPK_FAIL("checkpoint ", ck.path, ": metadata '", key, "' is not a non-negative integer: '", text, "'");
  return v;
}

// safetensors starts with a little-endian u64 header length and then the JSON header's '{'.
bool looks_like_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char head[9] = {};
  return f.read(head, 9) && head[8] == '{';
}

}  // namespace

NamedTensors training_parameters(const SpeakerNet& model, const Loss& loss, const Loss* loss2) {
  NamedTensors p = prefixed(model.named_parameters(), kModelPrefix);
  // A frozen loss parameter (MoCo's key encoder and head, losses/momentum.h) moves by EMA, not by the optimiser.
  for (auto& e : prefixed(loss.named_parameters(), kLossPrefix))
    if (e.second.requires_grad()) p.push_back(std::move(e));
  if (loss2)
    for (auto& e : prefixed(loss2->named_parameters(), kSecondLossPrefix)) p.push_back(std::move(e));
  return p;
}

void save_checkpoint(const std::string& path, const SpeakerNet& model, const Loss& loss, const Optimizer& optim,
                     const TrainingState& st, const Loss* loss2) {
  NamedTensors all = prefixed(model.state(), kModelPrefix);
  for (auto& e : prefixed(loss.state(), kLossPrefix)) all.push_back(std::move(e));
  if (loss2)
    for (auto& e : prefixed(loss2->state(), kSecondLossPrefix)) all.push_back(std::move(e));
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
  if (!st.loss_scaler.is_null()) m["spk.loss_scaler"] = st.loss_scaler.dump();
  if (loss.has_margin()) m["spk.margin"] = nlohmann::json(loss.margin()).dump();
  if (auto* ada = dynamic_cast<const AdaCosLoss*>(&loss)) m["spk.adacos_scale"] = nlohmann::json(ada->scale()).dump();
  if (auto* ada = dynamic_cast<const AdaCosLoss*>(loss2))
    m["spk.adacos_scale2"] = nlohmann::json(ada->scale()).dump();
  fs::create_directories(fs::path(path).parent_path());
  save_safetensors(path, all, m);
}

Checkpoint read_checkpoint(const std::string& path) {
  if (!fs::exists(path)) throw UsageError("--initial_model / checkpoint: no such file '" + path + "'");
  Checkpoint ck;
  ck.path = path;
  // A torch.save file (.model / .pt / .pth) from the anchors. A file with such a name that is neither that nor
  // safetensors goes to the torch reader too, whose error says what it expected.
  const std::string ext = fs::path(path).extension().string();
  const bool torch_name = ext == ".model" || ext == ".pt" || ext == ".pth";
  if (io::is_torch_checkpoint(path) || (torch_name && !looks_like_safetensors(path))) {
    io::TorchCheckpoint t = io::load_torch_checkpoint(path);
    ck.file.tensors = std::move(t.tensors);
    for (auto& [k, v] : t.values) ck.file.metadata.emplace("torch." + k, std::move(v));
    ck.format = "PyTorch " + t.format;
    return ck;
  }
  ck.file = load_safetensors(path);
  auto f = ck.file.metadata.find("spk.format");
  if (f == ck.file.metadata.end()) return ck;   // a state_dict from elsewhere
  if (f->second != kCheckpointFormat)
    SPK_FAIL("checkpoint ", path, ": format '", f->second, "' is not ", kCheckpointFormat,
             " (written by another spk version)");
  ck.is_spk = true;
  TrainingState& s = ck.state;
  s.epoch = meta_count(ck, "spk.epoch");
  s.step = meta_count(ck, "spk.step");
  // Every metadata value is checked for its type here, so no nlohmann exception (or a bad value) reaches the
  // trainer: the file's content is not trusted (tests/fuzz/fuzz_checkpoint_resume.cpp).
  const auto rng = meta_json(ck, "spk.rng");
  for (const char* k : {"seed", "offset"})
    if (!rng.is_object() || !rng.contains(k) || !rng[k].is_number_unsigned())
      SPK_FAIL("checkpoint ", path, ": metadata 'spk.rng' needs unsigned integers \"seed\" and \"offset\": ", rng.dump());
  s.rng_seed = rng["seed"].get<uint64_t>();
  s.rng_offset = rng["offset"].get<uint64_t>();
  s.lr = meta_number(ck, "spk.lr");
  s.config = meta_json(ck, "spk.config");
  if (!s.config.is_object()) SPK_FAIL("checkpoint ", path, ": metadata 'spk.config' is not a JSON object");
  s.eval = meta_json(ck, "spk.eval");
  if (ck.file.metadata.count("spk.loss_scaler")) s.loss_scaler = meta_json(ck, "spk.loss_scaler");
  try {
    s.speakers = audio::LabelMap::from_metadata(ck.file.metadata);
  } catch (const Error& e) {
    SPK_FAIL("checkpoint ", path, ": ", e.what());
  }
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
  // last.safetensors first: on a tie with the numbered file (same content) it is kept, so the resume source is a
  // numbered file only when last.safetensors is behind it (a run stopped between the two writes of an epoch).
  for (const std::string& path : {last_checkpoint_path(save_path), best_numbered}) {
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

void copy_checkpoint(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) SPK_FAIL("checkpoint ", from, ": cannot open it to copy it to ", to);
  io::AtomicFile out(to, "checkpoint " + to);
  std::vector<char> buf(size_t(1) << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    if (in.gcount() > 0) out.write(buf.data(), size_t(in.gcount()));
  }
  if (in.bad()) SPK_FAIL("checkpoint ", from, ": read error while copying it to ", to);
  out.commit();
}

std::vector<std::string> remove_interrupted_writes(const std::string& save_path) {
  const fs::path dir = fs::path(save_path) / "model";
  std::vector<std::string> removed;
  if (!fs::is_directory(dir)) return removed;
  // engine/io/atomic_file.h names its temporary file "<target>.tmp.<pid>". One whose writer is still alive (a
  // second process on the same --save_path) is left alone; kill(pid, 0) fails with ESRCH when there is none.
  static const std::regex temporary(R"((model\d{9}|last)\.safetensors\.tmp\.(\d+))");
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string fname = e.path().filename().string();
    std::smatch m;
    if (!std::regex_match(fname, m, temporary)) continue;
    const long long pid = std::stoll(m[2]);
    if (pid > 0 && pid < (1ll << 22) && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) {
      std::error_code ec;
      if (fs::remove(e.path(), ec)) removed.push_back(e.path().string());
    }
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

void restore_training(const Checkpoint& ck, SpeakerNet& model, Loss& loss, Optimizer& optim, Loss* loss2) {
  SPK_CHECK(ck.is_spk, "checkpoint ", ck.path, ": not an spk training checkpoint");
  load_state(model, strip(ck.file.tensors, kModelPrefix), {}, ck.path + " (model)");
  load_state(loss, strip(ck.file.tensors, kLossPrefix), {}, ck.path + " (loss)");
  const NamedTensors second = strip(ck.file.tensors, kSecondLossPrefix);
  if (loss2) load_state(*loss2, second, {}, ck.path + " (second loss, --trainfunc2)");
  else SPK_CHECK(second.empty(), "checkpoint ", ck.path, ": has second-loss entries (", second.front().first,
                 ", ...) but this run has no --trainfunc2");
  try {
    optim.load_state(ck.file.tensors);
    optim.set_lr(ck.state.lr);
    if (ck.file.metadata.count("spk.margin") && loss.has_margin()) loss.set_margin(meta_number(ck, "spk.margin"));
    const std::pair<Loss*, const char*> adacos[] = {{&loss, "spk.adacos_scale"}, {loss2, "spk.adacos_scale2"}};
    for (const auto& [l, key] : adacos)
      if (auto* ada = dynamic_cast<AdaCosLoss*>(l); ada && ck.file.metadata.count(key)) {
        const double scale = meta_number(ck, key);
        SPK_CHECK(std::isfinite(scale) && scale > 0, key, " ", scale, " must be finite and positive");
        ada->set_scale(scale);
      }
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.find(ck.path) != std::string::npos) throw;
    SPK_FAIL("checkpoint ", ck.path, ": ", what);
  }
}

}  // namespace spk::recipe
