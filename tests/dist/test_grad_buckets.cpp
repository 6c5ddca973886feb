// GradBuckets (engine/dist/grad_buckets.h): gradients all-reduced in buckets started during the backward pass
// against the all-reduce after it (the [flags, gradients...] list mean that apps/recipe's average_gradients takes),
// bit for bit. Runs in spk_test_dist: under `mpirun -np 2` (dist_communicator) and alone (world size 1).
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "engine/autograd.h"
#include "engine/dist/communicator.h"
#include "engine/dist/grad_buckets.h"
#include "engine/ops.h"
#include "engine/rng.h"

using namespace spk;
using namespace spk::dist;

namespace {

Communicator& comm() {
  static std::unique_ptr<Communicator> c = built_with_mpi() ? make_mpi_communicator() : make_single_communicator();
  return *c;
}

// f64 -> f32 with a gradient (Tensor::to records none).
Tensor to_f32(const Tensor& x) {
  return record("to_f32", x.detach().to(DType::f32), {x}, [](const Tensor& g) { return std::vector<Tensor>{g.to(DType::f64)}; });
}

// Parameters in registration order: one no rank uses, sizes across bucket boundaries, one that rank 1 does not use,
// an f64 one (a bucket of its own dtype).
struct Model {
  std::vector<Tensor> p;
  explicit Model(uint64_t seed) {
    Rng rng(seed);
    for (int64_t n : {4, 64, 15, 300, 7}) p.push_back(Tensor::uniform({n}, rng, -1, 1).set_requires_grad(true));
    p.push_back(Tensor::uniform({3, 5}, rng, -1, 1, DType::f64).set_requires_grad(true));
  }
  // A loss that differs per rank (its inputs come from the rank's seed).
  Tensor loss(int rank) const {
    Rng rng(100 + uint64_t(rank));
    Tensor x0 = Tensor::uniform({64}, rng, -1, 1), x2 = Tensor::uniform({300}, rng, -1, 1);
    Tensor y = add(sum(tanh(mul(p[1], x0))), mul(sum(mul(p[2], p[2])), sum(p[1])));
    y = add(y, sum(mul(tanh(p[3]), x2)));
    if (rank != 1) y = add(y, sum(mul(p[4], p[4])));                 // p[4]: a gradient on rank 0 only
    y = add(y, sum(mul(p[3], p[3])));                               // p[3] used twice (fan-in)
    y = add(y, to_f32(sum(tanh(p[5]))));
    return y;                                                       // p[0]: never used
  }
};

// The after-backward path: one list all-reduce of [flags, gradients (scaled; zeros where none)], mean.
std::vector<Tensor> reference(Communicator& c, const std::vector<Tensor>& params, double scale) {
  Tensor has = Tensor::zeros({int64_t(params.size())}, DType::f32);
  std::vector<Tensor> ts = {has};
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = params[i].grad();
    if (g.defined()) has.data<float>()[i] = 1;
    ts.push_back(!g.defined() ? Tensor::zeros(params[i].shape(), params[i].dtype())
                 : scale == 1.0 ? g : mul_scalar(g, scale));
  }
  const std::vector<Tensor> mean = c.all_reduce(ts, ReduceOp::mean);
  std::vector<Tensor> out;
  for (size_t i = 0; i < params.size(); ++i) out.push_back(mean[0].to_double()[i] > 0 ? mean[i + 1] : Tensor());
  return out;
}

}  // namespace

TEST_CASE("gradient buckets started during backward equal the all-reduce after it, bit for bit") {
  Communicator& c = comm();
  const int W = c.world_size(), r = c.rank();
  for (const int64_t cap : {int64_t(400), int64_t(25) << 20}) {   // several buckets; one per dtype
    CAPTURE(cap);
    Model a(7), b(7);
    GradBuckets buckets(c, a.p, cap);
    // Reverse registration order, one dtype per bucket: [5] (f64), then f32 [4] [3] [2 1 0] at 400 bytes (300
    // floats alone exceed it), [4 3 2 1 0] at 25 MB.
    REQUIRE(buckets.num_buckets() == (cap == 400 ? 4u : 2u));
    CHECK(buckets.bucket_params(0) == std::vector<size_t>{5});
    CHECK(buckets.bucket_params(buckets.num_buckets() - 1).back() == 0);
    if (cap == 400) CHECK(buckets.bucket_params(1) == std::vector<size_t>{4});
    for (int step = 0; step < 3; ++step) {
      CAPTURE(step);
      const double scale = step == 1 ? 0.75 : 1.0;
      // step 2: rank 1 has an empty batch (no backward), as --skip_bad_files can leave one
      const bool empty = step == 2 && r == 1;
      buckets.backward(empty ? Tensor() : a.loss(r), scale);
      buckets.apply();
      if (!empty) b.loss(r).backward();
      const std::vector<Tensor> want = W == 1 ? b.p : reference(c, b.p, scale);
      for (size_t i = 0; i < a.p.size(); ++i) {
        CAPTURE(i);
        const Tensor got = a.p[i].grad();
        const Tensor exp = W == 1 ? b.p[i].grad() : want[i];
        REQUIRE(got.defined() == exp.defined());
        if (got.defined()) CHECK(got.to_double() == exp.to_double());   // exact
      }
      CHECK(!a.p[0].grad().defined());
      // Started before backward ended: in order, up to the first bucket holding a parameter the graph did not
      // reach (p[0]; p[4] on rank 1).
      if (W > 1 && !empty)
        CHECK(buckets.started_during_backward() == (cap == 400 && r == 0 ? 3u : 1u));
      for (Tensor& t : a.p) t.zero_grad();
      for (Tensor& t : b.p) t.zero_grad();
    }
  }
}

TEST_CASE("gradient buckets: a step dropped (discard) leaves the gradients as they were and the next is whole") {
  Communicator& c = comm();
  Model a(3);
  GradBuckets buckets(c, a.p, 400);
  buckets.backward(a.loss(c.rank()));
  const std::vector<double> local = a.p[1].grad().to_double();
  buckets.discard();
  CHECK(a.p[1].grad().to_double() == local);
  for (Tensor& t : a.p) t.zero_grad();
  buckets.backward(a.loss(c.rank()));
  buckets.apply();
  CHECK(a.p[1].grad().defined());
  if (c.world_size() > 1) CHECK_THROWS_WITH_AS(buckets.apply(), doctest::Contains("without a backward"), Error);
}
