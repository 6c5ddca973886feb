// spk_convert's logic (see the header).
#include "apps/recipe/convert.h"

#include <filesystem>
#include <set>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/safetensors.h"

namespace spk::recipe {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// Metadata values can be long JSON (spk.config): the listing shows their start.
std::string shorten(const std::string& v) {
  constexpr size_t kMax = 100;
  return v.size() <= kMax ? v : v.substr(0, kMax) + "... (" + std::to_string(v.size()) + " characters)";
}

}  // namespace

StateFile read_state_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UsageError("IN: no such file '" + path + "'");
  if (std::filesystem::is_directory(path, ec)) throw UsageError("IN: '" + path + "' is a directory, not a file");
  StateFile out;
  out.path = path;
  try {
    if (io::is_torch_checkpoint(path)) {
      io::TorchCheckpoint ck = io::load_torch_checkpoint(path);
      out.format = "torch (" + ck.format + ")";
      out.tensors = std::move(ck.tensors);
      out.values = std::move(ck.values);
      return out;
    }
    SafetensorsFile f = load_safetensors(path);
    out.tensors = std::move(f.tensors);
    out.values = std::move(f.metadata);
    out.format = out.values.count("spk.format") ? "spk checkpoint" : "safetensors";
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError("IN '" + path + "' is neither a readable PyTorch checkpoint nor a safetensors file: " + e.what());
  }
  return out;
}

OutputFormat output_format(const std::string& path, const std::string& what) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".safetensors") return OutputFormat::safetensors;
  if (ext == ".model" || ext == ".pt" || ext == ".pth") return OutputFormat::torch;
  throw UsageError(what + " '" + path + "': unknown extension '" + ext +
                   "' (.safetensors for safetensors; .model, .pt or .pth for PyTorch)");
}

Converted select_tensors(const StateFile& in, const ConvertOptions& o) {
  Converted out;
  NamedTensors kept;
  int64_t optim = 0;
  for (const auto& [n, t] : in.tensors) {
    if (in.format == "spk checkpoint" && starts_with(n, "optim.")) ++optim;
    else kept.emplace_back(n, t);
  }
  if (optim > 0) out.notes.push_back("left out " + std::to_string(optim) + " optimiser state tensors (optim.*)");

  if (o.model_only) {
    // voxceleb_trainer / spk name the model "__S__."; TaoRuijie's ECAPA-TDNN "speaker_encoder.".
    std::string prefix;
    for (const char* p : {"__S__.", "speaker_encoder."})
      for (const auto& [n, _] : kept)
        if (prefix.empty() && starts_with(n, p)) prefix = p;
    if (prefix.empty())
      throw UsageError("--model_only: '" + in.path + "' has no model entries (names starting with __S__. or "
                       "speaker_encoder.); use --strip_prefix/--add_prefix to rename a bare state_dict instead");
    NamedTensors model;
    for (auto& e : kept)
      if (starts_with(e.first, prefix)) model.push_back(std::move(e));
    out.notes.push_back("--model_only: kept the " + std::to_string(model.size()) + " " + prefix + " entries, left out " +
                        std::to_string(kept.size() - model.size()) + " others");
    kept = std::move(model);
  }
  if (!o.strip_prefix.empty()) {
    int64_t matched = 0;
    for (auto& [n, _] : kept)
      if (starts_with(n, o.strip_prefix) && n.size() > o.strip_prefix.size()) n = n.substr(o.strip_prefix.size()), ++matched;
    if (matched == 0)
      throw UsageError("--strip_prefix '" + o.strip_prefix + "' matches none of the " + std::to_string(kept.size()) +
                       " names" + (kept.empty() ? std::string() : " (the first is '" + kept.front().first + "')"));
  }
  if (!o.add_prefix.empty())
    for (auto& [n, _] : kept) n = o.add_prefix + n;

  std::set<std::string> seen;
  for (const auto& [n, _] : kept)
    if (!seen.insert(n).second)
      throw UsageError("--strip_prefix '" + o.strip_prefix + "' makes two entries named '" + n + "'");
  if (kept.empty()) throw UsageError("IN '" + in.path + "' has no tensors to write");
  out.tensors = std::move(kept);
  return out;
}

std::vector<std::string> list_lines(const StateFile& in) {
  std::vector<std::string> lines;
  int64_t elements = 0;
  for (const auto& [n, t] : in.tensors) {
    lines.push_back(n + " " + dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    elements += t.numel();
  }
  for (const auto& [k, v] : in.values) lines.push_back(k + " = " + shorten(v));
  lines.push_back(std::to_string(in.tensors.size()) + " tensors (" + std::to_string(elements) + " elements), " +
                  std::to_string(in.values.size()) + " other values; " + in.format);
  return lines;
}

}  // namespace spk::recipe
