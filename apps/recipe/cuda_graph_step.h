// --cuda_graph (issue 17): whether the training step can be captured as a CUDA graph and replayed (engine/
// cuda_graph.h), decided once at setup and said in the log. When it cannot, the step runs eagerly, exactly as
// without the flag, and the line says why: the first reason that applies of
//   a CPU device or a build without CUDA (no graphs at all);
//   shapes that change from step to step (--sampler pyannote draws a chunk length per batch; --skip_bad_files
//   shrinks a batch that holds unreadable files): a graph replays one shape;
//   --distributed (the step's loss and metric are all-reduced as host values);
//   what the engine's step still does that a replay cannot repeat: it reads the loss and the gradient check back
//   to the host before the optimiser step (an op that syncs), and it passes the learning rate, the optimiser's
//   step count and the RNG offsets (SpecAugment, dropout) to its kernels as host values, which a capture would
//   freeze; the caching allocator also has no private pool to keep a graph's buffers apart. Until those are
//   gone, every CUDA run falls back too, and says so (docs/cuda/mixed_precision.md, "CUDA graphs").
#pragma once
#include <string>

#include "apps/recipe/config.h"
#include "engine/device.h"

namespace spk::recipe {

// The log line of --cuda_graph for a run with these settings on this device: why it runs eagerly ("" without the
// flag). Today every run gets one: no setting lets the trainer capture its step yet (the last reason above).
std::string cuda_graph_fallback(const RecipeConfig& cfg, const Device& device);

}  // namespace spk::recipe
