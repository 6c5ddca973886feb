// HardNeg's ITM head on mined hard negatives; see blip_itm.h.
#include "losses/blip_itm.h"

#include <algorithm>
#include <cmath>

#include "engine/check.h"
#include "engine/ops.h"

namespace spk {

std::vector<int64_t> hardest_negatives(const Tensor& sim) {
  SPK_CHECK(sim.dim() == 2 && sim.size(0) == sim.size(1), "hardest_negatives: sim must be (B, B), got ", sim.str());
  const int64_t b = sim.size(0);
  const std::vector<double> s = sim.to_double();
  std::vector<int64_t> neg(size_t(b), 0);
  for (int64_t i = 0; i < b; ++i) {
    const double* row = s.data() + i * b;
    const double top = *std::max_element(row, row + b);
    double z = 0;
    for (int64_t j = 0; j < b; ++j) z += std::exp(row[j] - top);
    // The seed's weights: softmax + 1e-4, diagonal 0; torch.max keeps the first maximum.
    double best = -1;
    for (int64_t j = 0; j < b; ++j) {
      const double w = j == i ? 0.0 : std::exp(row[j] - top) / z + 1e-4;
      if (w > best) { best = w; neg[size_t(i)] = j; }
    }
  }
  return neg;
}

ItmHead::ItmHead(int64_t dim, int64_t heads, Rng& rng, DType dtype) {
  attn = register_module("attn", std::make_shared<MultiheadAttention>(dim, heads, rng, dtype));
  itm_head = register_module("itm_head", std::make_shared<Linear>(dim, 2, rng, true, dtype));
}

Tensor ItmHead::forward(const Tensor& x, const Tensor& y) const {
  return itm_head->forward(relu(add(x, attn->forward(y, x, x))));
}

Tensor ItmHead::loss(const Tensor& xh, const Tensor& yh, const Tensor& tau) const {
  const int64_t b = xh.size(0);
  SPK_CHECK(b >= 2 && yh.shape() == xh.shape(), "blip: the ITM head needs two views of B >= 2 speakers, got ",
            xh.str(), " and ", yh.str());
  // Mining reads values only: S = τ·X̂Ŷᵀ for i2t, Sᵀ for t2i.
  Tensor sim = mul_scalar(matmul(xh.detach(), transpose(yh.detach(), 0, 1)), tau.item());
  std::vector<int64_t> idx = hardest_negatives(sim);
  const std::vector<int64_t> t2i = hardest_negatives(contiguous(transpose(sim, 0, 1)));
  idx.insert(idx.end(), t2i.begin(), t2i.end());
  Tensor negatives = index_select(yh, 0, Tensor::from_vector(idx, {2 * b}, yh.device()));
  Tensor image_all = concat({xh, xh, xh}, 0);
  Tensor text_all = concat({yh, negatives}, 0);
  std::vector<int64_t> target(size_t(3 * b), 0);
  std::fill(target.begin(), target.begin() + b, 1);
  return cross_entropy(forward(image_all, text_all), Tensor::from_vector(target, {3 * b}, xh.device()));
}

}  // namespace spk
