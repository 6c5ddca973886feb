// spk_export (see export_app.h, docs/onnx.md).
#include "apps/onnx/export_app.h"

#include <cstdio>
#include <filesystem>

#include <onnx/checker.h>

#include "apps/onnx/onnx_export.h"
#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/recipe_parts.h"
#include "engine/io/atomic_file.h"

namespace spk::onnx_export {

namespace {

using recipe::UsageError;
namespace fs = std::filesystem;

// The recipe keys that describe the model and its front end: an spk checkpoint's saved config supplies those the
// flags leave unset (as spk_eval does, apps/recipe/eval_model.cpp).
nlohmann::json model_keys(const nlohmann::json& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* k : {"model", "encoder_type", "nOut", "n_mels", "log_input", "C", "frontend", "n_ceps",
                        "sinc_stride"})
    if (config.contains(k)) out[k] = config[k];
  return out;
}

recipe::Checkpoint read_model_file(const std::string& path) {
  if (path.empty()) throw UsageError("--initial_model: required (the checkpoint to export)");
  if (!fs::exists(path)) throw UsageError("--initial_model: no such file '" + path + "'");
  try {
    return recipe::read_checkpoint(path);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(std::string("--initial_model: ") + e.what());
  }
}

std::shared_ptr<SpeakerNet> load_model(const recipe::RecipeConfig& rc, const recipe::Checkpoint& ck) {
  if (rc.model.empty())
    throw UsageError("--model: required (--initial_model '" + ck.path + "' is not an spk checkpoint, so its metadata "
                     "does not name the model)");
  std::shared_ptr<SpeakerNet> model;
  try {
    model = make_model(rc.model, recipe::model_config(rc));
  } catch (const Error& e) {
    throw UsageError(std::string("--model ") + rc.model + ": " + e.what());
  }
  try {
    const recipe::ImportResult ir = recipe::import_weights(ck, *model, nullptr);
    std::fprintf(stderr, "%s: %s (%s): %s\n", kApp, ck.path.c_str(), ir.source_format.c_str(), ir.summary().c_str());
  } catch (const Error& e) {
    throw UsageError("--initial_model '" + ck.path + "' does not fit --model " + rc.model + ": " + e.what());
  }
  model->eval();
  return model;
}

}  // namespace

int run_spk_export(int argc, char** argv) {
  recipe::OptionParser p(kApp, "Export a model and its front end to ONNX (docs/onnx.md)", recipe::EVAL);
  p.add("onnx", recipe::OptionKind::str, "", "the ONNX file to write (input wav (batch, samples), output embedding)",
        "Export");
  if (!p.parse(argc, argv)) return 0;
  const std::string out = p.str("onnx");
  if (out.empty()) throw UsageError("--onnx: required (the ONNX file to write)");
  const recipe::Checkpoint ck = read_model_file(p.str("initial_model"));
  if (ck.is_spk) p.apply_defaults_from(model_keys(ck.state.config), recipe::OptionSource::checkpoint, ck.path);
  const recipe::RecipeConfig rc = recipe::recipe_config(p);
  // Checked before the export: a model the exporter does not cover fails here, naming it, and no file is written.
  try {
    if (!rc.model.empty()) check_covered(rc.model);
  } catch (const ExportRefused& e) {
    throw UsageError(std::string("--model: cannot export: ") + e.what());
  }
  const recipe::FrontEnd fe = recipe::frontend_config(rc);
  // The output is opened (a temporary file beside it, renamed over --onnx at the end) before the model is built, so
  // an unwritable path fails first; on any later error the temporary file is removed.
  std::unique_ptr<io::AtomicFile> file;
  try {
    file = std::make_unique<io::AtomicFile>(out, "--onnx " + out);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  const auto model = load_model(rc, ck);

  onnx::ModelProto mp;
  try {
    mp = export_onnx(*model, fe);
  } catch (const ExportRefused& e) {
    throw UsageError(std::string("cannot export: ") + e.what());
  }
  // ONNX's own checker before anything is written: a graph it rejects would be a bug of the exporter, and is
  // reported as one (status 1) rather than handed to a runtime.
  onnx::checker::check_model(mp);
  const std::string bytes = mp.SerializeAsString();
  file->write(bytes.data(), bytes.size());
  file->commit();
  std::fprintf(stderr, "%s: wrote %s (%s, front end %s, %d nodes, %d initializers, %zu bytes)\n", kApp, out.c_str(),
               model->name().c_str(), fe.str().c_str(), mp.graph().node_size(), mp.graph().initializer_size(),
               bytes.size());
  return 0;
}

}  // namespace spk::onnx_export
