// CUDA-vs-CPU parity for the pooling, normalisation, dropout, concat and indexing ops (kernels/pool,
// kernels/norm, kernels/dropout, kernels/index, and concat through kernels/copy). Forward and backward on
// the GPU against the CPU reference in f32, on odd sizes, overlapping and padded windows, ties, strided
// views and tensors larger than one full grid (8192 blocks · 256 threads), so the grid-stride loops wrap.
// Without a GPU every case says it was skipped. None of these has run on a GPU yet (docs/cuda/ops.md).
//
// Tolerances, per tensor, |gpu − cpu| <= atol + rtol·|cpu| (NaN never passes):
//   kExact   bit-identical. The pooling, dropout, indexing and concat kernels do the CPU's arithmetic in
//            the CPU's order: max pools select with the same rule and add routed gradients in the same
//            (row-major output) order; avg pools sum in double in the same order; the backward kernels
//            gather per input element in the order the CPU scatters into it; dropout draws the same
//            Philox counters and multiplies by the same f32 scale; index/concat only move values.
//   kNorm    batch/instance norm and the fused batch_norm_relu: every sum is in double on both devices but
//            in a different order (block trees vs a serial loop), ~1e-16 relative, and the f32 results can
//            round differently when a double lands next to an f32 rounding boundary: one f32 ulp (6e-8
//            relative). Where the backward's M·g − Σg − x̂·Σgx̂ cancels, an ulp of the inputs' f32 rounding
//            becomes an absolute error of ~1e-7 of the terms (|terms| ~ a few): 1e-6 absolute, 1e-5
//            relative. Eval-mode invstd is 1/sqrt(var + eps) from IEEE add/sqrt/div, identical on both
//            devices, so batch_norm_relu's ReLU mask cannot flip between devices at outputs near 0.
//            relu_batch_norm (ReLU first) masks by the input itself, the same on both devices.
#include <cmath>

#include "cuda_parity.h"

using namespace spk;
using test::cuda_parity;
using test::rand_f32;
using test::Tol;

namespace {

constexpr Tol kExact{0, 0};
constexpr Tol kNorm{1e-6, 1e-5};

// Values on a coarse grid (multiples of 0.25 in [-1, 1]): max-pool windows are full of ties.
Tensor coarse_f32(const Shape& shape, Rng& rng) {
  Tensor x = rand_f32(shape, rng, -1, 1);
  std::vector<double> v = x.to_double();
  std::vector<float> q(v.size());
  for (size_t i = 0; i < v.size(); ++i) q[i] = float(std::round(v[i] * 4) / 4);
  return Tensor::from_vector(q, shape);
}

struct Pool2dCase {
  const char* name;
  Shape shape;
  std::pair<int64_t, int64_t> k, s, p;
};

// Overlapping (k > s), padded, stride = kernel (s = 0), 1×K windows (VGGVox), (5, 1) (the TDNN's frequency
// average), one output per plane, and a tensor bigger than one grid.
const std::vector<Pool2dCase> kPool2d{
    {"(2,3,9,11) k3 s2 p1", {2, 3, 9, 11}, {3, 3}, {2, 2}, {1, 1}},
    {"(1,2,7,7) k2 s1", {1, 2, 7, 7}, {2, 2}, {1, 1}, {0, 0}},
    {"(3,2,5,12) k1x3 s1x2 (VGGVox pool1)", {3, 2, 5, 12}, {1, 3}, {1, 2}, {0, 0}},
    {"(4,2,10,13) k5x1 s5x1 (TDNN freq)", {4, 2, 10, 13}, {5, 1}, {0, 0}, {0, 0}},
    {"(2,2,8,9) k3x4 s3x2 p1x2", {2, 2, 8, 9}, {3, 4}, {3, 2}, {1, 2}},
    {"(1,1,5,5) k5 one output", {1, 1, 5, 5}, {5, 5}, {0, 0}, {0, 0}},
    {"(8,16,80,220) k3 s1 p1: more than one grid", {8, 16, 80, 220}, {3, 3}, {1, 1}, {1, 1}},
};

struct Pool1dCase {
  const char* name;
  Shape shape;
  int64_t k, s, p;
};

const std::vector<Pool1dCase> kPool1d{
    {"(2,3,17) k3 s2 p1", {2, 3, 17}, 3, 2, 1},
    {"(1,1,5) k5", {1, 1, 5}, 5, 0, 0},
    {"(4,2,10) k2", {4, 2, 10}, 2, 0, 0},
    {"(3,5,31) k4 s3 p2", {3, 5, 31}, 4, 3, 2},
};

void pool2d_parity(bool is_max) {
  Rng rng(1337);
  for (const Pool2dCase& c : kPool2d) {
    const auto k = c.k, s = c.s, p = c.p;
    test::Fn f = [k, s, p, is_max](const std::vector<Tensor>& in) {
      return is_max ? max_pool2d(in[0], k, s, p) : avg_pool2d(in[0], k, s, p);
    };
    const std::string op = is_max ? "max_pool2d " : "avg_pool2d ";
    cuda_parity(op + c.name, f, {rand_f32(c.shape, rng)}, kExact, kExact);
    if (is_max) cuda_parity(op + c.name + ", ties everywhere", f, {coarse_f32(c.shape, rng)}, kExact, kExact);
  }
  // A transposed (non-dense) input goes through contiguous() first.
  test::Fn ft = [is_max](const std::vector<Tensor>& in) {
    Tensor x = transpose(in[0], 2, 3);
    return is_max ? max_pool2d(x, {3, 2}, {2, 1}, {1, 0}) : avg_pool2d(x, {3, 2}, {2, 1}, {1, 0});
  };
  cuda_parity(std::string(is_max ? "max_pool2d" : "avg_pool2d") + " transposed (2,3,7,10)", ft,
              {rand_f32({2, 3, 7, 10}, rng)}, kExact, kExact);
}

void pool1d_parity(bool is_max) {
  Rng rng(7);
  for (const Pool1dCase& c : kPool1d) {
    const int64_t k = c.k, s = c.s, p = c.p;
    test::Fn f = [k, s, p, is_max](const std::vector<Tensor>& in) {
      return is_max ? max_pool1d(in[0], k, s, p) : avg_pool1d(in[0], k, s, p);
    };
    const std::string op = is_max ? "max_pool1d " : "avg_pool1d ";
    cuda_parity(op + c.name, f, {rand_f32(c.shape, rng)}, kExact, kExact);
    if (is_max) cuda_parity(op + c.name + ", ties everywhere", f, {coarse_f32(c.shape, rng)}, kExact, kExact);
  }
}

// --------------------------------------------------------------------------------------- normalisation

struct NormCase {
  const char* name;
  Shape shape;
  bool affine;
  double offset;   // added to the inputs: |mean| >> std tests the two-pass variance
};

// (N, C) and (N, C, S) inputs; S = 1 and N·S walks whose per-block step is larger than, smaller than and
// not a multiple of S (the kernels' incremental (n, i) walk); several splits per channel (M > 2048).
const std::vector<NormCase> kBnCases{
    {"(5,3,4,7) affine", {5, 3, 4, 7}, true, 0},
    {"(7,4) no affine", {7, 4}, false, 0},
    {"(300,5) S = 1, affine", {300, 5}, true, 0},
    {"(3,16,201) affine", {3, 16, 201}, true, 0},
    {"(1000,3,7) affine", {1000, 3, 7}, true, 0},
    {"(1,3,70000) one sample, long rows", {1, 3, 70000}, true, 0},
    {"(16,8,40,101) ResNet-like, 32 splits per channel", {16, 8, 40, 101}, true, 0},
    {"(6,4,33) inputs around 1000", {6, 4, 33}, true, 1000},
};

// The batch-norm ops: plain, ReLU after (batch_norm_relu) and ReLU before (relu_batch_norm).
enum class BnKind { plain, relu_after, relu_before };

Tensor bn_call(BnKind relu, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv,
               bool training) {
  switch (relu) {
    case BnKind::relu_after: return batch_norm_relu(x, w, b, rm, rv, training, 0.1, 1e-5);
    case BnKind::relu_before: return relu_batch_norm(x, w, b, rm, rv, training, 0.1, 1e-5);
    default: return batch_norm(x, w, b, rm, rv, training, 0.1, 1e-5);
  }
}

// Forward/backward parity (training and eval), then the running-stat update compared directly.
void bn_parity(BnKind relu) {
  Rng rng(2024);
  const std::string op = relu == BnKind::relu_after    ? "batch_norm_relu "
                         : relu == BnKind::relu_before ? "relu_batch_norm "
                                                       : "batch_norm ";
  for (const NormCase& c : kBnCases) {
    const int64_t C = c.shape[1];
    Tensor x = add_scalar(rand_f32(c.shape, rng, -2, 2), c.offset);
    Tensor w = rand_f32({C}, rng, 0.5, 1.5), b = rand_f32({C}, rng, -0.5, 0.5);
    Tensor rm = rand_f32({C}, rng, -0.5, 0.5), rv = rand_f32({C}, rng, 0.5, 2);
    const bool affine = c.affine;
    test::Fn train = [relu, affine](const std::vector<Tensor>& in) {
      return bn_call(relu, in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor(), Tensor(), Tensor(), true);
    };
    cuda_parity(op + c.name + " training", train, {x, w, b}, kNorm, kNorm);
    test::Fn eval = [relu, affine](const std::vector<Tensor>& in) {
      return bn_call(relu, in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor(), in[3].detach(),
                     in[4].detach(), false);
    };
    // Eval normalises by the running stats: keep them near the batch's so the outputs stay O(1).
    Tensor rm_eval = add_scalar(rm, c.offset);
    cuda_parity(op + c.name + " eval", eval, {x, w, b, rm_eval, rv}, kNorm, kNorm);

    // Running statistics: the same update (table ops on each device) from the same batch statistics.
    Tensor rm_c = rm.clone(), rv_c = rv.clone();
    Tensor rm_g = rm.to(Device::cuda()), rv_g = rv.to(Device::cuda());
    NoGradGuard ng;
    bn_call(relu, x, w, b, rm_c, rv_c, true);
    bn_call(relu, x.to(Device::cuda()), w.to(Device::cuda()), b.to(Device::cuda()), rm_g, rv_g, true);
    test::expect_close(rm_g, rm_c, kNorm.atol, kNorm.rtol, op + c.name + " running_mean");
    test::expect_close(rv_g, rv_c, kNorm.atol, kNorm.rtol, op + c.name + " running_var");
  }
  // A strided input, and only some inputs needing gradients (null dweight/dbias/dx in the kernels).
  test::Fn strided = [relu](const std::vector<Tensor>& in) {
    return bn_call(relu, transpose(in[0], 0, 2), in[1], in[2], Tensor(), Tensor(), true);
  };
  cuda_parity(op + "transposed (9,4,6)", strided, {rand_f32({9, 4, 6}, rng), rand_f32({4}, rng), rand_f32({4}, rng)},
              kNorm, kNorm);
  test::Fn x_only = [relu](const std::vector<Tensor>& in) {
    return bn_call(relu, in[0], in[1].detach(), in[2].detach(), Tensor(), Tensor(), true);
  };
  cuda_parity(op + "(4,3,10) gradient of x only", x_only,
              {rand_f32({4, 3, 10}, rng), rand_f32({3}, rng), rand_f32({3}, rng)}, kNorm, kNorm);
  test::Fn params_only = [relu](const std::vector<Tensor>& in) {
    return bn_call(relu, in[0].detach(), in[1], in[2], Tensor(), Tensor(), true);
  };
  cuda_parity(op + "(4,3,10) parameter gradients only", params_only,
              {rand_f32({4, 3, 10}, rng), rand_f32({3}, rng), rand_f32({3}, rng)}, kNorm, kNorm);
}

// --------------------------------------------------------------------------------------- indexing

Tensor labels(const std::vector<int64_t>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

Tensor rand_index(const Shape& shape, int64_t hi, Rng& rng) {
  std::vector<int64_t> v(size_t(shape_numel(shape)));
  for (auto& e : v) e = rng.randint(0, hi);
  return Tensor::from_vector(v, shape);
}

}  // namespace

SPK_CUDA_PARITY_CASE(max_pool2d, "overlapping, padded, 1xK, Kx1, one output, > 1 grid, ties, transposed") {
  if (!test::gpu_or_skip()) return;
  pool2d_parity(true);
}

SPK_CUDA_PARITY_CASE(avg_pool2d, "overlapping, padded, 1xK, Kx1, one output, > 1 grid, transposed") {
  if (!test::gpu_or_skip()) return;
  pool2d_parity(false);
}

SPK_CUDA_PARITY_CASE(max_pool1d, "k3 s2 p1, k = L, default stride, k4 s3 p2, ties") {
  if (!test::gpu_or_skip()) return;
  pool1d_parity(true);
}

SPK_CUDA_PARITY_CASE(avg_pool1d, "k3 s2 p1, k = L, default stride, k4 s3 p2") {
  if (!test::gpu_or_skip()) return;
  pool1d_parity(false);
}

SPK_CUDA_PARITY_CASE(adaptive_avg_pool2d, "to (1,1), uneven bins, more bins than pixels (overlapping), > 1 grid") {
  if (!test::gpu_or_skip()) return;
  Rng rng(11);
  struct Case { const char* name; Shape shape; std::pair<int64_t, int64_t> out; };
  for (const Case& c : {Case{"(2,3,9,11) -> (1,1)", {2, 3, 9, 11}, {1, 1}},
                        Case{"(2,3,9,11) -> (4,5)", {2, 3, 9, 11}, {4, 5}},
                        Case{"(1,2,5,7) -> (7,9) overlapping bins", {1, 2, 5, 7}, {7, 9}},
                        Case{"(2,2,10,3) -> (3,3)", {2, 2, 10, 3}, {3, 3}},
                        Case{"(16,16,40,220) -> (5,7): more than one grid", {16, 16, 40, 220}, {5, 7}}}) {
    const auto out = c.out;
    test::Fn f = [out](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], out); };
    cuda_parity(std::string("adaptive_avg_pool2d ") + c.name, f, {rand_f32(c.shape, rng)}, kExact, kExact);
  }
}

SPK_CUDA_PARITY_CASE(batch_norm, "training + eval, (N,C) and (N,C,*), S = 1, long rows, many splits, offset inputs") {
  if (!test::gpu_or_skip()) return;
  bn_parity(BnKind::plain);
}

SPK_CUDA_PARITY_CASE(batch_norm_relu, "the batch_norm cases with the fused ReLU") {
  if (!test::gpu_or_skip()) return;
  bn_parity(BnKind::relu_after);
}

SPK_CUDA_PARITY_CASE(relu_batch_norm, "the batch_norm cases with the ReLU in front, fused") {
  if (!test::gpu_or_skip()) return;
  bn_parity(BnKind::relu_before);
}

SPK_CUDA_PARITY_CASE(instance_norm1d, "(3,4,50) affine, (2,3,1000) plain, (1,1,2), inputs around 100") {
  if (!test::gpu_or_skip()) return;
  Rng rng(3);
  struct Case { const char* name; Shape shape; bool affine; double offset; };
  for (const Case& c : {Case{"(3,4,50) affine", {3, 4, 50}, true, 0}, Case{"(2,3,1000) plain", {2, 3, 1000}, false, 0},
                        Case{"(1,1,2) affine", {1, 1, 2}, true, 0},
                        Case{"(64,40,203) affine (fbank-like)", {64, 40, 203}, true, 0},
                        Case{"(2,5,77) around 100", {2, 5, 77}, true, 100}}) {
    const bool affine = c.affine;
    test::Fn f = [affine](const std::vector<Tensor>& in) {
      return affine ? instance_norm1d(in[0], in[1], in[2]) : instance_norm1d(in[0]);
    };
    const int64_t C = c.shape[1];
    cuda_parity(std::string("instance_norm1d ") + c.name, f,
                {add_scalar(rand_f32(c.shape, rng, -2, 2), c.offset), rand_f32({C}, rng, 0.5, 1.5),
                 rand_f32({C}, rng, -0.5, 0.5)},
                kNorm, kNorm);
  }
}

SPK_CUDA_PARITY_CASE(dropout, "the CPU's mask exactly: p 0.1/0.5/0.9, 1 to 2^21+5 elements, strided, Rng advance") {
  if (!test::gpu_or_skip()) return;
  Rng rng(5);
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(4099), int64_t((1 << 21) + 5)})
    for (double p : {0.1, 0.5, 0.9}) {
      const std::string what = "dropout n " + std::to_string(n) + " p " + std::to_string(p);
      // Inputs without zeros, so a zero output means "dropped".
      Tensor x = rand_f32({n}, rng, 0.5, 1.5);
      Rng r_cpu(77, 1000), r_gpu(77, 1000);
      Tensor y_cpu = dropout(x, p, r_cpu, true), y_gpu = dropout(x.to(Device::cuda()), p, r_gpu, true);
      test::expect_close(y_gpu, y_cpu, 0, 0, what + ": values and mask");
      CHECK_MESSAGE(r_gpu.offset() == r_cpu.offset(), what << ": the Rng advanced differently");
      const std::vector<double> a = y_cpu.to_double(), b = y_gpu.to_double();
      int64_t mask_diff = 0;
      for (size_t i = 0; i < a.size(); ++i) mask_diff += (a[i] == 0) != (b[i] == 0);
      CHECK_MESSAGE(mask_diff == 0, what << ": " << mask_diff << " mask bits differ");
      test::Fn f = [p](const std::vector<Tensor>& in) {
        Rng r(123, 456);   // reseeded per call: f must be deterministic
        return dropout(in[0], p, r, true);
      };
      cuda_parity(what, f, {rand_f32({n}, rng)}, kExact, kExact);
    }
  test::Fn strided = [](const std::vector<Tensor>& in) {
    Rng r(9);
    return dropout(transpose(in[0], 0, 1), 0.3, r, true);
  };
  cuda_parity("dropout transposed (33,65)", strided, {rand_f32({33, 65}, rng)}, kExact, kExact);
}

SPK_CUDA_PARITY_CASE(concat, "dims 0, 1, -1; unequal parts; a strided part; one part") {
  if (!test::gpu_or_skip()) return;
  Rng rng(8);
  test::Fn d0 = [](const std::vector<Tensor>& in) { return concat({in[0], in[1], in[2]}, 0); };
  cuda_parity("concat dim 0", d0, {rand_f32({2, 5}, rng), rand_f32({1, 5}, rng), rand_f32({4, 5}, rng)}, kExact,
              kExact);
  test::Fn d1 = [](const std::vector<Tensor>& in) { return concat({in[0], transpose(in[1], 1, 2)}, 1); };
  cuda_parity("concat dim 1, second part transposed", d1, {rand_f32({3, 4, 7}, rng), rand_f32({3, 7, 2}, rng)},
              kExact, kExact);
  test::Fn dl = [](const std::vector<Tensor>& in) { return concat({in[0], in[1]}, -1); };
  cuda_parity("concat dim -1 (ECAPA-like (2,64,50) x2)", dl, {rand_f32({2, 64, 50}, rng), rand_f32({2, 64, 50}, rng)},
              kExact, kExact);
  test::Fn one = [](const std::vector<Tensor>& in) { return concat({in[0]}, 1); };
  cuda_parity("concat one part", one, {rand_f32({3, 3}, rng)}, kExact, kExact);
}

SPK_CUDA_PARITY_CASE(index_select, "dims 0, 1, -1; repeated and unused indices; empty index; strided x") {
  if (!test::gpu_or_skip()) return;
  Rng rng(9);
  test::Fn f0 = [](const std::vector<Tensor>& in) { return index_select(in[0], 0, in[1]); };
  cuda_parity("index_select dim 0, repeats", f0, {rand_f32({6, 5}, rng), labels({5, 0, 5, 2, 5}, {5})}, kExact, kExact);
  test::Fn f1 = [](const std::vector<Tensor>& in) { return index_select(in[0], 1, in[1]); };
  cuda_parity("index_select dim 1 of (3,40,7), 100 random indices", f1, {rand_f32({3, 40, 7}, rng),
              rand_index({100}, 40, rng)}, kExact, kExact);
  test::Fn fl = [](const std::vector<Tensor>& in) { return index_select(transpose(in[0], 0, 1), -1, in[1]); };
  cuda_parity("index_select dim -1 of a transposed (9,4)", fl, {rand_f32({9, 4}, rng), labels({8, 1, 1}, {3})}, kExact,
              kExact);
  cuda_parity("index_select empty index", f0, {rand_f32({4, 3}, rng), labels({}, {0})}, kExact, kExact);
  cuda_parity("index_select (3000,192) rows, 2000 picks", f0, {rand_f32({3000, 192}, rng),
              rand_index({2000}, 3000, rng)}, kExact, kExact);
}

SPK_CUDA_PARITY_CASE(gather, "dim 1 of logits, dim 0 with a smaller index, repeats, strided x, 4-d") {
  if (!test::gpu_or_skip()) return;
  Rng rng(10);
  test::Fn f1 = [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); };
  cuda_parity("gather (8,11) dim 1, one per row", f1, {rand_f32({8, 11}, rng), rand_index({8, 1}, 11, rng)}, kExact,
              kExact);
  cuda_parity("gather (4,7) dim 1, repeats", f1, {rand_f32({4, 7}, rng), rand_index({4, 9}, 7, rng)}, kExact, kExact);
  test::Fn f0 = [](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); };
  cuda_parity("gather (3,5,6) dim 0, index (2,4,6)", f0, {rand_f32({3, 5, 6}, rng), rand_index({2, 4, 6}, 3, rng)},
              kExact, kExact);
  test::Fn ft = [](const std::vector<Tensor>& in) { return gather(transpose(in[0], 0, 1), 1, in[1]); };
  cuda_parity("gather transposed (6,5) dim 1", ft, {rand_f32({6, 5}, rng), rand_index({5, 3}, 6, rng)}, kExact,
              kExact);
  test::Fn f4 = [](const std::vector<Tensor>& in) { return gather(in[0], 2, in[1]); };
  cuda_parity("gather 4-d (2,3,5,4) dim 2", f4, {rand_f32({2, 3, 5, 4}, rng), rand_index({2, 2, 7, 4}, 5, rng)},
              kExact, kExact);
  // The range check runs on the host before any kernel.
  Tensor x = rand_f32({2, 3}, rng).to(Device::cuda());
  CHECK_THROWS_WITH_AS(gather(x, 1, labels({0, 3}, {2, 1}).to(Device::cuda())), doctest::Contains("gather: index 3"),
                       Error);
}
