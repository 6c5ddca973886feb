// The SimCLR projection head of ssl-for-slr (SimCLR.py, enable_mlp): an MLP on the embedding that only the
// contrastive loss sees. With k = layers and P = width:
//   k = 1: Linear(D, P)
//   k >= 2: Linear(D, P) → BN(P) → ReLU → [Linear(P, P) → BN(P) → ReLU] × (k − 2) → Linear(P, P)
// (ssl-for-slr: k = 3, P = 2048, Keras Dense with bias, BatchNormalization between.) Children fc0, bn0, fc1, ...,
// PyTorch-initialised (engine/layers.h). The head belongs to the loss: it is saved with it in the checkpoint
// ("__L__.proj.*") and is no part of the model, so evaluation embeds without it.
#pragma once
#include <memory>
#include <vector>

#include "engine/layers.h"
#include "engine/module.h"

namespace spk {

class ProjectionHead : public Module {
 public:
  ProjectionHead(int64_t in_features, int64_t width, int64_t layers, Rng& rng, DType dtype = DType::f32);
  Tensor forward(const Tensor& x);   // (B, in) -> (B, width); BN uses the statistics of these B rows
  int64_t layers() const { return int64_t(fc_.size()); }

 private:
  std::vector<std::shared_ptr<Linear>> fc_;
  std::vector<std::shared_ptr<BatchNorm1d>> bn_;   // one fewer than fc_
};

}  // namespace spk
