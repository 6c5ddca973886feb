// The process-wide read counters of engine/sync_counter.h.
#include "engine/sync_counter.h"

#include <atomic>

namespace spk::sync_counter {

namespace {
std::atomic<uint64_t> g_host_reads{0}, g_device_reads{0};
}

uint64_t host_reads() { return g_host_reads.load(std::memory_order_relaxed); }
uint64_t device_reads() { return g_device_reads.load(std::memory_order_relaxed); }
void note_host_read() { g_host_reads.fetch_add(1, std::memory_order_relaxed); }
void note_device_read() { g_device_reads.fetch_add(1, std::memory_order_relaxed); }

}  // namespace spk::sync_counter
