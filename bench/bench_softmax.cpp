// CPU softmax family (kernels/softmax) on the shapes our nets give it: the softmax over time of ECAPA-TDNN's
// attentive statistics pooling (batch 32, 1536 channels, 200 frames) and the cross-entropy of the VoxCeleb2
// softmax classifier (batch 256, 5994 classes). Memory-bound: read the GB/s column (compulsory traffic:
// x and y forward; y, dy and dx backward; the logits, labels and loss for cross-entropy).
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "kernels/softmax/softmax.h"

namespace {

struct SoftmaxBuffers {
  int64_t outer, C, inner;
  std::vector<float> x, y, dy, dx;
  SoftmaxBuffers(int64_t o, int64_t c, int64_t i)
      : outer(o), C(c), inner(i), x(spk::bench::random_floats(size_t(o * c * i), 1)), y(x.size()),
        dy(spk::bench::random_floats(x.size(), 2)), dx(x.size()) {}
  void run(bool log, bool backward) {
    spk::softmax_forward_cpu<float>(x.data(), y.data(), outer, C, inner, log);
    if (backward) spk::softmax_backward_cpu<float>(y.data(), dy.data(), dx.data(), outer, C, inner, log);
  }
};

struct CrossEntropyBuffers {
  int64_t N, C;
  std::vector<float> logits, loss, lse, dloss, dlogits;
  std::vector<int64_t> labels;
  CrossEntropyBuffers(int64_t n, int64_t c)
      : N(n), C(c), logits(spk::bench::random_floats(size_t(n * c), 3)), loss(size_t(n)), lse(size_t(n)),
        dloss(size_t(n), 1.f / float(n)), dlogits(logits.size()), labels(size_t(n)) {
    for (int64_t i = 0; i < n; ++i) labels[size_t(i)] = (i * 7919) % c;
  }
  void run(bool backward) {
    spk::cross_entropy_forward_cpu<float>(logits.data(), labels.data(), loss.data(), lse.data(), N, C);
    if (backward)
      spk::cross_entropy_backward_cpu<float>(logits.data(), labels.data(), lse.data(), dloss.data(), dlogits.data(),
                                             N, C);
  }
};

}  // namespace

SPK_BENCH_ENTRIES(softmax_entries) {
  const int64_t outer = 32 * 1536, T = 200;   // ECAPA attentive pooling: softmax over the frames of (B, C, T)
  for (bool log : {false, true})
    for (bool backward : {false, true}) {
      const double n = double(outer * T);
      spk::bench::Entry e;
      e.op = std::string(log ? "log_softmax" : "softmax") + "(outer=32x1536,C=200,inner=1)";
      e.variant = backward ? "cpu fwd+bwd" : "cpu fwd";
      e.bytes = 4.0 * 2 * n + (backward ? 4.0 * 3 * n : 0.0);
      e.note = "ECAPA attentive pooling";
      e.setup = [=] {
        auto b = std::make_shared<SoftmaxBuffers>(outer, T, 1);
        return std::function<void()>([b, log, backward] { b->run(log, backward); });
      };
      spk::bench::add(std::move(e));
    }
  const int64_t N = 256, C = 5994;   // the VoxCeleb2 softmax classifier
  for (bool backward : {false, true}) {
    const double n = double(N * C);
    spk::bench::Entry e;
    e.op = "cross_entropy(N=256,C=5994)";
    e.variant = backward ? "cpu fwd+bwd" : "cpu fwd";
    e.bytes = 4.0 * n + 8.0 * N + 8.0 * N + (backward ? 4.0 * 2 * n : 0.0);
    e.note = "VoxCeleb2 softmax classifier";
    e.setup = [=] {
      auto b = std::make_shared<CrossEntropyBuffers>(N, C);
      return std::function<void()>([b, backward] { b->run(backward); });
    };
    spk::bench::add(std::move(e));
  }
}
