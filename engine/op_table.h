// Compiled view of engine/ops.def: an enum of ops and, per op, its name, how it runs on a GPU, and where its
// code and benchmark are (the columns are explained at the top of engine/ops.def).
#pragma once
#include <cstdint>
#include <string_view>

#include "engine/device.h"

namespace spk {

enum class OpCuda : uint8_t { CUDA, CPU_ONLY, COMPOSED, VIEW };

enum class OpId : uint16_t {
#define SPK_OP(name, cuda, ops_file, kernel_dir, forward, backward, bench) name,
#include "engine/ops.def"
#undef SPK_OP
};

struct OpInfo {
  const char* name;
  OpCuda cuda;
  const char* ops_file;     // engine/ops/<ops_file>.cpp
  const char* kernel_dir;   // kernels/<kernel_dir>/, or "none"
  const char* forward;      // kernel <forward>_{cpu,cuda}, or "composed" / "view"
  const char* backward;     // kernel <backward>_{cpu,cuda}, or "composed" / "identity"
  const char* bench;        // spk_bench entry "<bench>(...)" or suite <bench>, or "none"

  bool has_kernels() const { return kernel_dir[0] != '\0' && std::string_view(kernel_dir) != "none"; }
  bool is_benched() const { return std::string_view(bench) != "none"; }
};

// A forward/backward column that names a kernel rather than one of the words for "no kernel of its own".
constexpr bool names_kernel(std::string_view column) {
  return column != "composed" && column != "view" && column != "identity";
}

inline constexpr OpInfo kOpTable[] = {
#define SPK_OP(name, cuda, ops_file, kernel_dir, forward, backward, bench) \
  {#name, OpCuda::cuda, #ops_file, #kernel_dir, #forward, #backward, #bench},
#include "engine/ops.def"
#undef SPK_OP
};
inline constexpr int kOpCount = int(sizeof(kOpTable) / sizeof(kOpTable[0]));
static_assert(kOpCount == 63, "engine/ops.def changed: update this count, the gradchecks and the CUDA parity cases");

constexpr const OpInfo& op_info(OpId id) { return kOpTable[int(id)]; }

// Called by every op before it runs: throws, naming the op, when the op cannot run on this device
// (a CPU_ONLY op on a GPU tensor, or a GPU tensor in a CPU-only build).
void check_op_device(OpId id, Device device);

}  // namespace spk
