// The CPU GRU recurrence (kernels/gru) on the shape of ssl-for-slr's CPC context network (CPC.py: GRU(256) over
// the first T − K = 200 − 12 frames of 2-s crops, batch 64), and on the demo's smaller one (H 64). The recurrence
// is compute-bound: GFLOP/s of its B·L·3H·H multiply-adds forward, and twice that more with the backward (the
// carry's W_hhᵀ·dgh and the weight gradient's Σ dgh·h_pᵀ).
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/cpu_threads.h"
#include "kernels/gru/gru.h"

namespace {

struct GruBuffers {
  int64_t B, L, H;
  std::vector<float> gi, h0, w, b, h, gates, dh, dgi, dh0, dw, db;
  GruBuffers(int64_t b_, int64_t l, int64_t hs)
      : B(b_), L(l), H(hs), gi(spk::bench::random_floats(size_t(b_ * l * 3 * hs), 1)),
        h0(spk::bench::random_floats(size_t(b_ * hs), 2)), w(spk::bench::random_floats(size_t(3 * hs * hs), 3)),
        b(spk::bench::random_floats(size_t(3 * hs), 4)), h(size_t(b_ * l * hs)), gates(size_t(b_ * l * 4 * hs)),
        dh(spk::bench::random_floats(h.size(), 5)), dgi(gi.size()), dh0(h0.size()), dw(w.size()), db(b.size()) {}
  void run(bool backward) {
    const int threads = spk::cpu_threads();
    spk::gru_forward_cpu<float>(gi.data(), h0.data(), w.data(), b.data(), h.data(), gates.data(), B, L, H, threads);
    if (backward)
      spk::gru_backward_cpu<float>(h0.data(), w.data(), h.data(), gates.data(), dh.data(), dgi.data(), dh0.data(),
                                   dw.data(), db.data(), B, L, H, threads);
  }
};

}  // namespace

SPK_BENCH_ENTRIES(gru_entries) {
  struct Shape { int64_t B, L, H; const char* note; };
  for (const Shape& s : {Shape{64, 188, 256, "ssl-for-slr CPC context (GRU 256, 200 - 12 frames, batch 64)"},
                         Shape{64, 188, 64, "the demo's CPC context (H 64)"}})
    for (bool backward : {false, true}) {
      spk::bench::Entry e;
      e.op = "gru_sequence(B=" + std::to_string(s.B) + ",L=" + std::to_string(s.L) + ",H=" + std::to_string(s.H) + ")";
      e.variant = backward ? "cpu fwd+bwd" : "cpu fwd";
      e.flops = 2.0 * double(s.B * s.L * 3 * s.H * s.H) * (backward ? 3 : 1);
      e.note = s.note;
      const int64_t B = s.B, L = s.L, H = s.H;
      e.setup = [=] {
        auto b = std::make_shared<GruBuffers>(B, L, H);
        return std::function<void()>([b, backward] { b->run(backward); });
      };
      spk::bench::add(std::move(e));
    }
}
