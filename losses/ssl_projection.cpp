// SimCLR projection head; see ssl_projection.h.
#include "losses/ssl_projection.h"

#include <string>

#include "engine/check.h"

namespace spk {

ProjectionHead::ProjectionHead(int64_t in, int64_t width, int64_t layers, Rng& rng, DType dtype) {
  SPK_CHECK(layers >= 1, "projection head: ssl_proj_layers must be >= 1 for a head, got ", layers);
  SPK_CHECK(width >= 1, "projection head: ssl_proj_dim must be >= 1, got ", width);
  for (int64_t i = 0; i < layers; ++i) {
    fc_.push_back(register_module("fc" + std::to_string(i),
                                  std::make_shared<Linear>(i == 0 ? in : width, width, rng, true, dtype)));
    if (i + 1 < layers)
      bn_.push_back(register_module("bn" + std::to_string(i),
                                    std::make_shared<BatchNorm1d>(width, BatchNormOptions{.dtype = dtype})));
  }
}

Tensor ProjectionHead::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < fc_.size(); ++i) {
    h = fc_[i]->forward(h);
    if (i < bn_.size()) h = bn_[i]->forward_relu(h);
  }
  return h;
}

}  // namespace spk
