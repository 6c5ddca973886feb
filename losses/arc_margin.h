// arc_margin: wespeaker's ArcMarginProduct (wespeaker/models/projections.py) followed by cross-entropy.
// Same as aamsoftmax except where wespeaker differs (its ArcMarginProduct against voxceleb_trainer
// loss/aamsoftmax.py):
//   sin = sqrt(1 − cos²) with no clamp (NaN if rounding pushes the target |cos| above 1, as wespeaker);
//   below the threshold φ' = cos − (1 + cos(π − m)) (the `mmm` fallback) instead of cos − m·sin(π − m);
//   weight (nClasses, nOut) is xavier_uniform.
// wespeaker builds it with margin 0 and scale 32 and lets its MarginScheduler drive set_margin() (the schedule
// is engine/schedule.h MarginSchedule); here margin and scale come from the config (set scale 32 for wespeaker
// recipes). M = 1; test_normalize true (wespeaker scores by cosine).
#pragma once
#include "losses/loss.h"

namespace spk {

class ArcMarginLoss : public Loss {
 public:
  ArcMarginLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  bool has_margin() const override { return true; }
  double margin() const override { return m_; }
  void set_margin(double m) override;   // wespeaker's projection.update(margin)
  double scale() const { return s_; }

  Tensor weight;   // (nClasses, nOut)

 private:
  double m_, s_;
  bool easy_margin_;
};

}  // namespace spk
