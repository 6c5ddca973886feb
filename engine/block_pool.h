// The bookkeeping of the CUDA caching allocator (engine/cuda_cuda.cpp), kept apart from the CUDA runtime so
// that the tests run it on host memory (tests/engine/test_block_pool.cpp): the backend is two plain functions.
//
// Why not exact size classes (the allocator before this one): a class is reused only by a request of the
// same class, so whole-utterance evaluation, where every file has its own length, cached one block per
// length and grew without bound. Here, as in PyTorch's CUDACachingAllocator:
//   - requests are rounded (512 B steps up to 1 MiB, 2 MiB steps... see round_request) and served best-fit
//     from cached blocks of any size, splitting off the tail when it is large enough to be useful;
//   - blocks come from segments (one backend malloc each): small requests share 2 MiB segments, requests
//     under 10 MiB share 20 MiB segments, larger ones get a segment of their own rounded to 2 MiB;
//   - a freed block merges with free neighbours of its segment, so the memory of many lengths flows back
//     into one large block instead of staying cut up;
//   - when the backend refuses a segment, the segments that are wholly free are returned and the malloc is
//     tried once more (the "free-cache retry"), before the caller reports out-of-memory.
// Small (<= 1 MiB) and large requests use separate segments, so short-lived per-channel vectors do not pin
// large segments.
//
// Not thread-safe: the caller holds its lock. Stream ordering is the caller's rule (engine/cuda_cuda.cpp,
// "the one-stream rule"): a freed block is reusable at once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <unordered_map>

namespace spk {

struct BlockPoolBackend {
  // Returns nullptr when the memory is not there (the pool then releases free segments and tries again);
  // throws for any other failure.
  void* (*malloc)(void* ctx, size_t bytes) = nullptr;
  void (*free)(void* ctx, void* ptr) = nullptr;
  // Called before segments are returned (CUDA: synchronise the device, since a cached block may still be
  // read by a queued kernel). May be null.
  void (*before_release)(void* ctx) = nullptr;
  void* ctx = nullptr;
};

struct BlockPoolStats {
  size_t bytes_in_use = 0;      // rounded sizes of the live blocks
  size_t bytes_reserved = 0;    // sum of the segments held from the backend
  size_t peak_bytes_in_use = 0;
  uint64_t backend_mallocs = 0;   // segments ever obtained: flat once the workload's shapes have been seen
  uint64_t backend_frees = 0;
  size_t bytes_cached() const { return bytes_reserved - bytes_in_use; }
};

class BlockPool {
 public:
  static constexpr size_t kAlign = 512;                   // every block starts on a 512 B boundary
  static constexpr size_t kSmallRequest = size_t(1) << 20;   // <= this: the small pool
  static constexpr size_t kSmallSegment = size_t(2) << 20;
  static constexpr size_t kMidRequest = size_t(10) << 20;    // < this: a shared 20 MiB segment
  static constexpr size_t kMidSegment = size_t(20) << 20;
  static constexpr size_t kLargeStep = size_t(2) << 20;       // larger segments: rounded to 2 MiB
  static constexpr size_t kMinLargeSplit = size_t(1) << 20;   // a large block's tail is split off only if >= this

  explicit BlockPool(BlockPoolBackend backend);
  ~BlockPool();   // returns nothing to the backend (the CUDA allocator leaks at exit on purpose; see its file)
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A block of at least `bytes` (zero-byte requests get a real block), or nullptr when the backend has no
  // memory even after the pool's free segments were returned.
  void* allocate(size_t bytes);
  // Throws spk::Error if ptr is not a live block of this pool.
  void deallocate(void* ptr);
  // Returns every wholly free segment to the backend.
  void release_free_segments();
  // The rounded size a request is served with (its block may be larger when the tail was too small to split).
  static size_t round_request(size_t bytes);
  // The segment size obtained for a request that no cached block fits.
  static size_t segment_size(size_t rounded);

  const BlockPoolStats& stats() const { return stats_; }
  size_t live_blocks() const { return live_.size(); }
  size_t free_blocks() const;

 private:
  struct Block;
  struct BySize {
    bool operator()(const Block* a, const Block* b) const;
  };
  using FreeSet = std::set<Block*, BySize>;

  FreeSet& pool_for(size_t rounded) { return rounded <= kSmallRequest ? small_ : large_; }
  Block* take_best_fit(FreeSet& set, size_t rounded);
  Block* new_segment(FreeSet& set, size_t rounded);
  void split(Block* b, size_t rounded, FreeSet& set);
  void merge_into(Block* b, Block* neighbour, FreeSet& set);

  BlockPoolBackend backend_;
  FreeSet small_, large_;
  std::unordered_map<void*, Block*> live_;
  BlockPoolStats stats_;
};

}  // namespace spk
