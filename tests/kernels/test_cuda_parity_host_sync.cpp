// CUDA against the CPU for issue 17's host-sync kernels (compiled with nvcc; not run here: no GPU): the training
// accuracy (accuracy_percent: the same double, bit for bit, from an integer count) and index_select's inverse
// index built on the device (index_inverse_cuda: the same CSR as index_inverse_cpu), including values outside
// [0, K), which the device path leaves out instead of reading out of bounds. Without a GPU each case says so.
#include <vector>

#include "engine/cuda.h"
#include "engine/accuracy.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "kernels/index/index.h"
#include "support/check.h"

using namespace spk;

namespace {

std::vector<int64_t> draw(int64_t n, int64_t lo, int64_t hi, Rng& rng) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(lo + int64_t(rng.uniform() * double(hi - lo)));
  return v;
}

}  // namespace

TEST_CASE("cuda parity accuracy_percent: bit for bit, with labels and positional, one block and many rows") {
  if (!test::gpu_or_skip()) return;
  Rng rng(11);
  for (int64_t n : {0, 1, 255, 256, 257, 5000}) {
    const std::vector<int64_t> p = draw(n, 0, 4, rng), y = draw(n, 0, 4, rng);
    const Tensor hp = Tensor::from_vector(p, {n}), hy = Tensor::from_vector(y, {n});
    const Device gpu = Device::cuda(0);
    CHECK(accuracy_percent(hp.to(gpu), hy.to(gpu)).item() == accuracy_percent(hp, hy).item());
    CHECK(accuracy_percent(hp.to(gpu)).item() == accuracy_percent(hp).item());
  }
}

TEST_CASE("cuda parity index_inverse: the CPU's CSR, out-of-range values left out") {
  if (!test::gpu_or_skip()) return;
#if SPK_HAVE_CUDA
  Rng rng(13);
  for (auto [L, K] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {7, 1}, {100, 40}, {3000, 2000}, {40, 5000}}) {
    const std::vector<int64_t> index = draw(L, -1, K + 1, rng);
    std::vector<int64_t> want_start(size_t(K + 1)), want_rows(size_t(std::max<int64_t>(L, 1)));
    index_inverse_cpu(index.data(), L, K, want_start.data(), want_rows.data());
    const Device gpu = Device::cuda(0);
    const Tensor d_index = Tensor::from_vector(index, {L}).to(gpu);
    Tensor row_start = Tensor::empty({K + 1}, DType::i64, gpu);
    Tensor rows = Tensor::zeros({std::max<int64_t>(L, 1)}, DType::i64, gpu);
    index_inverse_cuda(d_index.data<int64_t>(), L, K, row_start.data<int64_t>(), rows.data<int64_t>(),
                       cuda::current_stream());
    const std::vector<int64_t> got_start = row_start.to_vector<int64_t>(), got_rows = rows.to_vector<int64_t>();
    CHECK_MESSAGE(got_start == want_start, "L ", L, " K ", K);
    const int64_t used = want_start.back();
    CHECK_MESSAGE(std::vector<int64_t>(got_rows.begin(), got_rows.begin() + used) ==
                      std::vector<int64_t>(want_rows.begin(), want_rows.begin() + used),
                  "L ", L, " K ", K);
  }
#endif
}
