// The second loss of --trainfunc2; see second_loss.h.
#include "losses/second_loss.h"

#include "engine/ops.h"

namespace spk {

std::string second_loss_name(const std::string& trainfunc2) {
  return trainfunc2 == "uniform" ? std::string("uniformity") : trainfunc2;
}

std::shared_ptr<Loss> make_second_loss(const std::string& trainfunc2, const LossConfig& config) {
  return make_loss(second_loss_name(trainfunc2), config);
}

LossOutput add_second_loss(LossOutput first, const LossOutput& second, double weight) {
  first.loss = add(first.loss, mul_scalar(second.loss, weight));
  if (!second.warning.empty())
    first.warning = first.warning.empty() ? second.warning : first.warning + "; " + second.warning;
  return first;
}

}  // namespace spk
