// relu_batch_norm (the fused ReLU + batch norm, batch_norm(relu(x))): forward against loops, equality with the
// composition batch_norm(relu(x)) in values, running statistics and every gradient (f32 and f64, training and eval,
// with and without affine parameters; tolerance 0: the kernels promise the composition's exact bits, whatever the
// CPU thread count), the layers' relu_forward against forward(relu(x)), the finite-difference gradient check in
// double, and its argument checks. (--sync_bn, where the layer takes the composition over all ranks' batches:
// tests/dist/test_communicator.cpp.)
#include <cmath>

#include "engine/cpu_threads.h"
#include "engine/layers.h"
#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

Tensor vec(const std::vector<double>& v) { return Tensor::from_vector(v, {int64_t(v.size())}, DType::f64); }

void expect_identical(const Tensor& a, const Tensor& b, const std::string& what) {
  test::expect_close(a, b, 0, 0, what);
}

struct Cfg {
  const char* name;
  Shape shape;
  bool training, affine;
};

// The fused op and the composition on identical leaves; values, running stats and gradients must agree exactly.
void compare_with_composition(const Cfg& c, DType dt) {
  INFO(c.name << " " << dtype_name(dt) << " threads " << cpu_threads());
  Rng rng(77);
  const int64_t C = c.shape[1];
  Tensor x0 = Tensor::uniform(c.shape, rng, -2, 2, dt);
  Tensor w0 = Tensor::uniform({C}, rng, -1.5, 1.5, dt), b0 = Tensor::uniform({C}, rng, -0.5, 0.5, dt);
  Tensor rm0 = Tensor::uniform({C}, rng, -0.5, 0.5, dt), rv0 = Tensor::uniform({C}, rng, 0.5, 2, dt);
  auto leaf = [](const Tensor& t) { Tensor l = t.clone(); l.set_requires_grad(true); return l; };
  Tensor x1 = leaf(x0), w1 = leaf(w0), b1 = leaf(b0), x2 = leaf(x0), w2 = leaf(w0), b2 = leaf(b0);
  Tensor rm1 = rm0.clone(), rv1 = rv0.clone(), rm2 = rm0.clone(), rv2 = rv0.clone();
  Tensor wa1 = c.affine ? w1 : Tensor(), ba1 = c.affine ? b1 : Tensor();
  Tensor wa2 = c.affine ? w2 : Tensor(), ba2 = c.affine ? b2 : Tensor();
  Tensor y1 = relu_batch_norm(x1, wa1, ba1, rm1, rv1, c.training, 0.3, 1e-4);
  Tensor y2 = batch_norm(relu(x2), wa2, ba2, rm2, rv2, c.training, 0.3, 1e-4);
  expect_identical(y1, y2, "forward");
  expect_identical(rm1, rm2, "running_mean");
  expect_identical(rv1, rv2, "running_var");
  if (c.training) CHECK_MESSAGE(rm1.to_double() != rm0.to_double(), "training must update the running mean");
  Tensor g = Tensor::normal(c.shape, rng, 0, 1, dt);
  y1.backward(g);
  y2.backward(g);
  expect_identical(x1.grad(), x2.grad(), "dx");
  if (c.affine) {
    expect_identical(w1.grad(), w2.grad(), "dweight");
    expect_identical(b1.grad(), b2.grad(), "dbias");
  }
}

struct ThreadsGuard {
  explicit ThreadsGuard(int n) { set_cpu_threads(n); }
  ~ThreadsGuard() { set_cpu_threads(0); }
};

}  // namespace

TEST_CASE("relu_batch_norm forward against loops: (3, 2, 5) training") {
  Rng rng(5);
  const int64_t N = 3, C = 2, S = 5;
  Tensor x = Tensor::uniform({N, C, S}, rng, -2, 3, DType::f64);
  std::vector<double> w{0.7, -1.3}, b{0.2, -0.1};
  Tensor rm = vec({0, 0}), rv = vec({1, 1});
  Tensor y = relu_batch_norm(x, vec(w), vec(b), rm, rv, true, 0.1, 1e-5);
  const auto xv = x.to_double();
  std::vector<double> expect(xv.size()), em(2), ev(2);
  int clipped = 0;
  for (int64_t c = 0; c < C; ++c) {
    auto r = [&](int64_t n, int64_t s) { return std::max(0.0, xv[size_t((n * C + c) * S + s)]); };
    double m = 0, v = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) m += r(n, s);
    m /= double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) v += std::pow(r(n, s) - m, 2);
    v /= double(N * S);
    em[size_t(c)] = 0.1 * m;
    ev[size_t(c)] = 0.9 + 0.1 * v * double(N * S) / double(N * S - 1);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        expect[size_t((n * C + c) * S + s)] = (r(n, s) - m) / std::sqrt(v + 1e-5) * w[size_t(c)] + b[size_t(c)];
        clipped += xv[size_t((n * C + c) * S + s)] <= 0;
      }
  }
  test::expect_close(y, expect, 1e-14, 1e-13, "forward");
  test::expect_close(rm, em, 1e-15, 1e-14, "running_mean");
  test::expect_close(rv, ev, 1e-15, 1e-14, "running_var");
  CHECK_MESSAGE(clipped > 0, "the case must exercise the ReLU's zero side");
  CHECK_MESSAGE(clipped < int(xv.size()), "the case must exercise the ReLU's positive side");
}

TEST_CASE("relu_batch_norm equals batch_norm(relu(x)) bit for bit: values, running stats, gradients") {
  for (int threads : {1, 3}) {
    ThreadsGuard tg(threads);
    for (DType dt : {DType::f32, DType::f64})
      for (const Cfg& c : {Cfg{"(5,3,4,3) training affine", {5, 3, 4, 3}, true, true},
                           Cfg{"(7,4) training no affine", {7, 4}, true, false},
                           Cfg{"(4,16,10,21) training affine, 16 channels", {4, 16, 10, 21}, true, true},
                           Cfg{"(3,11,7) training affine: a group of 8 channels, 3 alone", {3, 11, 7}, true, true},
                           Cfg{"(3,11,7) eval affine", {3, 11, 7}, false, true},
                           Cfg{"(2,3,9) eval affine", {2, 3, 9}, false, true},
                           Cfg{"(3,5,2,7) eval no affine", {3, 5, 2, 7}, false, false}})
        compare_with_composition(c, dt);
  }
}

TEST_CASE("relu_batch_norm: a transposed input, x-only and parameter-only gradients match the composition") {
  Rng rng(11);
  Tensor x0 = Tensor::uniform({9, 4, 6}, rng, -1, 1), w0 = Tensor::uniform({4}, rng, 0.5, 1.5),
         b0 = Tensor::uniform({4}, rng, -0.5, 0.5), g = Tensor::normal({6, 4, 9}, rng);
  for (int which = 0; which < 3; ++which) {   // 0: all, 1: x only, 2: parameters only
    CAPTURE(which);
    auto run = [&](bool fused) {
      Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
      if (which != 2) x.set_requires_grad(true);
      if (which != 1) { w.set_requires_grad(true); b.set_requires_grad(true); }
      Tensor xt = transpose(x, 0, 2);
      Tensor y = fused ? relu_batch_norm(xt, w, b, Tensor(), Tensor(), true)
                       : batch_norm(relu(xt), w, b, Tensor(), Tensor(), true);
      y.backward(g);
      return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
    };
    const auto a = run(true), e = run(false);
    const char* names[] = {"y", "dx", "dweight", "dbias"};
    for (size_t i = 0; i < a.size(); ++i) {
      REQUIRE(a[i].defined() == e[i].defined());
      if (a[i].defined()) expect_identical(a[i], e[i], names[i]);
    }
  }
}

TEST_CASE("BatchNorm2d/1d relu_forward equals forward(relu(x)): values, running stats, batch count, gradients") {
  for (bool training : {true, false}) {
    CAPTURE(training);
    Rng rng(21);
    BatchNorm2d a(6), b(6);
    BatchNorm1d a1(5), b1(5);
    for (BatchNorm* m : {static_cast<BatchNorm*>(&a), static_cast<BatchNorm*>(&b)}) {
      Rng r(3);
      m->weight.detach().copy_(Tensor::uniform({6}, r, 0.5, 1.5));
      m->running_var.copy_(Tensor::uniform({6}, r, 0.5, 1.5));
    }
    for (Module* m : {static_cast<Module*>(&a), static_cast<Module*>(&b), static_cast<Module*>(&a1),
                      static_cast<Module*>(&b1)})
      training ? m->train() : m->eval();
    Tensor x1 = Tensor::normal({3, 6, 4, 5}, rng).set_requires_grad(), x2 = x1.detach().clone().set_requires_grad();
    Tensor g = Tensor::normal({3, 6, 4, 5}, rng);
    Tensor y1 = a.relu_forward(x1), y2 = b.forward(relu(x2));
    expect_identical(y1, y2, "BatchNorm2d y");
    y1.backward(g);
    y2.backward(g);
    expect_identical(x1.grad(), x2.grad(), "BatchNorm2d dx");
    expect_identical(a.weight.grad(), b.weight.grad(), "BatchNorm2d dweight");
    expect_identical(a.running_mean, b.running_mean, "BatchNorm2d running_mean");
    expect_identical(a.running_var, b.running_var, "BatchNorm2d running_var");
    CHECK(a.num_batches_tracked.to_double() == b.num_batches_tracked.to_double());
    Tensor z = Tensor::normal({4, 5, 7}, rng);
    expect_identical(a1.relu_forward(z), b1.forward(relu(z)), "BatchNorm1d y");
  }
}

// The batch-norm CPU kernels advance 8 channels' sums together and run channel groups on the work pool; the
// serial loops they replaced (one channel at a time, one thread) are written out here in f32 as the reference.
TEST_CASE("batch_norm and relu_batch_norm: the grouped, threaded CPU kernels give the serial loops' bits") {
  for (int threads : {1, 2, 3}) {
    ThreadsGuard tg(threads);
    for (const Shape& shape : {Shape{3, 11, 7}, Shape{2, 16, 3, 5}, Shape{5, 3}, Shape{4, 11, 30, 28}})
      for (bool relu_in : {false, true}) {
        INFO("threads " << threads << " shape " << shape_str(shape) << (relu_in ? " relu_batch_norm" : " batch_norm"));
        Rng rng(31);
        const int64_t N = shape[0], C = shape[1], S = shape_numel(shape) / (N * C);
        Tensor x = Tensor::uniform(shape, rng, -2, 2).set_requires_grad(), w = Tensor::uniform({C}, rng, 0.5, 1.5),
               b = Tensor::uniform({C}, rng, -0.5, 0.5), g = Tensor::normal(shape, rng);
        w.set_requires_grad(true);
        b.set_requires_grad(true);
        Tensor y = relu_in ? relu_batch_norm(x, w, b, Tensor(), Tensor(), true)
                           : batch_norm(x, w, b, Tensor(), Tensor(), true);
        y.backward(g);
        const std::vector<float> xv = x.detach().to_vector<float>(), wv = w.detach().to_vector<float>(),
                                 bv = b.detach().to_vector<float>(), gv = g.to_vector<float>();
        std::vector<float> ye(xv.size()), dxe(xv.size()), dwe(static_cast<size_t>(C)), dbe(static_cast<size_t>(C));
        const double M = double(N * S);
        for (int64_t c = 0; c < C; ++c) {
          auto at = [&](int64_t n, int64_t i) { return size_t((n * C + c) * S + i); };
          auto r = [&](size_t k) { return relu_in ? (xv[k] > 0 ? xv[k] : 0.0f) : xv[k]; };
          double sum = 0, q = 0;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < S; ++i) sum += double(r(at(n, i)));
          const double m0 = sum / M;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < S; ++i) { double d = double(r(at(n, i))) - m0; q += d * d; }
          const float mean = float(m0), invstd = float(1.0 / std::sqrt(q / M + 1e-5));
          const double scale = double(invstd) * double(wv[size_t(c)]);
          const double shift = double(bv[size_t(c)]) - double(mean) * scale;
          const double m = double(mean), is = double(invstd), wc = double(wv[size_t(c)]);
          double sg = 0, sgx = 0;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < S; ++i) {
              const size_t k = at(n, i);
              ye[k] = float(double(r(k)) * scale + shift);
              sg += double(gv[k]);
              sgx += double(gv[k]) * (double(r(k)) - m) * is;
            }
          dbe[size_t(c)] = float(sg);
          dwe[size_t(c)] = float(sgx);
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < S; ++i) {
              const size_t k = at(n, i);
              const double xh = (double(r(k)) - m) * is;
              const float d = float(wc * is / M * (M * double(gv[k]) - sg - xh * sgx));
              dxe[k] = relu_in && !(xv[k] > 0) ? 0.0f : d;
            }
        }
        auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
        test::expect_close(y, as_double(ye), 0, 0, "y");
        test::expect_close(x.grad(), as_double(dxe), 0, 0, "dx");
        test::expect_close(w.grad(), as_double(dwe), 0, 0, "dweight");
        test::expect_close(b.grad(), as_double(dbe), 0, 0, "dbias");
      }
  }
}

SPK_GRADCHECK_CASE(relu_batch_norm, "training (3,2,5) affine; (4,3) no affine; eval (2,3,2,3)") {
  // Inputs kept away from 0 (the ReLU's kink, where a finite difference straddles both sides).
  auto away_from_zero = [](Tensor t) {
    std::vector<double> v = t.to_double();
    for (double& e : v) e = e >= 0 ? e + 0.1 : e - 0.1;
    return Tensor::from_vector(v, t.shape(), DType::f64).set_requires_grad();
  };
  Rng rng(1337);
  {
    Tensor x = away_from_zero(rand_input({3, 2, 5}, rng, -2, 2)), w = rand_input({2}, rng, 0.5, 1.5),
           b = rand_input({2}, rng, -0.3, 0.3);
    gradcheck([](const std::vector<Tensor>& in) {
      return relu_batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
    }, {x, w, b});
  }
  {
    Tensor x = away_from_zero(rand_input({4, 3}, rng, -2, 2));
    gradcheck([](const std::vector<Tensor>& in) {
      return relu_batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
    }, {x});
  }
  {
    Tensor x = away_from_zero(rand_input({2, 3, 2, 3}, rng, -2, 2)), w = rand_input({3}, rng, -1.5, 1.5),
           b = rand_input({3}, rng, -0.3, 0.3);
    Tensor rm = vec({0.1, -0.2, 0.3}), rv = vec({0.8, 1.2, 0.5});
    gradcheck([rm, rv](const std::vector<Tensor>& in) {
      return relu_batch_norm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-5);
    }, {x, w, b});
  }
}

TEST_CASE("relu_batch_norm argument errors name the op") {
  Tensor x = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(relu_batch_norm(x, Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("relu_batch_norm: weight"), Error);
  CHECK_THROWS_WITH_AS(relu_batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("relu_batch_norm: eval mode needs running_mean"), Error);
  CHECK_THROWS_WITH_AS(relu_batch_norm(Tensor::zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("relu_batch_norm: expected more than 1 value per channel"), Error);
}
