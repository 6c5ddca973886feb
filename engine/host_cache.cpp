// The host block cache (see host_cache.h): free lists keyed by rounded size, under one mutex.
#include "engine/host_cache.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace spk {

namespace {

constexpr size_t kMinCachedBytes = size_t(256) << 10;   // smaller blocks live in malloc's heap already
constexpr size_t kPage = 4096;

size_t rounded(size_t bytes) {
  return bytes < kMinCachedBytes ? (std::max<size_t>(bytes, 1) + 63) / 64 * 64 : (bytes + kPage - 1) / kPage * kPage;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;   // rounded size -> blocks
  size_t held = 0;
  size_t limit = size_t(4) << 30;
};

// Never destroyed: tensors in statics free their storage during static destruction.
Cache& cache() {
  static auto* c = new Cache();
  return *c;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t n = rounded(bytes);
  if (n >= kMinCachedBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(n);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.held -= n;
      return p;
    }
  }
  return std::aligned_alloc(64, n);
}

void host_free(void* p, size_t bytes) {
  if (!p) return;
  const size_t n = rounded(bytes);
  if (n >= kMinCachedBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.held + n <= c.limit) {
      auto& list = c.free[n];
      list.reserve(list.size() + 1);   // a throw here would leak p: reserve first, then it cannot
      list.push_back(p);
      c.held += n;
      return;
    }
  }
  std::free(p);
}

size_t host_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.held;
}

size_t host_cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.limit;
}

void set_host_cache_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.limit = bytes;
  for (auto it = c.free.begin(); it != c.free.end() && c.held > c.limit; ++it)
    while (!it->second.empty() && c.held > c.limit) {
      std::free(it->second.back());
      it->second.pop_back();
      c.held -= it->first;
    }
}

void host_cache_release() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [n, list] : c.free)
    for (void* p : list) std::free(p);
  c.free.clear();
  c.held = 0;
}

}  // namespace spk
