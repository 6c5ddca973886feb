// The host block cache (engine/host_cache.h): a freed large block comes back for the next tensor of its size,
// small blocks bypass it, the cap is honoured, and tensors built on reused blocks hold what is written to them.
#include "engine/host_cache.h"
#include "engine/tensor.h"
#include "support/check.h"

using namespace spk;

TEST_CASE("host cache reuses large blocks, skips small ones, honours its cap") {
  host_cache_release();
  const size_t big = size_t(3) << 20;
  void* a = host_alloc(big);
  REQUIRE(a != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  host_free(a, big);
  CHECK(host_cache_bytes() >= big);
  void* b = host_alloc(big - 100);   // same 4 KiB-rounded size: the cached block
  CHECK(b == a);
  CHECK(host_cache_bytes() == 0);
  host_free(b, big - 100);
  void* small = host_alloc(1000);
  host_free(small, 1000);
  CHECK(host_cache_bytes() == big);   // the small block was not cached
  const size_t saved = host_cache_limit();
  set_host_cache_limit(0);            // over the cap: the cached block goes back to the system
  CHECK(host_cache_bytes() == 0);
  void* c = host_alloc(big);
  host_free(c, big);
  CHECK(host_cache_bytes() == 0);
  set_host_cache_limit(saved);
  // A tensor on a reused block holds exactly what it is given (reuse must not leak the old contents).
  { Tensor t = Tensor::full({1 << 20}, 7.0); }
  Tensor u = Tensor::zeros({1 << 20});
  CHECK(u.data<float>()[12345] == 0.0f);
  host_cache_release();
  CHECK(host_cache_bytes() == 0);
}
