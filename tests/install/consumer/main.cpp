// The public API on one page (docs/library.md shows this file): a tensor and autograd, a small model made of
// engine layers and ops, a loss and an optimiser, trained for two steps. Built against an installed spk by
// tests/install/install_find_package.cmake, which checks the printed losses.
#include <engine/layers.h>   // Linear (and Conv1d/2d, BatchNorm, ...), Module
#include <engine/ops.h>      // the differentiable ops
#include <engine/optim.h>    // SGD, Adam, AdamW
#include <engine/rng.h>
#include <losses/loss.h>     // make_loss: every voxceleb_trainer --trainfunc

#include <cstdio>
#include <memory>

// A model is a Module that registers its parameters and children; forward() is an ordinary function.
class TinyEmbedder : public spk::Module {
 public:
  explicit TinyEmbedder(spk::Rng& rng)
      : fc1(register_module("fc1", std::make_shared<spk::Linear>(16, 32, rng))),
        fc2(register_module("fc2", std::make_shared<spk::Linear>(32, 8, rng))) {}
  spk::Tensor forward(const spk::Tensor& x) const { return fc2->forward(spk::relu(fc1->forward(x))); }
  std::shared_ptr<spk::Linear> fc1, fc2;
};

int main() {
  // Tensors and autograd: d/dw sum(w * w) = 2w.
  spk::Tensor w = spk::Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  w.set_requires_grad();
  spk::sum(w * w).backward();
  std::printf("grad %g %g %g\n", w.grad().to_double()[0], w.grad().to_double()[1], w.grad().to_double()[2]);

  // A batch of 6 "utterances" (16 features each) from 3 speakers.
  spk::Rng rng(42);
  const spk::Tensor x = spk::Tensor::normal({6, 16}, rng);
  const spk::Tensor labels = spk::Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2}, {6});

  TinyEmbedder model(rng);
  spk::LossConfig lc;
  lc.nOut = 8;          // embedding size
  lc.nClasses = 3;      // speakers
  lc.margin = 0.2;
  lc.scale = 30;
  std::shared_ptr<spk::Loss> loss = spk::make_loss("aamsoftmax", lc);

  // The optimiser updates the model's and the loss's parameters (AAM-softmax has a weight matrix).
  spk::NamedTensors params = model.named_parameters();
  for (auto& [name, t] : loss->named_parameters()) params.emplace_back("loss." + name, t);
  spk::SGD opt(params, /*lr=*/0.1, {.momentum = 0.9});

  for (int step = 1; step <= 2; ++step) {
    opt.zero_grad();
    const spk::LossOutput out = loss->forward(model.forward(x), labels);
    out.loss.backward();
    opt.step();
    std::printf("step %d loss %.6f accuracy %.1f\n", step, out.loss.item(), out.metric.value());
  }
  return 0;
}
