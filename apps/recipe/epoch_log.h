// The per-epoch training log users plot: <save_path>/train_log.csv, one row per epoch.
//
//   epoch,steps,lr,loss,train_metric,train_metric_kind,samples_per_s,seconds,bad_files,
//   vt_eer,interp_eer,min_dcf,min_dcf_p01,time
//
// train_metric is voxceleb_trainer's TAcc (%) or TEER (%) per train_metric_kind; the evaluation columns
// (voxceleb_trainer's VEER, the interpolated EER, minDCF at --dcf_p_target and at 0.01) are empty in epochs
// without evaluation. A resumed run first drops the rows of epochs after its checkpoint (they are trained
// again), rewriting the file atomically; rows are appended and flushed one per epoch.
#pragma once
#include <cstdint>
#include <string>

#include "apps/recipe/trainer.h"

namespace spk::recipe {

class EpochLog {
 public:
  EpochLog(std::string path, int64_t keep_upto_epoch);
  void append(const EpochSummary& s);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace spk::recipe
