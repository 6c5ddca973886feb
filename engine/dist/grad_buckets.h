// Gradients averaged over the ranks in buckets whose all-reduces overlap the backward pass, as PyTorch's
// DistributedDataParallel Reducer does (torch/csrc/distributed/c10d/reducer.cpp; bucket_cap_mb, 25 MB by default).
//
// The parameters are cut into buckets of at most bucket_bytes (one dtype and device each) in reverse registration
// order, which is roughly the order backward finishes them in (the last layers first). During backward a
// gradient-ready hook (LeafGradHookScope, engine/autograd.h) copies each parameter's gradient, once final, into its
// bucket's flat buffer; a bucket whose parameters are all in starts its asynchronous all-reduce
// (Communicator::all_reduce_start) while backward goes on with the earlier layers. Buckets start strictly in bucket
// order on every rank (a bucket that is ready waits for the ones before it), since MPI and NCCL match collectives
// by the order they are started in and a parameter may be ready earlier on one rank than on another. After
// backward the buckets not started yet (parameters the graph did not reach, a rank with an empty batch) start,
// with zeros for the gradients they lack; apply() waits for them all before the optimiser step.
//
// Each bucket carries one extra element per parameter, 1 where this rank had a gradient, so the ranks agree on
// which parameters get one: a parameter with a gradient on some rank gets the mean (a rank without counts zero, as
// a sample that does not use it would in one process); one with none on any rank keeps none. The values equal
// those of an all-reduce after backward (apps/recipe/distributed.cpp, average_gradients): the same per-element
// sums over the ranks then the same multiplication by 1/W, only cut into other buckets. With 2 ranks each element
// is a + b whichever way MPI cuts the buffer, so they are bit-identical (tested); with more ranks MPI's summation
// order can depend on the buffer's size, so a few ulps may differ.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/dist/communicator.h"

namespace spk::dist {

class GradBuckets {
 public:
  // params: in registration order (the optimiser's); bucket_bytes > 0.
  GradBuckets(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes);
  ~GradBuckets();
  GradBuckets(const GradBuckets&) = delete;
  GradBuckets& operator=(const GradBuckets&) = delete;

  // loss.backward() with the buckets' hook (none when loss is undefined: a rank whose batch is empty), then the
  // buckets still waiting start. Each gradient is multiplied by `scale` first (trainer's step weight · W).
  // Waits for (and drops) what a previous backward left unapplied. One process: loss.backward() alone.
  void backward(const Tensor& loss, double scale = 1.0);
  // Waits for every bucket and sets every parameter's gradient to its mean over the ranks.
  void apply();
  // Waits for every bucket and drops the results (a step every rank skips: the gradients stay as they were).
  void discard();

  size_t num_buckets() const { return buckets_.size(); }
  // The parameter indices (into params) of bucket k, in the order they sit in it.
  const std::vector<size_t>& bucket_params(size_t k) const { return buckets_[k].params; }
  // How many buckets had started when backward returned from its last node (before the leftovers): what the
  // overlap achieved on the last step (0 without one).
  size_t started_during_backward() const { return started_in_backward_; }

 private:
  struct Bucket {
    std::vector<size_t> params;
    std::vector<int64_t> offsets;   // of each parameter's gradient in flat
    int64_t numel = 0;              // gradients' elements; flat has params.size() flags after them
    Tensor flat;
    std::vector<double> has;        // this rank's flags
    size_t ready = 0;
    bool started = false;
    uint64_t handle = 0;
  };
  void begin_step(double scale);
  void fill_slot(size_t param);
  void on_ready(size_t param);
  void start_ready_buckets(bool all);
  void wait_all();

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const void*, std::pair<size_t, size_t>> where_;   // parameter impl -> (bucket, slot)
  std::vector<char> seen_;   // per parameter: in its bucket this step
  double scale_ = 1;
  size_t next_ = 0;          // the next bucket to start
  size_t started_in_backward_ = 0;
  bool in_flight_ = false;
};

}  // namespace spk::dist
