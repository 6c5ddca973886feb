// EMA helpers and the momentum-loss hooks; see momentum.h.
#include "losses/momentum.h"

#include "engine/autograd.h"
#include "engine/check.h"
#include "engine/ops.h"

namespace spk {

void ema_update(const Module& online, Module& target, double momentum, bool parameters_only) {
  NoGradGuard ng;
  const NamedTensors src = parameters_only ? online.named_parameters() : online.state();
  const NamedTensors dst = parameters_only ? target.named_parameters() : target.state();
  SPK_CHECK(src.size() == dst.size(), "ema_update: ", src.size(), " tensors in the online module, ", dst.size(),
            " in its momentum copy");
  for (size_t i = 0; i < src.size(); ++i) {
    const auto& [sn, s] = src[i];
    const auto& [dn, d] = dst[i];
    SPK_CHECK(sn == dn && s.shape() == d.shape(), "ema_update: online ", sn, " ", s.str(), " vs copy ", dn, " ",
              d.str());
    Tensor t = d;   // a handle on the copy's storage: copy_ writes into it
    if (!is_floating(d.dtype())) {
      t.copy_(s);   // num_batches_tracked: a count, not a weight to average
      continue;
    }
    t.copy_(add(mul_scalar(d, momentum), mul_scalar(s, 1.0 - momentum)));
  }
}

void freeze(Module& m) {
  for (auto& [name, p] : m.named_parameters()) {
    Tensor t = p;
    t.set_requires_grad(false);
  }
}

Tensor MomentumLoss::view_features(int64_t first, int64_t last) const {
  SPK_CHECK(feats_.defined() && 0 <= first && first < last && last <= m_, name(), ": no features of views ", first,
            "..", last - 1, " for the momentum encoder (the trainer hands them over with set_step_features)");
  return slice(feats_, 0, first * n_, last * n_);
}

}  // namespace spk
