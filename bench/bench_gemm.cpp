// CPU sgemm (OpenBLAS through kernels/gemm) at square sizes: the machine's dense f32 rate, which the conv
// entries are measured against ("provides sgemm": the best of these sizes is the reference). On --threads
// threads, split by columns on the work pool as the engine's matmul runs it (kernels/gemm/gemm.h).
#include <memory>

#include "bench.h"
#include "engine/cpu_threads.h"
#include "kernels/gemm/gemm.h"

SPK_BENCH_ENTRIES(gemm_entries) {
  for (int64_t n : {512, 1024, 2048}) {
    spk::bench::Entry e;
    e.op = "sgemm(M=N=K=" + std::to_string(n) + ")";
    e.variant = "cpu openblas";
    e.flops = 2.0 * double(n) * double(n) * double(n);
    e.bytes = 3.0 * 4.0 * double(n) * double(n);
    e.provides = "sgemm";
    e.setup = [n] {
      auto a = std::make_shared<std::vector<float>>(spk::bench::random_floats(size_t(n * n), 1));
      auto b = std::make_shared<std::vector<float>>(spk::bench::random_floats(size_t(n * n), 2));
      auto c = std::make_shared<std::vector<float>>(size_t(n * n));
      spk::GemmArgs g;
      g.M = g.N = g.K = n;
      g.lda = g.ldb = g.ldc = n;
      return std::function<void()>([a, b, c, g] { spk::gemm_cpu<float>(g, a->data(), b->data(), c->data(), spk::cpu_threads());
      });
    };
    spk::bench::add(std::move(e));
  }
}
