// A second loss added to the first (--trainfunc2, CEL fine-tuning/SpeakerNet.py): nloss = nloss1 + w·nloss2.
//
// CEL fine-tunes with `--trainfunc2 uniform`, which adds Uniformity() (t 2, PoN) with weight 1 to any
// --trainfunc; here any loss of make_loss() can be the second one, built from the same LossConfig and fed the
// same (N, M, D) embeddings and labels, so it must accept the first loss's nPerSpeaker. The second loss keeps
// its own parameters (the recipe saves them as "__L2__.<name>", CEL's __U__ has none). The metric reported
// is the first loss's, as CEL prints prec1.
//
// One difference from CEL: its uniformity sees the embeddings its first loss trains on (L2-normalised for the
// angular losses, raw for the softmaxes); spk's uniformity always normalises its input itself.
#pragma once
#include <memory>
#include <string>

#include "losses/loss.h"

namespace spk {

// The make_loss() name of a --trainfunc2 value: every loss name, and CEL's spelling 'uniform' for uniformity.
std::string second_loss_name(const std::string& trainfunc2);

// make_loss(second_loss_name(trainfunc2), config).
std::shared_ptr<Loss> make_second_loss(const std::string& trainfunc2, const LossConfig& config);

// first.loss + weight · second.loss, the first's metric; both warnings, if any, joined.
LossOutput add_second_loss(LossOutput first, const LossOutput& second, double weight);

}  // namespace spk
