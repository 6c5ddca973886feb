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
#include "engine/dist/communicator.h"
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

// Every parameter's gradient replaced by its mean over the ranks, in one bucketed all-reduce. A parameter
// with no gradient on some rank counts as zero there (as a sample that does not use it would in one process);
// one with no gradient on any rank keeps none.
void average_gradients(dist::Communicator& comm, const NamedTensors& params);

}  // namespace spk::recipe
