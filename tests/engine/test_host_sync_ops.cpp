// Issue 17's host-sync fixes in the ops, on the CPU: the training accuracy as a () f64 tensor (accuracy_percent)
// against a double loop, index_select's inverse index (kernels/index: index_inverse_cpu, the reference of the
// CUDA kernel that builds it on the device) against a brute-force listing, and index_select on host tensors
// reading nothing back (engine/sync_counter.h; the losses' side: tests/losses/test_loss_metric.cpp). The CUDA
// kernels are compared with these in tests/kernels/test_cuda_parity_host_sync.cpp (skipped without a GPU).
#include <cmath>

#include "engine/accuracy.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/sync_counter.h"
#include "kernels/index/index.h"
#include "support/check.h"

using namespace spk;

namespace {

Tensor i64(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

// 100·hits/n in double, the formula the host computed before the op existed.
double loop_accuracy(const std::vector<int64_t>& p, const std::vector<int64_t>& y) {
  int64_t hit = 0;
  for (size_t i = 0; i < p.size(); ++i) hit += p[i] == (y.empty() ? int64_t(i) : y[i]);
  return p.empty() ? 0.0 : 100.0 * double(hit) / double(p.size());
}

}  // namespace

TEST_CASE("accuracy_percent: a () f64 tensor equal to the host formula, with labels and positional") {
  Rng rng(5);
  for (int64_t n : {0, 1, 3, 7, 300, 1001}) {
    std::vector<int64_t> p, y;
    for (int64_t i = 0; i < n; ++i) {
      p.push_back(int64_t(rng.uniform() * 5));
      y.push_back(rng.uniform() < 0.5 ? p.back() : int64_t(rng.uniform() * 5));
    }
    const Tensor a = accuracy_percent(i64(p), i64(y));
    CHECK(a.dtype() == DType::f64);
    CHECK(a.dim() == 0);
    CHECK(a.item() == loop_accuracy(p, y));   // bit for bit: the same double expression
    for (int64_t i = 0; i < n; ++i) p[size_t(i)] = rng.uniform() < 0.3 ? i : p[size_t(i)];
    CHECK(accuracy_percent(i64(p)).item() == loop_accuracy(p, {}));
  }
  // Hand-worked: 2 of 3, and 1 of 4 positional (only row 2 predicts itself).
  CHECK(accuracy_percent(i64({1, 0, 2}), i64({1, 1, 2})).item() == 100.0 * 2 / 3);
  CHECK(accuracy_percent(i64({3, 3, 2, 0})).item() == 25.0);
  CHECK_THROWS_WITH_AS(accuracy_percent(i64({1, 2}), i64({1})), doctest::Contains("labels must be i64 (2)"), Error);
  CHECK_THROWS_WITH_AS(accuracy_percent(Tensor::zeros({2}, DType::f32)), doctest::Contains("(N) i64"), Error);
}

TEST_CASE("index_inverse_cpu: CSR of the l with index[l] = k, ascending, out-of-range values left out") {
  Rng rng(7);
  for (auto [L, K] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {5, 1}, {6, 4}, {100, 7}, {50, 200}}) {
    std::vector<int64_t> index;
    for (int64_t l = 0; l < L; ++l) index.push_back(int64_t(rng.uniform() * double(K + 2)) - 1);   // -1 .. K
    std::vector<int64_t> row_start(size_t(K + 1)), rows(size_t(std::max<int64_t>(L, 1)));
    index_inverse_cpu(index.data(), L, K, row_start.data(), rows.data());
    CHECK(row_start[0] == 0);
    for (int64_t k = 0; k < K; ++k) {
      std::vector<int64_t> want;
      for (int64_t l = 0; l < L; ++l) if (index[size_t(l)] == k) want.push_back(l);
      const std::vector<int64_t> got(rows.begin() + row_start[size_t(k)], rows.begin() + row_start[size_t(k + 1)]);
      CHECK_MESSAGE(got == want, "L ", L, " K ", K, " k ", k);
    }
  }
}

TEST_CASE("index_select on host tensors reads nothing back; its backward still sums repeated rows") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64).set_requires_grad();
  const uint64_t before = sync_counter::host_reads();
  Tensor y = index_select(x, 0, i64({2, 0, 2}));
  sum(y).backward();
  CHECK(sync_counter::host_reads() == before);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1, 0, 0, 2, 2});
  CHECK(y.to_vector<double>() == std::vector<double>{5, 6, 1, 2, 5, 6});
}
