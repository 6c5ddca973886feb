// OutOfMemoryError and the host memory figures it reports (see out_of_memory.h).
#include "engine/out_of_memory.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace spk {

namespace {

std::string message(const std::string& device, size_t requested, size_t free, size_t total,
                    const std::string& detail, const std::string& hint) {
  std::string m = "out of memory on " + device + ": cannot allocate " + format_bytes(requested) + " (" +
                  std::to_string(requested) + " bytes)";
  if (total > 0) m += "; free " + format_bytes(free) + " of " + format_bytes(total);
  if (!detail.empty()) m += "; " + detail;
  if (!hint.empty()) m += "; " + hint;
  return m;
}

}  // namespace

OutOfMemoryError::OutOfMemoryError(std::string device_, size_t requested_, size_t free_, size_t total_,
                                   std::string detail_, std::string hint)
    : Error(message(device_, requested_, free_, total_, detail_, hint)),
      device(std::move(device_)),
      requested_bytes(requested_),
      free_bytes(free_),
      total_bytes(total_),
      detail(std::move(detail_)),
      hint_(std::move(hint)) {}

OutOfMemoryError OutOfMemoryError::with_hint(const std::string& hint) const {
  return OutOfMemoryError(device, requested_bytes, free_bytes, total_bytes, detail,
                          hint_.empty() ? hint : hint_ + "; " + hint);
}

std::string format_bytes(size_t n) {
  char buf[64];
  if (n >= (size_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(n) / double(size_t(1) << 30));
  else if (n >= (size_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", double(n) / double(size_t(1) << 20));
  else if (n >= 1024) std::snprintf(buf, sizeof buf, "%.2f KiB", double(n) / 1024.0);
  else std::snprintf(buf, sizeof buf, "%zu B", n);
  return buf;
}

void host_memory(size_t& available, size_t& total) {
  const long page = ::sysconf(_SC_PAGESIZE);
  const long pages = ::sysconf(_SC_PHYS_PAGES), avail_pages = ::sysconf(_SC_AVPHYS_PAGES);
  total = page > 0 && pages > 0 ? size_t(page) * size_t(pages) : 0;
  available = page > 0 && avail_pages > 0 ? size_t(page) * size_t(avail_pages) : 0;
  // MemAvailable counts the page cache the kernel can drop, which _SC_AVPHYS_PAGES (MemFree) does not.
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream s(line);
    std::string key;
    size_t kib = 0;
    if (s >> key >> kib && key == "MemAvailable:") {
      available = kib * 1024;
      break;
    }
  }
}

void throw_host_out_of_memory(size_t n, const std::string& detail) {
  size_t available = 0, total = 0;
  host_memory(available, total);
  throw OutOfMemoryError("cpu", n, available, total, detail);
}

}  // namespace spk
