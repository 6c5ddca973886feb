// The CPU kernels' thread count (engine/cpu_threads.h).
#include "engine/cpu_threads.h"

#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "engine/check.h"
#include "kernels/gemm/gemm.h"

namespace spk {

namespace {

int default_threads() {
  // OMP_NUM_THREADS is a list ("4,2" for nested levels); the first entry is the outer level's count.
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && n > 0 && n < 1 << 16) return int(n);
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? int(hw) : 1;
}

thread_local int t_thread_override = 0;   // 0: none (SingleThreadScope sets 1)

std::atomic<int>& chosen() {
  static std::atomic<int> n{0};   // 0: the default
  return n;
}

}  // namespace

int cpu_threads() {
  if (t_thread_override > 0) return t_thread_override;
  const int n = chosen().load(std::memory_order_relaxed);
  if (n > 0) return n;
  static const int fallback = default_threads();
  return fallback;
}

void set_cpu_threads(int n) {
  SPK_CHECK(n >= 0, "set_cpu_threads: thread count must be >= 1 (or 0 for the default), got ", n);
  chosen().store(n, std::memory_order_relaxed);
}

SingleThreadScope::SingleThreadScope()
    : saved_(t_thread_override), blas_(std::make_unique<BlasSingleThread>()) {
  t_thread_override = 1;
}

SingleThreadScope::~SingleThreadScope() { t_thread_override = saved_; }

}  // namespace spk
