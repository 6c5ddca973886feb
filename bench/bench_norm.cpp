// The fused ReLU + batch norm (relu_batch_norm, kernels/norm) against the composition it replaces in the nets,
// batch_norm(relu(x)), through the engine (allocation and autograd included, as a training step pays them),
// training forward + backward, at bench_step's batch of 40: the conv1 → ReLU → bn1 of ResNetSE34L's SEBasicBlocks
// (n_mels 40, 202 frames). GB/s counts the fused op's compulsory traffic: x read twice for the statistics and once
// for y, y written; dy read twice and x twice, dx written backward (9 tensor passes).
#include <array>
#include <memory>
#include <string>

#include "bench.h"
#include "engine/ops.h"
#include "engine/rng.h"

SPK_BENCH_ENTRIES(norm_entries) {
  struct Case { spk::Shape shape; const char* text; const char* note; };
  for (const Case& c : {Case{{40, 16, 20, 202}, "40x16x20x202", "ResNetSE34L layer1 bn1 x3"},
                        Case{{40, 32, 10, 101}, "40x32x10x101", "ResNetSE34L layer2 bn1 x4"},
                        Case{{40, 64, 5, 51}, "40x64x5x51", "ResNetSE34L layer3 bn1 x6"}})
    for (bool fused : {true, false}) {
      spk::bench::Entry e;
      e.op = std::string("relu_batch_norm(x=") + c.text + ")";
      e.variant = fused ? "cpu fused train fwd+bwd" : "cpu composed train fwd+bwd";
      double numel = 1;
      for (int64_t d : c.shape) numel *= double(d);
      e.bytes = 4.0 * numel * 9;
      e.note = c.note;
      const spk::Shape shape = c.shape;
      e.setup = [shape, fused] {
        spk::Rng rng(8);
        const int64_t C = shape[1];
        auto t = std::make_shared<std::array<spk::Tensor, 6>>(std::array<spk::Tensor, 6>{
            spk::Tensor::uniform(shape, rng, -1, 1).set_requires_grad(),
            spk::Tensor::uniform({C}, rng, 0.5, 1.5).set_requires_grad(), spk::Tensor::zeros({C}).set_requires_grad(),
            spk::Tensor::zeros({C}), spk::Tensor::ones({C}), spk::Tensor::uniform(shape, rng, -1, 1)});
        return std::function<void()>([t, fused] {
          auto& [x, w, b, rm, rv, g] = *t;
          (fused ? spk::relu_batch_norm(x, w, b, rm, rv, true) : spk::batch_norm(spk::relu(x), w, b, rm, rv, true))
              .backward(g);
          for (spk::Tensor* p : {&x, &w, &b}) p->zero_grad();
        });
      };
      spk::bench::add(std::move(e));
    }
}
