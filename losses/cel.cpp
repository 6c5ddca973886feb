// CEL objective; see cel.h.
#include "losses/cel.h"

#include <cmath>

#include "engine/ops.h"
#include "losses/anglecontrast.h"
#include "losses/angleproto.h"
#include "losses/proto.h"

namespace spk {

namespace {

std::shared_ptr<Loss> make_sim(const LossConfig& c, Rng& rng) {
  if (c.sim_loss == "anglecontrast") return std::make_shared<AngleContrastLoss>(c, rng);
  if (c.sim_loss == "angleproto") return std::make_shared<AngleProtoLoss>(c, rng);
  if (c.sim_loss == "proto") return std::make_shared<ProtoLoss>(c, rng);
  SPK_FAIL("cel: sim_loss '", c.sim_loss, "' (anglecontrast, angleproto or proto expected)");
}

}  // namespace

CELLoss::CELLoss(const LossConfig& c, Rng& rng)
    : Loss("cel",
           {.per_speaker = PerSpeaker::exactly_two,
            .test_normalize = c.sim_loss != "proto",
            .metric = MetricKind::accuracy}),
      lambda_s_(c.lambda_s), lambda_u_(c.lambda_u), normalize_(c.sim_loss != "proto") {
  SPK_CHECK(std::isfinite(c.lambda_s) && std::isfinite(c.lambda_u), "cel: lambda_s ", c.lambda_s, " and lambda_u ",
            c.lambda_u, " must be finite");
  sim = register_module("sim", make_sim(c, rng));
  unif = register_module("unif", std::make_shared<UniformityLoss>(c, /*normalize=*/false));
}

LossOutput CELLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  if (normalize_) g = l2_normalize(g, 2, 1e-12);
  LossOutput s = sim->forward(g, labels), u = unif->forward(g, labels);
  return {add(mul_scalar(s.loss, lambda_s_), mul_scalar(u.loss, lambda_u_)), s.metric, metric_kind()};
}

}  // namespace spk
