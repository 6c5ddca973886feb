// aamsoftmax (ArcFace / additive angular margin; voxceleb_trainer loss/aamsoftmax.py, identical in TaoRuijie's
// ECAPA-TDNN and in HardNeg's AAMsoftmax).
//   cos = normalize(x)·normalize(W)ᵀ, sin = sqrt(clamp(1 − cos², 0, 1)), φ = cos·cos m − sin·sin m,
//   φ' = φ where cos − cos(π − m) > 0 else cos − m·sin(π − m)   (easy_margin: φ where cos > 0 else cos),
//   z = s·(onehot·φ' + (1 − onehot)·cos);  L = CE(z, y);  metric: top-1 of z.
// Parameter: weight (nClasses, nOut), xavier_normal (gain 1). Class defaults m 0.3, s 15 are overridden by
// voxceleb_trainer's CLI (0.1, 30). M = 1; test_normalize true. set_margin() changes m.
#pragma once
#include "losses/loss.h"

namespace spk {

class AAMSoftmaxLoss : public Loss {
 public:
  AAMSoftmaxLoss(const LossConfig& config, Rng& rng);
  // For losses that embed an AAM classifier with their own constants (HardNeg: m 0.2, s 30).
  AAMSoftmaxLoss(const LossConfig& config, Rng& rng, double margin, double scale);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  bool has_margin() const override { return true; }
  double margin() const override { return m_; }
  void set_margin(double m) override;
  double scale() const { return s_; }

  Tensor weight;   // (nClasses, nOut)

 private:
  double m_, s_;
  bool easy_margin_;
};

}  // namespace spk
