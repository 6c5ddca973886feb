#include "support/check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/autograd.h"

namespace spk::test {

static std::vector<bool>& grad_registry() { static std::vector<bool> r(size_t(kOpCount), false); return r; }
static std::vector<bool>& parity_registry() { static std::vector<bool> r(size_t(kOpCount), false); return r; }

bool mark_gradcheck(OpId id) { grad_registry()[size_t(id)] = true; return true; }
bool mark_cuda_parity(OpId id) { parity_registry()[size_t(id)] = true; return true; }
bool has_gradcheck(OpId id) { return grad_registry()[size_t(id)]; }
bool has_cuda_parity(OpId id) { return parity_registry()[size_t(id)]; }

Tensor rand_input(const Shape& shape, Rng& rng, double lo, double hi) {
  return Tensor::uniform(shape, rng, lo, hi, DType::f64).set_requires_grad(true);
}

static double weighted_sum(const Tensor& y, const Tensor& w) { return sum(mul(y, w)).item(); }

void gradcheck(const Fn& f, const std::vector<Tensor>& inputs, GradTol tol) {
  for (const auto& t : inputs)
    if (t.defined()) REQUIRE_MESSAGE((t.dtype() == DType::f64 && t.device().is_cpu() && t.is_contiguous()),
                                     "gradcheck inputs must be dense f64 CPU tensors, got " << t.str());
  for (const auto& t : inputs) if (t.defined()) t.zero_grad();

  Tensor y = f(inputs);
  REQUIRE(y.defined());
  Rng wrng(4242);
  Tensor w = Tensor::normal(y.shape(), wrng, 0, 1, DType::f64);
  Tensor L = sum(mul(y, w));
  L.backward();

  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor ga = x.grad();
    std::vector<double> analytic = ga.defined() ? ga.to_double() : std::vector<double>(size_t(x.numel()), 0.0);
    double* p = x.data<double>();
    double worst = 0, worst_a = 0, worst_n = 0;
    int64_t worst_i = -1, bad = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      double orig = p[i], lp, lm;
      {
        NoGradGuard ng;
        p[i] = orig + tol.eps;
        lp = weighted_sum(f(inputs), w);
        p[i] = orig - tol.eps;
        lm = weighted_sum(f(inputs), w);
        p[i] = orig;
      }
      double num = (lp - lm) / (2 * tol.eps), an = analytic[size_t(i)];
      double err = std::abs(an - num), allowed = tol.atol + tol.rtol * std::abs(num);
      if (!(err <= allowed)) ++bad;   // NaN fails
      double excess = std::isnan(err) ? INFINITY : err / allowed;
      if (worst_i < 0 || excess > worst) { worst = excess; worst_i = i; worst_a = an; worst_n = num; }
    }
    INFO("input " << k << " " << x.str() << ": worst element " << worst_i << " analytic " << worst_a << " numeric "
                  << worst_n << " (error/allowed " << worst << ")");
    CHECK_MESSAGE(bad == 0, bad << " of " << x.numel() << " gradient elements outside atol " << tol.atol << " + rtol "
                                << tol.rtol);
  }
}

CloseReport compare_close(const std::vector<double>& g, const std::vector<double>& r, double atol, double rtol,
                          const std::string& what) {
  CloseReport rep;
  if (g.size() != r.size()) {
    rep.bad = int64_t(std::max(g.size(), r.size()));
    rep.text = what + ": " + std::to_string(g.size()) + " values, expected " + std::to_string(r.size());
    return rep;
  }
  for (size_t i = 0; i < g.size(); ++i) {
    double err = std::abs(g[i] - r[i]), allowed = atol + rtol * std::abs(r[i]);
    bool ok = err <= allowed && !std::isnan(g[i]) == !std::isnan(r[i]) && !std::isnan(g[i]);
    if (!ok) ++rep.bad;
    // NaN on either side is the worst; otherwise the largest error relative to what is allowed.
    double excess = std::isnan(g[i]) || std::isnan(r[i]) ? INFINITY : err / allowed;
    if (rep.worst_index < 0 || excess > rep.excess) {
      rep.excess = excess;
      rep.worst_index = int64_t(i);
      rep.got = g[i];
      rep.expected = r[i];
    }
  }
  std::ostringstream os;
  os.precision(9);
  os << what << ": " << rep.bad << " of " << g.size() << " values outside atol " << atol << " + rtol " << rtol;
  if (rep.worst_index >= 0)
    os << "; worst element " << rep.worst_index << " got " << rep.got << " expected " << rep.expected
       << " (error/allowed " << rep.excess << ")";
  rep.text = os.str();
  return rep;
}

void expect_close(const Tensor& got, const std::vector<double>& r, double atol, double rtol, const std::string& what) {
  // The report is the check's own message: an INFO would have to outlive the check to be printed, and an INFO
  // inside an `if` dies with the `if` (doctest prints only the captures alive at the failing assertion).
  const CloseReport rep = compare_close(got.to_double(), r, atol, rtol, what);
  CHECK_MESSAGE(rep.bad == 0, rep.text);
}

void expect_close(const Tensor& got, const Tensor& ref, double atol, double rtol, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == ref.shape(), what << ": shape " << shape_str(got.shape()) << " vs expected "
                                                   << shape_str(ref.shape()));
  expect_close(got, ref.to_double(), atol, rtol, what);
}

bool gpu_or_skip() {
  if (cuda::available()) return true;
  MESSAGE("no CUDA device: GPU check skipped (built with CUDA: " << std::string(cuda::built_with_cuda() ? "yes" : "no") << ")");
  return false;
}

}  // namespace spk::test
