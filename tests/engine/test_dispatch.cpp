// dispatch(): the CPU function runs with the tensor's scalar type and its result comes back; a dtype
// without CPU kernels is refused naming the op, at the caller's file; data_or_null<T>() maps an undefined
// tensor to null and checks the dtype of a defined one.
#include <string>
#include <type_traits>

#include "engine/dispatch.h"
#include "support/check.h"

using namespace spk;

namespace {

// Which scalar type dispatch chose, as the byte size of T; the CUDA function must not run for CPU tensors.
int scalar_size(const Tensor& t) {
  return dispatch("probe", t,
      [&]<class T>() {
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
        return int(sizeof(*t.data<T>()));
      },
      [&](void*) -> int { FAIL("the CUDA function ran for a CPU tensor"); return -1; });
}

}  // namespace

TEST_CASE("dispatch: CPU tensors reach cpu_fn with their scalar type, other dtypes are refused") {
  CHECK(scalar_size(Tensor::zeros({2}, DType::f32)) == 4);
  CHECK(scalar_size(Tensor::zeros({2}, DType::f64)) == 8);
  CHECK_THROWS_WITH_AS(scalar_size(Tensor::zeros({2}, DType::i64)),
                       doctest::Contains("probe: unsupported dtype i64 (f32 or f64 expected)"), Error);
  // The error points at the op that dispatched, not at engine/dispatch.h.
  std::string what;
  try {
    scalar_size(Tensor::zeros({2}, DType::i64));
  } catch (const Error& e) {
    what = e.what();
  }
  CHECK(what.find("test_dispatch.cpp:") != std::string::npos);
  CHECK(what.find("dispatch.h:") == std::string::npos);
}

TEST_CASE("data_or_null: null for an undefined tensor, typed and checked for a defined one") {
  CHECK(data_or_null<float>(Tensor()) == nullptr);
  Tensor t = Tensor::zeros({3}, DType::f64);
  CHECK(data_or_null<double>(t) == t.data<double>());
  CHECK_THROWS_WITH_AS(data_or_null<float>(t), doctest::Contains("data<T>: tensor is"), Error);
}
