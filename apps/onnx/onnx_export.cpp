// The whole export: graph input, front end, model, output, model metadata (see onnx_export.h).
#include "apps/onnx/onnx_export.h"

#include "apps/onnx/onnx_frontend.h"
#include "apps/onnx/onnx_graph.h"

namespace spk::onnx_export {

onnx::ModelProto export_onnx(const SpeakerNet& model, const recipe::FrontEnd& frontend) {
  // Refuse before any work, so the message names the model rather than a layer deep inside it.
  check_covered(model.name());
  SPK_CHECK(frontend.width() == model.n_mels(), "onnx export: the front end gives ", frontend.width(),
            " rows but model ", model.name(), " takes ", model.n_mels());
  onnx::ModelProto mp;
  mp.set_ir_version(kIrVersion);
  mp.set_producer_name("spk");
  mp.set_producer_version("spk_export");
  mp.set_doc_string("spk " + model.name() + ": wav (batch, samples) f32 at " +
                    std::to_string(int64_t(frontend.fbank.sample_rate)) + " Hz -> embedding (batch, " +
                    std::to_string(model.embedding_dim()) + "), not L2-normalised; front end " + frontend.str());
  auto* opset = mp.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  onnx::GraphProto* gp = mp.mutable_graph();
  gp->set_name("spk_" + model.name());
  Graph g(gp, model);
  g.input("wav", {std::string("batch"), std::string("samples")});
  const std::string feats = front_end(g, frontend, "wav");
  g.output(emit_model(g, model, feats), "embedding", {std::string("batch"), model.embedding_dim()});
  auto* meta = mp.add_metadata_props();
  meta->set_key("spk.model");
  meta->set_value(model.name());
  meta = mp.add_metadata_props();
  meta->set_key("spk.frontend");
  meta->set_value(frontend.str());
  return mp;
}

}  // namespace spk::onnx_export
