// spk_train --distributed (docs/distributed.md): the pieces of data-parallel training the trainer calls, over a
// communicator of engine/dist/. One process per rank; every rank runs the same steps on its own shard of each
// step's global batch (engine/audio/sampler.h, global_batches), with the gradients averaged before the update,
// so W ranks with --batch_size b step as one process with b·W would (up to float rounding and BatchNorm, whose
// batch statistics stay per rank).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/recipe/config.h"
#include "apps/recipe/evaluator.h"
#include "engine/dist/communicator.h"
#include "engine/dist/grad_buckets.h"
#include "engine/module.h"

namespace spk::recipe {

// The communicator of a run: "single" without --distributed; with it, MPI for --device cpu and NCCL for cuda
// (which then becomes cuda:<local rank>). UsageError naming --distributed where the build lacks the backend.
std::shared_ptr<dist::Communicator> make_train_communicator(const RecipeConfig& cfg);

// Every rank must run with rank 0's options (all of them: they decide the model, the data and the schedule).
// Rank 0's options go to every rank; each compares them with its own; then every rank learns which ranks
// differ, so all stop together: UsageError naming the first differing flag (on that rank) or the ranks.
void check_same_options(dist::Communicator& comm, const nlohmann::json& options);

// The tensors (parameters and buffers) copied from rank 0 to every rank, in place.
void broadcast_from_root(dist::Communicator& comm, const NamedTensors& state);

// The gradients' averaging over the ranks (engine/dist/grad_buckets.h): buckets of --bucket_cap_mb, in reverse
// registration order, each all-reduced as soon as backward has finished its parameters. A parameter with no
// gradient on some rank counts as zero there (as a sample that does not use it would in one process); one with no
// gradient on any rank keeps none. One process: backward alone.
std::unique_ptr<dist::GradBuckets> make_grad_buckets(dist::Communicator& comm, const RecipeConfig& cfg,
                                                     const NamedTensors& params);

// This rank's weight in a step whose batch has `groups` groups here: 1 for one process; 1/W for W ranks with
// equal batches; with skip_bad_files (batches that lost bad files' groups, down to none), groups / (every rank's
// groups), agreed in one all-reduce, so that the weighted means of losses and gradients are those over the
// step's groups, as one process with the global batch would take them. -1 when no rank has a group: every
// rank skips the step.
double step_weight(dist::Communicator& comm, int64_t groups, bool skip_bad_files);

// Crop embeddings of `paths` as embed_files gives them, (F, n, D), on every rank: rank r embeds the r-th
// contiguous share of ceil(F/W) files and the shares are all-gathered, so the evaluation takes about 1/W of the
// time and every rank scores the same embeddings. Rank 0's buffers (BatchNorm's running statistics, per rank
// without --sync_bn) go to every rank first: the model evaluated and saved is rank 0's. Only rank 0 should pass
// a progress callback (it sees its own share, then the whole list once gathered).
Tensor embed_files_sharded(dist::Communicator& comm, SpeakerNet& model, const FrontEnd& frontend,
                           const std::vector<std::string>& paths, const EmbedSettings& s,
                           const EvalProgress& progress);

}  // namespace spk::recipe
