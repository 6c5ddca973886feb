// Plain-loop double references for the loss tests: each loss's anchor formula is recomputed here from the
// tensors' values, independently of the engine ops the losses are built from.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/tensor.h"
#include "losses/loss.h"
#include "support/check.h"

namespace ref {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>;
using Labels = std::vector<int64_t>;
constexpr double kPi = 3.14159265358979323846;

// (R, C) tensor -> rows
inline Mat rows(const spk::Tensor& t) {
  std::vector<double> v = t.to_double();
  const int64_t r = t.size(0), c = t.size(1);
  Mat out = Mat(size_t(r), Vec(size_t(c)));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) out[size_t(i)][size_t(j)] = v[size_t(i * c + j)];
  return out;
}

// (N, M, D) tensor -> g[i][j] = x[i, j, :]
inline std::vector<Mat> groups(const spk::Tensor& x) {
  std::vector<double> v = x.to_double();
  const int64_t n = x.size(0), m = x.size(1), d = x.size(2);
  auto g = std::vector<Mat>(size_t(n), Mat(size_t(m), Vec(size_t(d))));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < d; ++k) g[size_t(i)][size_t(j)][size_t(k)] = v[size_t((i * m + j) * d + k)];
  return g;
}

inline Mat member(const std::vector<Mat>& g, size_t j) {
  Mat out;
  for (const auto& grp : g) out.push_back(grp[j]);
  return out;
}

inline double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}
inline double norm(const Vec& a) { return std::sqrt(dot(a, a)); }
inline Vec normalize(const Vec& a, double eps = 1e-12) {
  Vec o(a);
  const double n = std::max(norm(a), eps);
  for (double& v : o) v /= n;
  return o;
}
inline Mat normalize_rows(const Mat& a, double eps = 1e-12) {
  Mat o;
  for (const auto& r : a) o.push_back(normalize(r, eps));
  return o;
}
inline double cosine(const Vec& a, const Vec& b, double eps = 1e-8) {
  return dot(a, b) / std::max(norm(a) * norm(b), eps);
}
inline double sq_dist(const Vec& a, const Vec& b, double shift = 0) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += (a[k] - b[k] + shift) * (a[k] - b[k] + shift);
  return s;
}
// mean of rows [from, to) of vs
inline Vec mean_of(const Mat& vs, size_t from, size_t to) {
  Vec m(vs[0].size(), 0.0);
  for (size_t j = from; j < to; ++j)
    for (size_t k = 0; k < m.size(); ++k) m[k] += vs[j][k];
  for (double& v : m) v /= double(to - from);
  return m;
}
inline Mat transpose(const Mat& a) {
  Mat t(a[0].size(), Vec(a.size()));
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[0].size(); ++j) t[j][i] = a[i][j];
  return t;
}
inline Labels diag_labels(size_t n) {
  Labels y(n);
  for (size_t i = 0; i < n; ++i) y[i] = int64_t(i);
  return y;
}

// mean over rows of −log softmax(z_i)[y_i]
inline double ce(const Mat& z, const Labels& y) {
  double total = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    double mx = *std::max_element(z[i].begin(), z[i].end()), s = 0;
    for (double v : z[i]) s += std::exp(v - mx);
    total += mx + std::log(s) - z[i][size_t(y[i])];
  }
  return total / double(z.size());
}
inline double top1(const Mat& z, const Labels& y) {
  double hit = 0;
  for (size_t i = 0; i < z.size(); ++i)
    hit += int64_t(std::max_element(z[i].begin(), z[i].end()) - z[i].begin()) == y[i];
  return 100.0 * hit / double(z.size());
}

// φ' of the additive angular margin at target cosine t (voxceleb_trainer's or wespeaker's fallback).
enum class Branch { phi, fallback, easy };
inline double arc_target(double t, double m, bool easy, bool wespeaker, Branch* branch = nullptr) {
  const double sine = wespeaker ? std::sqrt(1 - t * t) : std::sqrt(std::clamp(1 - t * t, 0.0, 1.0));
  const double phi = t * std::cos(m) - sine * std::sin(m), th = std::cos(kPi - m);
  Branch b = Branch::phi;
  double out = phi;
  if (easy) {
    if (!(t > 0)) { b = Branch::easy; out = t; }
  } else if (!(t - th > 0)) {
    b = Branch::fallback;
    out = wespeaker ? t - (1 + th) : t - std::sin(kPi - m) * m;
  }
  if (branch) *branch = b;
  return out;
}
// s·(onehot·φ' + (1 − onehot)·cos) for a cosine matrix
inline Mat arc_logits(const Mat& cos, const Labels& y, double m, double s, bool easy, bool wespeaker,
                      std::vector<Branch>* branches = nullptr) {
  Mat z = cos;
  for (size_t i = 0; i < z.size(); ++i) {
    Branch b;
    for (double& v : z[i]) v *= s;
    z[i][size_t(y[i])] = s * arc_target(cos[i][size_t(y[i])], m, easy, wespeaker, &b);
    if (branches) branches->push_back(b);
  }
  return z;
}

inline spk::Tensor labels(const Labels& y) { return spk::Tensor::from_vector(y, {int64_t(y.size())}); }
inline spk::Tensor tensor(const Mat& rows_) {
  std::vector<double> v;
  for (const auto& r : rows_) v.insert(v.end(), r.begin(), r.end());
  return spk::Tensor::from_vector(v, {int64_t(rows_.size()), int64_t(rows_[0].size())}, spk::DType::f64);
}

// A config with f64 parameters for the value and gradient checks.
inline spk::LossConfig f64_config(int64_t n_out, int64_t n_classes, int64_t per_speaker) {
  spk::LossConfig c;
  c.nOut = n_out;
  c.nClasses = n_classes;
  c.nPerSpeaker = per_speaker;
  c.dtype = spk::DType::f64;
  c.seed = 7;
  return c;
}

// Finite-difference check of the loss w.r.t. x and every parameter of the loss; `before` runs before each
// evaluation (to reset a random stream).
inline void gradcheck_loss(spk::Loss& loss, const spk::Tensor& x, const spk::Tensor& y,
                           const std::function<void()>& before = {}, spk::test::GradTol tol = {}) {
  std::vector<spk::Tensor> inputs{x};
  for (const auto& p : loss.parameters()) inputs.push_back(p);
  spk::test::gradcheck([&](const std::vector<spk::Tensor>& in) {
    if (before) before();
    return loss.forward(in[0], y).loss;
  }, inputs, tol);
}

inline std::vector<std::string> param_names(const spk::Module& m) {
  std::vector<std::string> out;
  for (const auto& [n, _] : m.named_parameters()) out.push_back(n);
  return out;
}

}  // namespace ref
