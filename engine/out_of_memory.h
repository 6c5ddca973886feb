// The error of an allocation that did not fit: which device, how much was asked for, how much was free of how
// much, and what the allocator held. Thrown by tensor storage on the host (std::aligned_alloc failing, or the
// SPK_FAULT point "alloc" with `fail`) and by the CUDA caching allocator when cudaMalloc still fails after its
// cache was emptied. An app adds the hint only it can give (which flags shrink the work) with with_hint().
#pragma once
#include <cstddef>
#include <string>

#include "engine/check.h"

namespace spk {

struct OutOfMemoryError : Error {
  std::string device;                 // "cpu", "cuda:0"
  size_t requested_bytes = 0;                    // the failed allocation
  size_t free_bytes = 0, total_bytes = 0;        // the device's free and total memory then (total 0: unknown)
  std::string detail;                 // allocator figures, or why it failed (an injected fault)

  OutOfMemoryError(std::string device, size_t requested_bytes, size_t free_bytes, size_t total_bytes,
                   std::string detail, std::string hint = "");
  // The same error with "; <hint>" at the end of its message.
  OutOfMemoryError with_hint(const std::string& hint) const;

 private:
  std::string hint_;
};

// "1.50 GiB", "200.00 MiB", "12 B".
std::string format_bytes(size_t n);

// The host's available memory (MemAvailable of /proc/meminfo, else free pages) and its total, in bytes.
void host_memory(size_t& available, size_t& total);

// Throws OutOfMemoryError for a host allocation of n bytes that failed (free and total read now).
[[noreturn]] void throw_host_out_of_memory(size_t n, const std::string& detail);

}  // namespace spk
