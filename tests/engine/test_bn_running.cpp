// Batch norm's running statistics, now updated where the batch statistics are made (kernels/norm/norm.h,
// batch_norm_update_running_cpu; on a GPU inside the finalising kernel), against the engine-op update they
// replaced, bit for bit. The op still takes that path for strided running statistics, so a strided view of the
// same values gives the reference: every mix of f32/f64 input and statistics, several momenta and steps.
#include <cstring>

#include "engine/ops.h"
#include "engine/rng.h"
#include "support/check.h"

using namespace spk;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor x = a.contiguous(), y = b.contiguous();
  return x.dtype() == y.dtype() && x.numel() == y.numel() &&
         std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * dtype_size(x.dtype())) == 0;
}

// A (C) view with stride 2 into a (2C) tensor: not contiguous, so batch_norm updates it by engine ops.
Tensor strided(const Tensor& dense) {
  const int64_t C = dense.size(0);
  Tensor view = slice(Tensor::zeros({2 * C}, dense.dtype()), 0, 0, 2 * C, 2);
  view.copy_(dense);
  return view;
}

}  // namespace

TEST_CASE("batch norm running statistics: the fused update equals the engine-op update bit for bit") {
  const int64_t C = 5;
  for (DType xt : {DType::f32, DType::f64})
    for (DType rt : {DType::f32, DType::f64})
      for (double momentum : {0.1, 0.37, 1.0}) {
        Rng rng(17);
        Tensor rm = test::rand_input({C}, rng).detach().to(rt), rv = test::rand_input({C}, rng, 0.5, 2).detach().to(rt);
        Tensor rm_ref = strided(rm), rv_ref = strided(rv);
        REQUIRE(!rm_ref.is_contiguous());
        for (int step = 0; step < 4; ++step) {
          const Tensor x = test::rand_input({3, C, 7}, rng, -3, 5).detach().to(xt);
          const Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, momentum, 1e-5);
          const Tensor y_ref = batch_norm(x, Tensor(), Tensor(), rm_ref, rv_ref, true, momentum, 1e-5);
          CHECK(same_bits(y, y_ref));
          CHECK_MESSAGE(same_bits(rm, rm_ref), dtype_name(xt), " input, ", dtype_name(rt), " stats, momentum ",
                        momentum, ", step ", step, ": running_mean differs");
          CHECK_MESSAGE(same_bits(rv, rv_ref), dtype_name(xt), " input, ", dtype_name(rt), " stats, momentum ",
                        momentum, ", step ", step, ": running_var differs");
        }
      }
}

TEST_CASE("batch_norm_relu updates the running statistics as batch_norm does") {
  Rng rng(4);
  Tensor rm = Tensor::zeros({3}, DType::f32), rv = Tensor::ones({3}, DType::f32);
  Tensor rm2 = strided(rm), rv2 = strided(rv);
  const Tensor x = test::rand_input({4, 3, 6}, rng).detach().to(DType::f32);
  (void)batch_norm_relu(x, Tensor(), Tensor(), rm, rv, true, 0.2, 1e-5);
  (void)batch_norm(x, Tensor(), Tensor(), rm2, rv2, true, 0.2, 1e-5);
  CHECK(same_bits(rm, rm2));
  CHECK(same_bits(rv, rv2));
}
