// spk_train's TensorBoard log: what it records, when, and under which tags (docs/recipes.md, "TensorBoard").
//
//   train/loss, train/accuracy (TAcc, %) or train/eer (TEER, %, for the metric losses; neither for a loss with
//   no training metric), train/lr,
//   train/samples_per_sec   every kInterval optimiser steps and at the last step of every epoch; the loss, the
//                           metric and samples/s are the epoch's running means, as on the progress line
//   eval/eer (VEER, %), eval/min_dcf, and the image eval/det (det_png)   at every evaluation
// The step is the optimiser step count (checkpointed, so a resumed run continues it). Every run writes a new file
// that starts with a SessionLog START at its first step: TensorBoard's EventAccumulator takes a run's first START
// as its start and each later one as a restart, dropping the points at its step and beyond that the stopped run
// wrote (the work the resume redoes). Older TensorBoards purge at every START, which is as right.
//
// The log is an aid, not a record (train_log.csv is): when a write fails (a full disk), the run says so once and
// continues without TensorBoard rather than stopping hours of training.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/recipe/tensorboard.h"
#include "apps/recipe/trainer.h"
#include "losses/verification.h"

namespace spk::recipe {

class TrainTensorBoard {
 public:
  static constexpr int64_t kInterval = 10;

  // Opens <save_path>/tensorboard/events.out.tfevents.*; throws spk::Error when it cannot. step: the optimiser
  // steps done before this run (0 for a fresh run).
  TrainTensorBoard(const std::string& save_path, int64_t step,
                   std::function<void(const std::string&)> log);

  void on_step(const StepProgress& p, int64_t step);
  // eval: the figures of spk_train's evaluation ({"vt_eer", "min_dcf", ...}); det: its DET curve (may be empty).
  void on_eval(int64_t step, const nlohmann::json& eval, const std::vector<DetPoint>& det);
  std::string path() const { return writer_ ? writer_->path() : std::string(); }

 private:
  template <class F>
  void guarded(F&& f);
  std::unique_ptr<tensorboard::EventWriter> writer_;
  std::function<void(const std::string&)> log_;
};

}  // namespace spk::recipe
