// Loss warnings, once per epoch plus a summary (see loss_warnings.h).
#include "apps/recipe/loss_warnings.h"

namespace spk::recipe {

std::string LossWarnings::note(int64_t epoch, int64_t batch, int64_t num_batches, const std::string& warning) {
  ++count_;
  last_ = warning;
  last_batch_ = batch;
  if (count_ > 1) return "";
  return "loss warning at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) + " of " +
         std::to_string(num_batches) + ": " + warning + " (further ones this epoch are counted, then summarised)";
}

std::string LossWarnings::end_epoch(int64_t epoch, int64_t num_batches) {
  std::string line;
  if (count_ > 1)
    line = "loss warnings in epoch " + std::to_string(epoch) + ": " + std::to_string(count_) + " of " +
           std::to_string(num_batches) + " steps; the last, at batch " + std::to_string(last_batch_) + ": " + last_;
  count_ = 0;
  last_.clear();
  last_batch_ = 0;
  return line;
}

}  // namespace spk::recipe
