// The CUDA caching allocator's bookkeeping (engine/block_pool.h) on host memory: rounding, best-fit reuse,
// splitting, merging, the free-cache retry when the backend runs out, and that many distinct request sizes
// (whole-utterance evaluation) stop growing the reserved memory once the pool has seen the largest.
#include <cstdlib>
#include <random>
#include <vector>

#include "engine/block_pool.h"
#include "support/check.h"

using namespace spk;

namespace {

// Host memory with an optional capacity: malloc returns nullptr beyond it, as cudaMalloc's out-of-memory.
struct HostBackend {
  size_t capacity = SIZE_MAX, held = 0;
  int releases = 0;   // before_release calls
  std::vector<std::pair<void*, size_t>> segments;

  static void* do_malloc(void* ctx, size_t n) {
    auto* h = static_cast<HostBackend*>(ctx);
    if (h->held + n > h->capacity) return nullptr;
    void* p = std::aligned_alloc(BlockPool::kAlign, n);
    REQUIRE(p != nullptr);
    h->held += n;
    h->segments.emplace_back(p, n);
    return p;
  }
  static void do_free(void* ctx, void* p) {
    auto* h = static_cast<HostBackend*>(ctx);
    for (auto it = h->segments.begin(); it != h->segments.end(); ++it)
      if (it->first == p) {
        h->held -= it->second;
        h->segments.erase(it);
        std::free(p);
        return;
      }
    FAIL("freed a pointer that is not a segment start");
  }
  static void do_before_release(void* ctx) { ++static_cast<HostBackend*>(ctx)->releases; }
  BlockPoolBackend backend() { return {&do_malloc, &do_free, &do_before_release, this}; }
  ~HostBackend() {
    for (auto& [p, n] : segments) std::free(p);
  }
};

constexpr size_t MiB = size_t(1) << 20;

}  // namespace

TEST_CASE("block pool: rounding and segment sizes") {
  CHECK(BlockPool::round_request(0) == 512);
  CHECK(BlockPool::round_request(1) == 512);
  CHECK(BlockPool::round_request(513) == 1024);
  CHECK(BlockPool::round_request(3 * MiB + 1) == 3 * MiB + 512);
  CHECK(BlockPool::segment_size(512) == 2 * MiB);
  CHECK(BlockPool::segment_size(MiB) == 2 * MiB);
  CHECK(BlockPool::segment_size(MiB + 512) == 20 * MiB);
  CHECK(BlockPool::segment_size(11 * MiB) == 12 * MiB);
}

TEST_CASE("block pool: small requests share a segment, are aligned, and come back merged") {
  HostBackend host;
  BlockPool pool(host.backend());
  std::vector<void*> ps;
  for (size_t n : {1, 600, 4096, 100000, 512}) ps.push_back(pool.allocate(n));
  CHECK(pool.stats().backend_mallocs == 1);   // one 2 MiB segment serves all five
  for (void* p : ps) CHECK(reinterpret_cast<uintptr_t>(p) % BlockPool::kAlign == 0);
  CHECK(pool.stats().bytes_in_use == 512 + 1024 + 4096 + 100352 + 512);
  CHECK(pool.stats().bytes_reserved == 2 * MiB);
  // Freed in an order that leaves holes first, then fills them: the segment ends as one free block.
  for (size_t i : {1u, 3u, 0u, 4u, 2u}) pool.deallocate(ps[i]);
  CHECK(pool.stats().bytes_in_use == 0);
  CHECK(pool.free_blocks() == 1);
  CHECK(pool.live_blocks() == 0);
}

TEST_CASE("block pool: a freed large block is split for smaller requests and reused") {
  HostBackend host;
  BlockPool pool(host.backend());
  void* big = pool.allocate(60 * MiB);
  CHECK(pool.stats().backend_mallocs == 1);
  pool.deallocate(big);
  void* a = pool.allocate(25 * MiB);
  void* b = pool.allocate(30 * MiB);
  CHECK(pool.stats().backend_mallocs == 1);   // both cut from the cached 60 MiB
  CHECK(a == big);
  CHECK(static_cast<char*>(b) == static_cast<char*>(a) + 25 * MiB);
  pool.deallocate(a);
  pool.deallocate(b);
  CHECK(pool.free_blocks() == 1);   // merged back into the whole segment
  CHECK(pool.allocate(60 * MiB) == big);
}

TEST_CASE("block pool: out of memory releases free segments and retries once") {
  HostBackend host;
  host.capacity = 64 * MiB;
  BlockPool pool(host.backend());
  void* a = pool.allocate(40 * MiB);
  pool.deallocate(a);   // cached, and too small for the next request
  void* b = pool.allocate(50 * MiB);
  REQUIRE(b != nullptr);
  CHECK(host.releases == 1);
  CHECK(pool.stats().backend_frees == 1);
  CHECK(pool.stats().bytes_reserved == 50 * MiB);
  // Nothing left to release: the backend's refusal reaches the caller as nullptr.
  CHECK(pool.allocate(30 * MiB) == nullptr);
  pool.deallocate(b);
}

TEST_CASE("block pool: a pointer it does not own is refused") {
  HostBackend host;
  BlockPool pool(host.backend());
  void* p = pool.allocate(1000);
  pool.deallocate(p);
  CHECK_THROWS_WITH_AS(pool.deallocate(p), doctest::Contains("not a live block"), Error);
  int x = 0;
  CHECK_THROWS_AS(pool.deallocate(&x), Error);
}

// Evaluation embeds one file at a time, each of its own length: every request size differs. With exact size
// classes each size kept its own block; here the reserved memory must stop growing once the largest has been
// seen, and stay within a small factor of what is live at once.
TEST_CASE("block pool: many distinct lengths do not grow the reserve without bound") {
  HostBackend host;
  BlockPool pool(host.backend());
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<size_t> frames(100, 3000);
  size_t peak_live_set = 0;
  uint64_t mallocs_after_warmup = 0;
  for (int file = 0; file < 400; ++file) {
    // A forward pass: a few activations proportional to the length (bytes per frame of a small model).
    const size_t T = frames(rng);
    std::vector<void*> acts;
    size_t live = 0;
    for (size_t per_frame : {40960u, 20480u, 81920u, 2048u}) {
      acts.push_back(pool.allocate(T * per_frame + 123));
      live += T * per_frame;
    }
    peak_live_set = std::max(peak_live_set, live);
    for (void* p : acts) pool.deallocate(p);
    if (file == 199) mallocs_after_warmup = pool.stats().backend_mallocs;
  }
  INFO("reserved ", pool.stats().bytes_reserved, ", largest live set ", peak_live_set, ", segments ",
       pool.stats().backend_mallocs);
  CHECK(pool.stats().bytes_reserved <= 2 * peak_live_set + 40 * MiB);
  CHECK(pool.stats().backend_mallocs <= mallocs_after_warmup + 2);   // (400 distinct sizes, no new segments)
  CHECK(pool.stats().bytes_in_use == 0);
}
