// Compiled view of engine/ops.def: an enum of ops, their names and how each runs on a GPU.
#pragma once
#include <cstdint>

#include "engine/device.h"

namespace spk {

enum class OpCuda : uint8_t { CUDA, CPU_ONLY, COMPOSED, VIEW };

enum class OpId : uint16_t {
#define SPK_OP(name, cuda) name,
#include "engine/ops.def"
#undef SPK_OP
};

struct OpInfo {
  const char* name;
  OpCuda cuda;
};

inline constexpr OpInfo kOpTable[] = {
#define SPK_OP(name, cuda) {#name, OpCuda::cuda},
#include "engine/ops.def"
#undef SPK_OP
};
inline constexpr int kOpCount = int(sizeof(kOpTable) / sizeof(kOpTable[0]));
static_assert(kOpCount == 51, "engine/ops.def changed: update this count, the gradchecks and the CUDA parity cases");

constexpr const OpInfo& op_info(OpId id) { return kOpTable[int(id)]; }

// Called by every op before it runs: throws, naming the op, when the op cannot run on this device
// (a CPU_ONLY op on a GPU tensor, or a GPU tensor in a CPU-only build).
void check_op_device(OpId id, Device device);

}  // namespace spk
