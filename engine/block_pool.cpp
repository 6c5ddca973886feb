// Best-fit, splitting, merging block pool over backend segments (see block_pool.h for why).
#include "engine/block_pool.h"

#include <tuple>
#include <vector>

#include "engine/check.h"

namespace spk {

// A run of bytes inside one segment. prev/next are the neighbours in address order within the segment
// (null at its ends), so a block with neither is a whole segment.
struct BlockPool::Block {
  char* ptr = nullptr;
  size_t size = 0;
  bool allocated = false;
  bool small = false;   // which free set it belongs to
  Block* prev = nullptr;
  Block* next = nullptr;
};

bool BlockPool::BySize::operator()(const Block* a, const Block* b) const {
  return std::tie(a->size, a->ptr) < std::tie(b->size, b->ptr);
}

static size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }

BlockPool::BlockPool(BlockPoolBackend backend) : backend_(backend) {
  SPK_CHECK(backend_.malloc && backend_.free, "BlockPool: the backend needs malloc and free");
}

BlockPool::~BlockPool() {
  for (auto* set : {&small_, &large_})
    for (Block* b : *set) delete b;
  for (auto& [p, b] : live_) delete b;
}

size_t BlockPool::round_request(size_t bytes) { return bytes < kAlign ? kAlign : round_up(bytes, kAlign); }

size_t BlockPool::segment_size(size_t rounded) {
  if (rounded <= kSmallRequest) return kSmallSegment;
  if (rounded < kMidRequest) return kMidSegment;
  return round_up(rounded, kLargeStep);
}

size_t BlockPool::free_blocks() const { return small_.size() + large_.size(); }

BlockPool::Block* BlockPool::take_best_fit(FreeSet& set, size_t rounded) {
  Block key;
  key.size = rounded;
  key.ptr = nullptr;
  auto it = set.lower_bound(&key);   // the smallest free block that fits
  if (it == set.end()) return nullptr;
  Block* b = *it;
  set.erase(it);
  return b;
}

BlockPool::Block* BlockPool::new_segment(FreeSet& set, size_t rounded) {
  const size_t seg = segment_size(rounded);
  void* p = backend_.malloc(backend_.ctx, seg);
  if (!p) {
    release_free_segments();   // the free-cache retry
    p = backend_.malloc(backend_.ctx, seg);
    if (!p) return nullptr;
  }
  auto* b = new Block();
  b->ptr = static_cast<char*>(p);
  b->size = seg;
  b->small = &set == &small_;
  stats_.bytes_reserved += seg;
  ++stats_.backend_mallocs;
  return b;
}

// Cuts `b` down to `rounded` when the tail is worth keeping as a free block of its own.
void BlockPool::split(Block* b, size_t rounded, FreeSet& set) {
  const size_t rest = b->size - rounded;
  if (rest < (b->small ? kAlign : kMinLargeSplit)) return;
  auto* tail = new Block();
  tail->ptr = b->ptr + rounded;
  tail->size = rest;
  tail->small = b->small;
  tail->prev = b;
  tail->next = b->next;
  if (b->next) b->next->prev = tail;
  b->next = tail;
  b->size = rounded;
  set.insert(tail);
}

void* BlockPool::allocate(size_t bytes) {
  SPK_CHECK(bytes <= (size_t(1) << 60), "BlockPool: request of ", bytes, " bytes is absurd");
  const size_t rounded = round_request(bytes);
  FreeSet& set = pool_for(rounded);
  Block* b = take_best_fit(set, rounded);
  if (!b) b = new_segment(set, rounded);
  if (!b) return nullptr;
  split(b, rounded, set);
  b->allocated = true;
  live_.emplace(b->ptr, b);
  stats_.bytes_in_use += b->size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return b->ptr;
}

// Absorbs the free `neighbour` (b's prev or next) into b.
void BlockPool::merge_into(Block* b, Block* neighbour, FreeSet& set) {
  set.erase(neighbour);
  if (neighbour == b->prev) {
    b->ptr = neighbour->ptr;
    b->prev = neighbour->prev;
    if (b->prev) b->prev->next = b;
  } else {
    b->next = neighbour->next;
    if (b->next) b->next->prev = b;
  }
  b->size += neighbour->size;
  delete neighbour;
}

void BlockPool::deallocate(void* ptr) {
  auto it = live_.find(ptr);
  SPK_CHECK(it != live_.end(), "BlockPool: pointer ", ptr, " is not a live block of this pool (freed twice, or "
            "allocated elsewhere)");
  Block* b = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= b->size;
  b->allocated = false;
  FreeSet& set = b->small ? small_ : large_;
  if (b->prev && !b->prev->allocated) merge_into(b, b->prev, set);
  if (b->next && !b->next->allocated) merge_into(b, b->next, set);
  set.insert(b);
}

void BlockPool::release_free_segments() {
  std::vector<Block*> whole;
  for (auto* set : {&small_, &large_})
    for (Block* b : *set)
      if (!b->prev && !b->next) whole.push_back(b);
  if (whole.empty()) return;
  if (backend_.before_release) backend_.before_release(backend_.ctx);
  for (Block* b : whole) {
    (b->small ? small_ : large_).erase(b);
    backend_.free(backend_.ctx, b->ptr);
    stats_.bytes_reserved -= b->size;
    ++stats_.backend_frees;
    delete b;
  }
}

}  // namespace spk
