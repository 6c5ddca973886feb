// validate_frame_losses (see trainer.h): the checks of ssl-for-slr's frame-level methods (--trainfunc cpc, lim, gim:
// losses/cpc.h, losses/lim.h) and of their settings, before any work; each failure a UsageError naming the flag.
// The frame losses read the model's frames (SpeakerNet::frames), so they need a model that has them and crops long
// enough for the context (cpc) or the chunk (lim, gim); they are self-supervised, so they run under --ssl.
#include <set>
#include <string>

#include "apps/recipe/trainer.h"
#include "nets/cpc_encoder.h"

namespace spk::recipe {

namespace {

using flag_check::num;
using flag_check::require;

bool is_frame_loss(const std::string& name) { return name == "cpc" || name == "lim" || name == "gim"; }

}  // namespace

void validate_frame_losses(const RecipeConfig& c) {
  require(c.cpc_steps >= 1, "--cpc_steps", "must be at least 1, got " + num(double(c.cpc_steps)));
  require(c.cpc_context_dim >= 1, "--cpc_context_dim", "must be at least 1, got " + num(double(c.cpc_context_dim)));
  require(c.lim_loss == "bce" || c.lim_loss == "mine" || c.lim_loss == "nce", "--lim_loss",
          "unknown value '" + c.lim_loss + "' (bce, mine, nce)");
  require(c.lim_context_length >= 0, "--lim_context_length",
          "must be 0 (the method's: lim 1, gim 32) or more, got " + num(double(c.lim_context_length)));
  require(c.lim_hidden >= 1, "--lim_hidden", "must be at least 1, got " + num(double(c.lim_hidden)));
  require(!is_frame_loss(c.trainfunc2), "--trainfunc2",
          c.trainfunc2 + " reads the model's frames, not embeddings; it can only be --trainfunc");
  if (!is_frame_loss(c.trainfunc)) return;

  const std::string method = "--trainfunc " + c.trainfunc;
  require(c.ssl, "--trainfunc", c.trainfunc + " is a self-supervised method (ssl-for-slr) that reads no labels: pass "
          "--ssl");
  require(c.trainfunc2.empty(), "--trainfunc2",
          c.trainfunc2 + " with " + method + ", which reads the model's frames; a second loss is not supported");
  require(c.model == "CPCEncoder", "--model",
          c.model + " gives no frame-level encoding, which " + method + " reads; use --model CPCEncoder");
  require(c.batch_size >= 2, "--batch_size",
          num(double(c.batch_size)) + " with " + method + ", whose negatives are the batch's other utterances");
  // The frames of one training crop (--max_frames·160 + 240 samples, the view sampler's crop).
  const int64_t frames = CPCEncoder::frames_for(c.max_frames * 160 + 240);
  if (c.trainfunc == "cpc") {
    require(frames > c.cpc_steps, "--max_frames",
            num(double(c.max_frames)) + " gives crops of " + num(double(frames)) + " CPCEncoder frames, no context " +
                "before the --cpc_steps " + num(double(c.cpc_steps)) + " predicted ones; raise --max_frames or " +
                "lower --cpc_steps");
  } else {
    const int64_t ctx = c.lim_context_length > 0 ? c.lim_context_length : (c.trainfunc == "gim" ? 32 : 1);
    require(frames >= ctx, "--max_frames",
            num(double(c.max_frames)) + " gives crops of " + num(double(frames)) + " CPCEncoder frames, fewer than " +
                "the chunk of " + num(double(ctx)) + " frames (--lim_context_length); raise --max_frames or " +
                "shorten the chunk");
  }
}

}  // namespace spk::recipe
