// CPU-only build of engine/input_stager.h: the CPU target is the tensor itself; there is no GPU to upload to.
#include "engine/input_stager.h"

namespace spk {

struct InputStager::Impl {};

InputStager::InputStager() = default;
InputStager::~InputStager() = default;

Tensor InputStager::upload(const Tensor& host, Device device) {
  SPK_CHECK(host.device().is_cpu(), "InputStager::upload: ", host.str(), " is not a host tensor");
  if (device.is_cpu()) return host;
  SPK_FAIL("this build of spk has no CUDA support (configure with nvcc on PATH, SPK_CUDA=ON)");
}

}  // namespace spk
