// Inference mode's BatchNorm folding (issue 18): an eval-mode BatchNorm is a per-channel affine map
// y = (x - mean)·γ/√(var + ε) + β, so when it directly follows a conv, the conv with weight W·s and bias
// (b - mean)·s + β (s = γ/√(var + ε) per output channel) computes the same thing in one op: the BN's pass over the
// activations disappears. Exact math; the embeddings change only by rounding (tests/recipe/test_eval_fold_bn.cpp:
// within 1e-5 relative on random models with random statistics).
//
// Only a conv whose output goes straight into the BN folds, so the pairs are listed per block type, read from the
// forwards in nets/: ResNetSE34L's stem (conv1 -> bn1; ResNetSE34V2's stem has the ReLU in between and does not
// fold), SEBasicBlock conv2 -> bn2 (bn1 follows a ReLU), the downsample conv -> BN, and wespeaker's BasicBlock /
// Bottleneck (every conv -> bn, the shortcut) and stem. ECAPA-TDNN's BNs all follow a ReLU: nothing folds there.
#pragma once

#include "nets/model.h"

namespace spk::recipe {

// Folds every listed (conv, BN) pair of the model, which must be in eval mode and stays usable for inference only
// (a folded BN throws in training). Returns the number of BNs folded (0 for models without foldable pairs).
int fold_batch_norms(SpeakerNet& model);

}  // namespace spk::recipe
