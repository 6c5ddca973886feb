// The CUDA runtime layer (engine/cuda.h, engine/cuda_cuda.cpp) and the copy kernels
// (kernels/copy/copy_cuda.cu): behaviour without a GPU, the error vocabulary, the caching allocator,
// transfers, casts, fills and strided copies. GPU cases skip visibly without a device; the no-GPU and
// error-formatting cases run on any machine.
#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/out_of_memory.h"
#include "support/check.h"
#if SPK_HAVE_CUDA
#include "engine/cuda_check.h"
#include "kernels/gemm/gemm.h"
#endif

using namespace spk;

namespace {

const DType kAllDtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64};

// Same value, bit for bit where it matters: NaN matches NaN (payloads may differ between CPU and GPU
// conversions), and the sign of zero must match.
void expect_same_values(const Tensor& got, const Tensor& ref, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == ref.shape(), what << ": shape " << shape_str(got.shape()) << " vs " << shape_str(ref.shape()));
  CHECK_MESSAGE(got.dtype() == ref.dtype(), what << ": dtype " << dtype_name(got.dtype()) << " vs " << dtype_name(ref.dtype()));
  std::vector<double> g = got.to_double(), r = ref.to_double();
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < g.size(); ++i) {
    const bool same = (std::isnan(g[i]) && std::isnan(r[i])) || (g[i] == r[i] && std::signbit(g[i]) == std::signbit(r[i]));
    if (!same && bad++ == 0) first = int64_t(i);
  }
  // The first difference goes into the check's own message: an INFO inside `if (bad)` would end with the `if`
  // and never be printed.
  std::ostringstream first_diff;
  if (bad) first_diff << "; first difference at " << first << ": got " << g[size_t(first)] << " expected " << r[size_t(first)];
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << g.size() << " values differ" << first_diff.str());
}

std::vector<uint8_t> host_bytes(const Tensor& t) {
  Tensor h = t.to(Device::cpu()).contiguous();
  std::vector<uint8_t> b(size_t(h.numel()) * dtype_size(h.dtype()));
  if (!b.empty()) std::memcpy(b.data(), h.data_ptr(), b.size());
  return b;
}

// Values every floating dtype must convert identically on both devices: signed zeros, f16 overflow
// (65520 rounds to inf) and subnormals, bf16 and f16 ties to even, f32 rounding of 2^24 + 1, huge values,
// infinities and NaN.
const std::vector<double> kFloatValues{0.0,        -0.0,    1.0,       -1.5,    1.0 / 3,   3.14159265358979,
                                       65504,      65520,   -65536,    1e-8,    6e-8,      3e-5,
                                       2049,       2051,    1.00390625, 1.01171875, 16777217, 1e30,
                                       -1e30,      1e300,   INFINITY,  -INFINITY, NAN,    -2.5e-39};
// Values that every dtype holds without overflow and that convert to integers without undefined
// behaviour (finite, in range of i32 and of f16).
const std::vector<double> kIntSafeValues{0, 1, -1, 7, -123, 2.5, -2.75, 2049, 60000, -60000};

}  // namespace

// ---------------------------------------------------------------------------------------------- no GPU

TEST_CASE("cuda runtime: without a GPU everything answers or throws spk::Error, never aborts") {
  CHECK(cuda::built_with_cuda() == bool(SPK_HAVE_CUDA));
  if (cuda::available()) { MESSAGE("GPU present: the no-GPU path is not exercised here"); return; }
  CHECK(cuda::device_count() == 0);
  cuda::synchronize();   // nothing in flight: a no-op
  cuda::empty_cache();
  CHECK(cuda::allocator_stats(0).device_mallocs == 0);
  CHECK_THROWS_AS(cuda::alloc(16, 0), Error);
  CHECK_THROWS_AS(cuda::current_stream(), Error);
  CHECK_THROWS_AS(cuda::cublas_handle(), Error);
  CHECK_THROWS_AS(cuda::set_device(0), Error);
  CHECK_THROWS_AS(cuda::device_name(0), Error);
  CHECK_THROWS_AS(Tensor::ones({3}, DType::f32, Device::cuda()), Error);
#if SPK_HAVE_CUDA
  CHECK_THROWS_WITH_AS(cuda::alloc(16, 0), doctest::Contains("no CUDA device available"), Error);
#endif
}

#if SPK_HAVE_CUDA
TEST_CASE("cuda error vocabulary: messages carry the expression, the error name and file:line") {
  auto fail = [] { SPK_CUDA_CHECK(cudaErrorInvalidValue); };
  CHECK_THROWS_WITH_AS(fail(), doctest::Contains("CUDA error: cudaErrorInvalidValue: cudaErrorInvalidValue"), Error);
  CHECK_THROWS_WITH_AS(fail(), doctest::Contains("test_cuda_runtime.cpp:"), Error);
  auto fail_blas = [] { SPK_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE); };
  CHECK_THROWS_WITH_AS(fail_blas(), doctest::Contains("cuBLAS error: CUBLAS_STATUS_INVALID_VALUE: CUBLAS_STATUS_INVALID_VALUE"), Error);
  SPK_CUDA_CHECK_NOTHROW(cudaSuccess);   // silent on success
  SPK_CUDA_CHECK(cudaSuccess);
}

TEST_CASE("gemm_cuda rejects sizes cuBLAS cannot take before touching the GPU") {
  GemmArgs g;
  g.M = int64_t(1) << 32; g.N = 2; g.K = 2; g.lda = 2; g.ldb = 2; g.ldc = 2;
  CHECK_THROWS_WITH_AS(gemm_cuda(g, nullptr, nullptr, nullptr, nullptr), doctest::Contains("32-bit"), Error);
  g.M = 3; g.lda = 1;   // a row of A (K = 2 wide) does not fit in lda = 1
  CHECK_THROWS_WITH_AS(gemm_cuda(g, nullptr, nullptr, nullptr, nullptr), doctest::Contains("leading dimensions"), Error);
}
#endif

// ---------------------------------------------------------------------------------------------- device

TEST_CASE("cuda runtime: device, stream and cuBLAS handle") {
  if (!test::gpu_or_skip()) return;
  CHECK(cuda::device_count() >= 1);
  CHECK(cuda::current_device() >= 0);
  CHECK(std::strlen(cuda::device_name(0)) > 0);
  MESSAGE("device 0: " << cuda::device_name(0));
  void* s = cuda::current_stream();
  CHECK(s != nullptr);
  CHECK(cuda::current_stream() == s);   // one stream per device, created once
  void* h = cuda::cublas_handle();
  CHECK(h != nullptr);
  CHECK(cuda::cublas_handle() == h);
  cuda::synchronize();
  CHECK_THROWS_WITH_AS(cuda::set_device(cuda::device_count()), doctest::Contains("does not exist"), Error);
}

// ---------------------------------------------------------------------------------------------- allocator

TEST_CASE("cuda allocator: steady-state alloc/free cycles never call cudaMalloc") {
  if (!test::gpu_or_skip()) return;
  cuda::synchronize();
  const auto before = cuda::allocator_stats(0);
  // The first cycle may allocate; every later one must be served from the cache.
  { Tensor a = Tensor::empty({1000}, DType::f32, Device::cuda()), b = Tensor::empty({3, 1 << 18}, DType::f32, Device::cuda()); }
  const auto warmed = cuda::allocator_stats(0);
  CHECK(warmed.device_mallocs - before.device_mallocs <= 2);
  for (int i = 0; i < 100; ++i) {
    Tensor a = Tensor::empty({1000}, DType::f32, Device::cuda());
    Tensor b = Tensor::empty({3, 1 << 18}, DType::f32, Device::cuda());
    Tensor c = Tensor::empty({1001}, DType::f32, Device::cuda());   // same 4 KiB class as a: a new block only once
    if (i == 0) CHECK(cuda::allocator_stats(0).device_mallocs <= warmed.device_mallocs + 1);
  }
  const auto after = cuda::allocator_stats(0);
  CHECK(after.device_mallocs <= warmed.device_mallocs + 1);
  CHECK(after.bytes_in_use == before.bytes_in_use);
  CHECK(after.peak_bytes_in_use >= before.bytes_in_use + 3 * (size_t(1) << 20));

  // A request is rounded to its size class: at least the request, at most 1/8 more above 1 MiB.
  {
    const size_t req = 3 * (size_t(1) << 20) + 4;
    Tensor t = Tensor::empty({int64_t(req)}, DType::f32, Device::cuda());
    const size_t in_use = cuda::allocator_stats(0).bytes_in_use - after.bytes_in_use;
    CHECK(in_use >= req * 4);
    CHECK(in_use <= req * 4 + req * 4 / 8);
  }
  // Zero-element tensors get a real block and free cleanly.
  { Tensor z = Tensor::empty({0, 5}, DType::f32, Device::cuda()); CHECK(z.to(Device::cpu()).numel() == 0); }

  cuda::empty_cache();
  CHECK(cuda::allocator_stats(0).bytes_cached == 0);
  const uint64_t m = cuda::allocator_stats(0).device_mallocs;
  { Tensor a = Tensor::empty({1000}, DType::f32, Device::cuda()); }
  CHECK(cuda::allocator_stats(0).device_mallocs == m + 1);   // the cache was really emptied
}

TEST_CASE("cuda allocator: out of memory names the request and the stats, and leaves the GPU usable") {
  if (!test::gpu_or_skip()) return;
  const size_t huge = size_t(1) << 50;   // 1 PiB
  CHECK_THROWS_WITH_AS(
      cuda::alloc(huge, 0),
      doctest::Contains("out of memory on cuda:0: cannot allocate 1048576.00 GiB (1125899906842624 bytes)"),
      OutOfMemoryError);
  CHECK_THROWS_WITH_AS(cuda::alloc(huge, 0), doctest::Contains("device mallocs"), Error);
  try {
    cuda::alloc(huge, 0);
    FAIL("no error");
  } catch (const OutOfMemoryError& e) {   // the figures an app's message is made of
    CHECK(e.device == "cuda:0");
    CHECK(e.requested_bytes == huge);
    CHECK(e.total_bytes > 0);
    CHECK(e.free_bytes <= e.total_bytes);
  }
  // The failed cudaMalloc must not linger as the runtime's last error: the next kernel launch check
  // would report it against an innocent kernel.
  Tensor x = Tensor::ones({5}, DType::f32, Device::cuda());
  test::expect_close(add(x, x), {2, 2, 2, 2, 2}, 0, 0, "add after a failed allocation");
  CHECK_THROWS_WITH_AS(cuda::free(reinterpret_cast<void*>(0x1000), 0), doctest::Contains("was not allocated"), Error);
  CHECK_THROWS_WITH_AS(cuda::alloc(16, cuda::device_count()), doctest::Contains("does not exist"), Error);
}

// ---------------------------------------------------------------------------------------------- transfers

TEST_CASE("cuda runtime: raw copies and memset through the caching allocator") {
  if (!test::gpu_or_skip()) return;
  std::vector<uint8_t> src(1000), back(1000, 0xAB);
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 37 + 11);
  void* a = cuda::alloc(src.size(), 0);
  void* b = cuda::alloc(src.size(), 0);
  cuda::copy_h2d(a, src.data(), src.size());
  cuda::copy_d2d(b, a, src.size());
  cuda::copy_d2h(back.data(), b, back.size());
  CHECK(back == src);
  cuda::memset_zero(static_cast<uint8_t*>(b) + 100, 500);
  cuda::copy_d2h(back.data(), b, back.size());
  for (size_t i = 0; i < back.size(); ++i) src[i] = (i >= 100 && i < 600) ? 0 : src[i];
  CHECK(back == src);
  cuda::copy_h2d(a, src.data(), 0);   // empty copies are no-ops
  cuda::free(a, 0);
  cuda::free(b, 0);
  CHECK_THROWS_WITH_AS(cuda::free(a, 0), doctest::Contains("freed twice"), Error);
}

TEST_CASE("cuda transfers: CPU -> GPU -> CPU is bit-exact for every dtype") {
  if (!test::gpu_or_skip()) return;
  for (DType t : kAllDtypes) {
    const auto& values = is_floating(t) ? kFloatValues : kIntSafeValues;
    for (int64_t reps : {1, 41}) {   // odd sizes, up to ~1000 elements
      std::vector<double> v;
      for (int64_t r = 0; r < reps; ++r) v.insert(v.end(), values.begin(), values.end());
      Tensor h = Tensor::from_vector(v, {int64_t(v.size())}, t);
      Tensor back = h.to(Device::cuda()).to(Device::cpu());
      CHECK_MESSAGE(host_bytes(back) == host_bytes(h), dtype_name(t) << " round trip of " << v.size() << " values");
      // GPU -> GPU copy (clone) too.
      CHECK_MESSAGE(host_bytes(h.to(Device::cuda()).clone()) == host_bytes(h), dtype_name(t) << " device clone");
    }
  }
}

TEST_CASE("cuda casts: every dtype pair converts exactly as the CPU does") {
  if (!test::gpu_or_skip()) return;
  for (DType src : kAllDtypes) {
    for (DType dst : kAllDtypes) {
      // Floats with infinities and NaN only go to floating dtypes (to an integer they are undefined).
      const bool specials = is_floating(src) && is_floating(dst);
      const auto& values = specials ? kFloatValues : kIntSafeValues;
      Tensor h = Tensor::from_vector(values, {int64_t(values.size())}, src);
      Tensor ref = h.to(dst);
      Tensor got = h.to(Device::cuda()).to(dst);
      CHECK(got.device().is_cuda());
      expect_same_values(got, ref, std::string("cast ") + dtype_name(src) + " -> " + dtype_name(dst));
    }
  }
}

TEST_CASE("cuda fill: every dtype, contiguous and strided, as the CPU") {
  if (!test::gpu_or_skip()) return;
  for (DType t : kAllDtypes) {
    for (double v : is_floating(t) ? std::vector<double>{0.0, -0.0, 1.5, -3, 65520, 1e-8, 0.1} : kIntSafeValues) {
      const std::string what = std::string("fill ") + dtype_name(t) + " " + std::to_string(v);
      expect_same_values(Tensor::full({1001}, v, t, Device::cuda()), Tensor::full({1001}, v, t), what);
      // A strided view: fill_ goes through a strided copy.
      Tensor g = Tensor::zeros({6, 7}, t, Device::cuda()), c = Tensor::zeros({6, 7}, t);
      transpose(g, 0, 1).fill_(v);
      transpose(c, 0, 1).fill_(v);
      Tensor gs = slice(g, 1, 1, 7, 2), cs = slice(c, 1, 1, 7, 2);
      gs.fill_(-v);
      cs.fill_(-v);
      expect_same_values(g, c, what + " into views");
    }
  }
}

TEST_CASE("cuda strided copies: permutes, steps and broadcasts of 2-, 4- and 8-byte elements") {
  if (!test::gpu_or_skip()) return;
  Rng rng(5);
  for (DType t : {DType::f16, DType::f32, DType::f64, DType::i64}) {
    Tensor h = Tensor::from_vector(Tensor::uniform({4, 5, 6, 7}, rng, -100, 100, DType::f64).to_double(), {4, 5, 6, 7}, t);
    Tensor g = h.to(Device::cuda());
    const std::string n = dtype_name(t);
    expect_same_values(permute(g, {3, 1, 0, 2}).contiguous(), permute(h, {3, 1, 0, 2}).contiguous(), n + " permute");
    expect_same_values(slice(slice(g, 3, 1, 7, 3), 0, 1, 4).contiguous(), slice(slice(h, 3, 1, 7, 3), 0, 1, 4).contiguous(),
                       n + " slices with a step and an offset");
    expect_same_values(expand(slice(g, 1, 2, 3), {4, 9, 6, 7}).contiguous(), expand(slice(h, 1, 2, 3), {4, 9, 6, 7}).contiguous(),
                       n + " broadcast source");
    // copy_ into a strided destination, from a differently strided source.
    Tensor gd = Tensor::zeros({7, 6, 5, 4}, t, Device::cuda()), hd = Tensor::zeros({7, 6, 5, 4}, t);
    permute(gd, {3, 2, 1, 0}).copy_(g);
    permute(hd, {3, 2, 1, 0}).copy_(h);
    expect_same_values(gd, hd, n + " copy_ into a permuted view");
    // Across devices into a view: CPU source, GPU strided destination.
    Tensor gd2 = Tensor::zeros({7, 6, 5, 4}, t, Device::cuda());
    permute(gd2, {3, 2, 1, 0}).copy_(h);
    expect_same_values(gd2, hd, n + " copy_ from the CPU into a permuted GPU view");
  }
}
