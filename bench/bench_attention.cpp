// CPU layer norm (kernels/norm) and the attention core (kernels/attention) on the shapes of the HardNeg blip
// ITM head (CJchanghwan/speaker_recognition_framework, model.py): nn.MultiheadAttention(192, 4) over one
// unbatched sequence of 3B = 300 embeddings (batch 100), and a LayerNorm over 192 features of the same rows.
// Layer norm is memory-bound (read GB/s: x, y forward; x, dy, dx backward); the attention core is
// compute-bound (GFLOP/s of its four L×L×E products, two forward and, with the backward, four more).
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "kernels/attention/attention.h"
#include "kernels/norm/norm.h"

namespace {

struct LayerNormBuffers {
  int64_t R, D;
  std::vector<float> x, w, b, y, mean, invstd, dy, dx, dw, db;
  LayerNormBuffers(int64_t r, int64_t d)
      : R(r), D(d), x(spk::bench::random_floats(size_t(r * d), 1)), w(spk::bench::random_floats(size_t(d), 2)),
        b(spk::bench::random_floats(size_t(d), 3)), y(x.size()), mean(size_t(r)), invstd(size_t(r)),
        dy(spk::bench::random_floats(x.size(), 4)), dx(x.size()), dw(size_t(d)), db(size_t(d)) {}
  void run(bool backward) {
    spk::layer_norm_forward_cpu<float>(x.data(), w.data(), b.data(), y.data(), mean.data(), invstd.data(), R, D, 1e-5);
    if (backward)
      spk::layer_norm_backward_cpu<float>(x.data(), mean.data(), invstd.data(), w.data(), dy.data(), dx.data(),
                                          dw.data(), db.data(), R, D);
  }
};

struct AttentionBuffers {
  int64_t B, H, L, Dh;
  std::vector<float> q, k, v, out, probs, dout, dq, dk, dv;
  AttentionBuffers(int64_t b, int64_t h, int64_t l, int64_t dh)
      : B(b), H(h), L(l), Dh(dh), q(spk::bench::random_floats(size_t(b * l * h * dh), 5)),
        k(spk::bench::random_floats(q.size(), 6)), v(spk::bench::random_floats(q.size(), 7)), out(q.size()),
        probs(size_t(b * h * l * l)), dout(spk::bench::random_floats(q.size(), 8)), dq(q.size()), dk(q.size()),
        dv(q.size()) {}
  void run(bool backward) {
    spk::attention_forward_cpu<float>(q.data(), k.data(), v.data(), out.data(), probs.data(), B, H, L, L, Dh);
    if (backward)
      spk::attention_backward_cpu<float>(q.data(), k.data(), v.data(), probs.data(), dout.data(), dq.data(),
                                         dk.data(), dv.data(), B, H, L, L, Dh);
  }
};

}  // namespace

SPK_BENCH_ENTRIES(attention_entries) {
  for (int64_t R : {int64_t(300), int64_t(128 * 200)})
    for (bool backward : {false, true}) {
      const int64_t D = 192;
      const double n = double(R * D);
      spk::bench::Entry e;
      e.op = "layer_norm(R=" + std::to_string(R) + ",D=192)";
      e.variant = backward ? "cpu fwd+bwd" : "cpu fwd";
      e.bytes = 4.0 * 2 * n + (backward ? 4.0 * 3 * n : 0.0);
      e.note = R == 300 ? "blip ITM rows (3B, B = 100)" : "frame-level rows (128 x 200 frames)";
      e.setup = [=] {
        auto b = std::make_shared<LayerNormBuffers>(R, D);
        return std::function<void()>([b, backward] { b->run(backward); });
      };
      spk::bench::add(std::move(e));
    }
  for (bool backward : {false, true}) {
    const int64_t B = 1, H = 4, L = 300, Dh = 48;   // nn.MultiheadAttention(192, 4) on 3B = 300 rows
    spk::bench::Entry e;
    e.op = "scaled_dot_product_attention(B=1,H=4,L=300,Dh=48)";
    e.variant = backward ? "cpu fwd+bwd" : "cpu fwd";
    e.flops = 2.0 * double(B * H * L * L * Dh) * (backward ? 6 : 2);
    e.note = "blip ITM head (B = 100)";
    e.setup = [=] {
      auto b = std::make_shared<AttentionBuffers>(B, H, L, Dh);
      return std::function<void()>([b, backward] { b->run(backward); });
    };
    spk::bench::add(std::move(e));
  }
}
