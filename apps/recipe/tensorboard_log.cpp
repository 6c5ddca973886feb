// spk_train's TensorBoard log (tensorboard_log.h).
#include "apps/recipe/tensorboard_log.h"

#include <filesystem>

#include "apps/recipe/tensorboard_det.h"

namespace spk::recipe {

TrainTensorBoard::TrainTensorBoard(const std::string& save_path, int64_t step,
                                   std::function<void(const std::string&)> log)
    : writer_(std::make_unique<tensorboard::EventWriter>((std::filesystem::path(save_path) / "tensorboard").string())),
      log_(std::move(log)) {
  writer_->session_start(step + 1);
}

template <class F>
void TrainTensorBoard::guarded(F&& f) {
  if (!writer_) return;
  try {
    f();
  } catch (const Error& e) {
    writer_.reset();
    if (log_) log_(std::string(e.what()) + "; TensorBoard logging stops here, training goes on");
  }
}

void TrainTensorBoard::on_step(const StepProgress& p, int64_t step) {
  if (step % kInterval != 0 && p.batch != p.num_batches) return;
  std::vector<std::pair<std::string, float>> v = {{"train/loss", float(p.loss)}};
  if (p.metric_kind != MetricKind::none)
    v.emplace_back(p.metric_kind == MetricKind::eer ? "train/eer" : "train/accuracy", float(p.metric));
  v.emplace_back("train/lr", float(p.lr));
  v.emplace_back("train/samples_per_sec", float(p.samples_per_s));
  guarded([&] { writer_->scalars(step, v); });
}

void TrainTensorBoard::on_eval(int64_t step, const nlohmann::json& eval, const std::vector<DetPoint>& det) {
  if (!eval.is_object() || !eval.contains("vt_eer")) return;
  guarded([&] {
    writer_->scalars(step, {{"eval/eer", eval["vt_eer"].get<float>()}, {"eval/min_dcf", eval["min_dcf"].get<float>()}});
    if (!det.empty()) {
      constexpr int kSize = 320;
      writer_->image(step, "eval/det", kSize, kSize, det_png(det, eval["vt_eer"].get<double>(), kSize));
    }
  });
}

}  // namespace spk::recipe
