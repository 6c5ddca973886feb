// The warnings a loss reports for a degenerate step (LossOutput::warning, e.g. pyannote_triplet's "no valid
// triplet in this batch"), logged without flooding: the first of each epoch in full, when it happens, and at the
// end of an epoch with more than one a summary line with their count and the last one's text. A step with a
// warning still counts as a step (its loss and gradients are the loss's own; docs/losses.md).
#pragma once
#include <cstdint>
#include <string>

namespace spk::recipe {

class LossWarnings {
 public:
  // A warning at `batch` (1-based) of `num_batches` in `epoch`: the line to log now, or "" when it is only counted.
  std::string note(int64_t epoch, int64_t batch, int64_t num_batches, const std::string& warning);
  // The summary of `epoch` ("" with fewer than two warnings), and a fresh count for the next epoch.
  std::string end_epoch(int64_t epoch, int64_t num_batches);
  int64_t count() const { return count_; }   // warnings in the epoch so far

 private:
  int64_t count_ = 0;
  std::string last_;
  int64_t last_batch_ = 0;
};

}  // namespace spk::recipe
