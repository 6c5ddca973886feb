// engine/input_stager.h in a CPU build: a CPU target gets the host tensor itself (no copy, no read counted), a
// non-host source is refused. The CUDA path (pinned buffers, copy stream, events) has not run: no GPU.
#include "engine/cuda.h"
#include "engine/input_stager.h"
#include "engine/sync_counter.h"
#include "support/check.h"

using namespace spk;

TEST_CASE("input stager: a CPU target is the host tensor itself") {
  InputStager stager;
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::f32);
  const uint64_t before = sync_counter::host_reads();
  const Tensor y = stager.upload(x, Device::cpu());
  CHECK(y.data_ptr() == x.data_ptr());
  CHECK(sync_counter::host_reads() == before);
  if (!cuda::built_with_cuda())
    CHECK_THROWS_WITH_AS(stager.upload(x, Device::cuda(0)), doctest::Contains("no CUDA support"), Error);
}
