#include "engine/op_table.h"

#include "engine/check.h"

namespace spk {

void check_op_device(OpId id, Device device) {
  if (device.is_cpu()) return;
  const OpInfo& info = op_info(id);
#if !SPK_HAVE_CUDA
  SPK_FAIL(info.name, ": tensor on ", device.str(), " but this build of spk has no CUDA support");
#endif
  SPK_CHECK(info.cuda != OpCuda::CPU_ONLY, info.name, ": no CUDA kernel for this op yet; move its inputs to the CPU");
}

}  // namespace spk
