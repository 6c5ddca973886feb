// The fused SE-block ops (kernels/se) against the compositions they replace in the nets, through the engine
// (allocation and autograd included, as a training step pays them), forward + backward, at bench_step's batch of
// 40: ResNetSE34L's four SE layers (n_mels 40, 202 frames) and ECAPA-TDNN C=512's SE (202 frames), and the
// residual join relu(a + b) of ResNetSE34L's layer1. GB/s counts x read and y written forward, and dy, x read and
// dx written backward (add_relu: a, b, y forward; y, dy, dx backward).
#include <array>
#include <memory>
#include <string>

#include "bench.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace {

using spk::Tensor;

Tensor param(const spk::Shape& s, spk::Rng& rng) {
  Tensor t = Tensor::uniform(s, rng, -0.3, 0.3);
  t.set_requires_grad(true);
  return t;
}

Tensor se_composed(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2) {
  std::vector<int64_t> dims;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor s = spk::sigmoid(spk::linear(spk::relu(spk::linear(spk::mean(x, dims), w1, b1)), w2, b2));
  spk::Shape bshape{x.size(0), x.size(1)};
  while (int64_t(bshape.size()) < x.dim()) bshape.push_back(1);
  return x * spk::reshape(s, bshape);
}

struct SeInputs {
  Tensor x, w1, b1, w2, b2, g;
  SeInputs(const spk::Shape& shape, int64_t R) {
    spk::Rng rng(5);
    const int64_t C = shape[1];
    x = param(shape, rng);
    w1 = param({R, C}, rng);
    b1 = param({R}, rng);
    w2 = param({C, R}, rng);
    b2 = param({C}, rng);
    g = Tensor::uniform(shape, rng, -1, 1);
  }
  void run(bool fused) {
    Tensor y = fused ? spk::squeeze_excite(x, w1, b1, w2, b2) : se_composed(x, w1, b1, w2, b2);
    y.backward(g);
    for (Tensor* p : {&x, &w1, &b1, &w2, &b2}) p->zero_grad();
  }
};

std::string shape_text(const spk::Shape& s) {
  std::string t;
  for (int64_t d : s) t += (t.empty() ? "" : "x") + std::to_string(d);
  return t;
}

}  // namespace

SPK_BENCH_ENTRIES(se_entries) {
  struct Case { spk::Shape shape; int64_t R; const char* note; };
  for (const Case& c : {Case{{40, 16, 20, 202}, 2, "ResNetSE34L layer1 se x3"},
                        Case{{40, 32, 10, 101}, 4, "ResNetSE34L layer2 se x4"},
                        Case{{40, 64, 5, 51}, 8, "ResNetSE34L layer3 se x6"},
                        Case{{40, 128, 5, 51}, 16, "ResNetSE34L layer4 se x3"},
                        Case{{40, 512, 202}, 128, "ECAPA-TDNN C=512 se x3"}})
    for (bool fused : {true, false}) {
      spk::bench::Entry e;
      e.op = "squeeze_excite(x=" + shape_text(c.shape) + ",R=" + std::to_string(c.R) + ")";
      e.variant = fused ? "cpu fused fwd+bwd" : "cpu composed fwd+bwd";
      double numel = 1;
      for (int64_t d : c.shape) numel *= double(d);
      e.bytes = 4.0 * numel * 5;
      e.note = c.note;
      const spk::Shape shape = c.shape;
      const int64_t R = c.R;
      e.setup = [shape, R, fused] {
        auto in = std::make_shared<SeInputs>(shape, R);
        return std::function<void()>([in, fused] { in->run(fused); });
      };
      spk::bench::add(std::move(e));
    }
  for (bool fused : {true, false}) {
    const spk::Shape shape{40, 16, 20, 202};
    spk::bench::Entry e;
    e.op = "add_relu(" + shape_text(shape) + ")";
    e.variant = fused ? "cpu fused fwd+bwd" : "cpu composed fwd+bwd";
    e.bytes = 4.0 * 40 * 16 * 20 * 202 * 6;
    e.note = "ResNetSE34L layer1 residual join x3";
    e.setup = [shape, fused] {
      spk::Rng rng(6);
      auto t = std::make_shared<std::array<Tensor, 3>>(
          std::array<Tensor, 3>{param(shape, rng), param(shape, rng), Tensor::uniform(shape, rng, -1, 1)});
      return std::function<void()>([t, fused] {
        auto& [a, b, g] = *t;
        (fused ? spk::add_relu(a, b) : spk::relu(a + b)).backward(g);
        a.zero_grad();
        b.zero_grad();
      });
    };
    spk::bench::add(std::move(e));
  }
}
