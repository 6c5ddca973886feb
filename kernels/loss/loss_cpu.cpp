// CPU kernels of the fused cosine-softmax losses (kernels/loss/loss.h): the GEMMs go to OpenBLAS through
// kernels/gemm, the rest are plain loops with double sums. The same stages as the CUDA kernels, so each
// one is the readable spec of its GPU counterpart; the formulas live in kernels/loss/loss_math.h.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/loss/loss.h"
#include "kernels/loss/loss_math.h"

namespace spk {

namespace {

// Vectors v_0..v_{count−1} of length len, element d of vector c at v[c·vs + d·es]; either es == 1 (rows) or
// vs == 1 (columns).
template <class T>
struct Vecs {
  const T* v;
  int64_t count, len, vs, es;
  T at(int64_t c, int64_t d) const { return v[c * vs + d * es]; }
};

template <class T>
T sq_norm(const Vecs<T>& s, int64_t c) {
  double acc = 0;
  for (int64_t d = 0; d < s.len; ++d) {
    const double e = double(s.at(c, d));
    acc += e * e;
  }
  return T(acc);
}

// Σ_d u[c, d]·v[c, d] for every vector c of two sets of one layout. Vectors in columns (vs == 1) are walked
// feature by feature, so the reads are contiguous rather than a stride of `count` apart.
template <class T>
std::vector<double> row_dots(const Vecs<T>& s, const T* u, const T* v) {
  std::vector<double> acc(size_t(s.count), 0.0);
  if (s.es == 1) {
    for (int64_t c = 0; c < s.count; ++c)
      for (int64_t d = 0; d < s.len; ++d) acc[size_t(c)] += double(u[c * s.vs + d]) * double(v[c * s.vs + d]);
  } else {
    for (int64_t d = 0; d < s.len; ++d)
      for (int64_t c = 0; c < s.count; ++c) acc[size_t(c)] += double(u[c + d * s.es]) * double(v[c + d * s.es]);
  }
  return acc;
}

// out (2, count): [1/max(‖v‖, eps) ..., 1/‖v‖² or 0 ...]
template <class T>
void inv_norms(const Vecs<T>& s, double eps, T* out) {
  const T eps2 = T(eps * eps);
  const std::vector<double> sq = row_dots(s, s.v, s.v);
  for (int64_t c = 0; c < s.count; ++c) inv_norm(T(sq[size_t(c)]), eps2, out[c], out[s.count + c]);
}

// out_c = g·(out_c − coef_c·v_c) with coef_c = pc[c]·(v_c · out_c) (pc given) or coef[c]; out has v's layout.
template <class T>
void fixup(const Vecs<T>& s, T* out, const T* pc, const T* coef, T g) {
  std::vector<double> k(size_t(s.count));
  if (pc) {
    k = row_dots(s, s.v, (const T*)out);
    for (int64_t c = 0; c < s.count; ++c) k[size_t(c)] *= double(pc[c]);
  } else {
    for (int64_t c = 0; c < s.count; ++c) k[size_t(c)] = double(coef[c]);
  }
  const double gd = double(g);
  if (s.es == 1) {
    for (int64_t c = 0; c < s.count; ++c)
      for (int64_t d = 0; d < s.len; ++d) {
        T& o = out[c * s.vs + d];
        o = T(gd * (double(o) - k[size_t(c)] * double(s.v[c * s.vs + d])));
      }
  } else {
    for (int64_t d = 0; d < s.len; ++d)
      for (int64_t c = 0; c < s.count; ++c) {
        T& o = out[c + d * s.es];
        o = T(gd * (double(o) - k[size_t(c)] * double(s.v[c + d * s.es])));
      }
  }
}

// First index of the largest value, NaN counting as −inf (so a NaN never wins; the CUDA kernels agree).
struct ArgMax {
  double best = -std::numeric_limits<double>::infinity();
  int64_t arg = -1;
  void see(double z, int64_t c) {
    const double key = std::isnan(z) ? -std::numeric_limits<double>::infinity() : z;
    if (arg < 0 || key > best) { best = key; arg = c; }
  }
};

// Softmax statistics of one logit sequence z(0..n−1): max/argmax and log Σ exp(z − max).
template <class Z>
void seq_stats(int64_t n, const Z& z, double& m, double& log_sum, int64_t& arg) {
  ArgMax am;
  for (int64_t j = 0; j < n; ++j) am.see(double(z(j)), j);
  m = am.best;
  arg = am.arg;
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += std::exp(double(z(j)) - m);
  log_sum = std::log(s);
}

}  // namespace

// ---------------------------------------------------------------- margin_softmax_ce

template <class T>
void margin_softmax_ce_forward_cpu(const MarginCeArgs& a, const T* x, const T* w, const int64_t* labels, T* dots,
                                   T* xnorm, T* wnorm, T* loss, int64_t* pred, bool want_grad) {
  const int64_t N = a.N, C = a.C, D = a.D;
  inv_norms(Vecs<T>{x, N, D, D, 1}, a.eps, xnorm);
  inv_norms(Vecs<T>{w, C, D, a.w_vs, a.w_es}, a.eps, wnorm);
  // dots (N, C) = x (N, D) · Wᵀ, with W stored (C, D) or (D, C).
  GemmArgs g;
  g.M = N; g.N = C; g.K = D; g.lda = D; g.ldc = C;
  g.trans_b = a.w_es == 1;
  g.ldb = a.w_es == 1 ? D : C;
  gemm_cpu<T>(g, x, w, dots, a.threads);

  const MarginConsts<T> k = margin_consts<T>(a);
  const T* rw = wnorm;
  for (int64_t i = 0; i < N; ++i) {
    T* row = dots + i * C;
    const int64_t y = labels[i];
    const T rx = xnorm[i];
    const T t = (row[y] * rx) * rw[y];
    T dphi;
    const T zy = margin_target(k, t, dphi) * k.s;
    // Logits in place: s·cos, the label column s·φ'(t).
    for (int64_t c = 0; c < C; ++c) row[c] = c == y ? zy : ((row[c] * rx) * rw[c]) * k.s;
    ArgMax am;
    for (int64_t c = 0; c < C; ++c) am.see(double(row[c]), c);
    const double m = am.best;
    // Σ exp(z − m); with a gradient to come, exp(z − m) replaces z in the row so the next sweep needs no exp.
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double e = std::exp(double(row[c]) - m);
      sum += e;
      if (want_grad) row[c] = T(e);
    }
    const double ls = std::log(sum);
    loss[i] = T((m - double(zy)) + ls);   // lse − z_y without cancelling two large numbers
    pred[i] = am.arg;
    if (!want_grad) continue;
    // F = ∂loss/∂dot = (p − onehot)·(s/N)·(dφ'/dt on the label column)·(1/‖x_i‖)(1/‖w_c‖)
    const double f = double(k.s) / double(N), inv_sum = 1.0 / sum;
    for (int64_t c = 0; c < C; ++c) {
      const double p = double(row[c]) * inv_sum;
      const double d = c == y ? (p - 1.0) * double(dphi) : p;
      row[c] = T(d * f * double(rx) * double(rw[c]));
    }
  }
}

template <class T>
void margin_softmax_ce_backward_cpu(const MarginCeArgs& a, const T* x, const T* w, const T* F, const T* xnorm,
                                    const T* wnorm, const T* g, T* dx, T* dw) {
  const int64_t N = a.N, C = a.C, D = a.D;
  const bool rows = a.w_es == 1;   // W stored (C, D)
  if (dx) {
    // dx (N, D) = F (N, C) · W (C, D)
    GemmArgs ga;
    ga.M = N; ga.N = D; ga.K = C; ga.lda = C; ga.ldc = D;
    ga.trans_b = !rows;
    ga.ldb = rows ? D : C;
    gemm_cpu<T>(ga, F, w, dx, a.threads);
    fixup(Vecs<T>{x, N, D, D, 1}, dx, xnorm + N, (const T*)nullptr, g[0]);
  }
  if (dw) {
    GemmArgs gw;
    gw.trans_a = true;
    if (rows) {   // dW (C, D) = Fᵀ (C, N) · x (N, D)
      gw.M = C; gw.N = D; gw.K = N; gw.lda = C; gw.ldb = D; gw.ldc = D;
      gemm_cpu<T>(gw, F, x, dw, a.threads);
    } else {      // dW (D, C) = xᵀ (D, N) · F (N, C)
      gw.M = D; gw.N = C; gw.K = N; gw.lda = D; gw.ldb = C; gw.ldc = C;
      gemm_cpu<T>(gw, x, F, dw, a.threads);
    }
    fixup(Vecs<T>{w, C, D, a.w_vs, a.w_es}, dw, wnorm + C, (const T*)nullptr, g[0]);
  }
}

// ---------------------------------------------------------------- similarity_ce

template <class T>
void similarity_ce_forward_cpu(const SimilarityCeArgs& s, const T* a, const T* b, const T* w, const T* bias, T* dots,
                               T* F, T* sq, T* lse, T* coef, T* part, T* loss, int64_t* pred, bool want_grad) {
  const int64_t N = s.N, D = s.D;
  for (int64_t i = 0; i < N; ++i) {
    sq[i] = sq_norm(Vecs<T>{a, N, D, D, 1}, i);
    sq[N + i] = sq_norm(Vecs<T>{b, N, D, D, 1}, i);
  }
  GemmArgs g;   // dots (N, N) = a · bᵀ
  g.M = N; g.N = N; g.K = D; g.lda = D; g.ldb = D; g.ldc = N; g.trans_b = true;
  gemm_cpu<T>(g, a, b, dots, s.threads);

  const T W = w[0], B = s.has_bias ? bias[0] : T(0), eps2 = T(s.eps * s.eps);
  // dots -> cos in place; the gradient pass recomputes den and the masks (one sqrt) instead of storing them.
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      bool ma, mb;
      dots[i * N + j] /= sim_den(s.eps_product, eps2, sq[i], sq[N + j], ma, mb);
    }
  const T* cs = dots;
  auto z_at = [&](int64_t i, int64_t j) { return cs[i * N + j] * W + B; };
  for (int64_t i = 0; i < N; ++i) {
    double m, ls;
    int64_t arg;
    seq_stats(N, [&](int64_t j) { return z_at(i, j); }, m, ls, arg);
    lse[i] = T(m + ls);
    loss[i] = T((m - double(z_at(i, i))) + ls);
    pred[i] = arg;
    if (!s.symmetric) continue;
    seq_stats(N, [&](int64_t r) { return z_at(r, i); }, m, ls, arg);
    lse[N + i] = T(m + ls);
    loss[N + i] = T((m - double(z_at(i, i))) + ls);
    pred[N + i] = arg;
  }
  if (!want_grad) return;

  // G = ∂loss/∂z (rows' and, symmetric, columns' softmax minus the diagonal, over the number of CE terms);
  // ∂loss/∂cos = w·G; F = ∂loss/∂dot = w·G/den; coef_a/b collect the normalisation's projection terms.
  const double f = 1.0 / double(s.symmetric ? 2 * N : N);
  auto G_at = [&](int64_t i, int64_t j) {
    const double z = double(z_at(i, j)), delta = i == j ? 1.0 : 0.0;
    double G = std::exp(z - double(lse[i])) - delta;
    if (s.symmetric) G += std::exp(z - double(lse[N + j])) - delta;
    return G * f;
  };
  for (int64_t i = 0; i < N; ++i) {   // row i: F, coef_a[i], the partial sums
    double ra = 0, pw = 0, pb = 0;
    for (int64_t j = 0; j < N; ++j) {
      bool ma, mb;
      const T den = sim_den(s.eps_product, eps2, sq[i], sq[N + j], ma, mb);
      const double c = double(cs[i * N + j]), G = G_at(i, j), dS = double(W) * G;
      F[i * N + j] = T(dS / double(den));
      if (ma) ra += dS * c;
      pw += G * c;
      pb += G;
    }
    coef[i] = sq[i] > T(0) ? T(ra / double(sq[i])) : T(0);
    part[i] = T(pw);
    part[N + i] = T(pb);
  }
  for (int64_t j = 0; j < N; ++j) {   // column j: coef_b[j]
    double rb = 0;
    for (int64_t i = 0; i < N; ++i) {
      bool ma, mb;
      sim_den(s.eps_product, eps2, sq[i], sq[N + j], ma, mb);
      if (mb) rb += double(W) * G_at(i, j) * double(cs[i * N + j]);
    }
    coef[N + j] = sq[N + j] > T(0) ? T(rb / double(sq[N + j])) : T(0);
  }
}

template <class T>
void similarity_ce_backward_cpu(const SimilarityCeArgs& s, const T* a, const T* b, const T* F, const T* coef,
                                const T* part, const T* g, T* da, T* db, T* dw, T* dbias) {
  const int64_t N = s.N, D = s.D;
  if (da) {   // da (N, D) = F (N, N) · b (N, D)
    GemmArgs ga;
    ga.M = N; ga.N = D; ga.K = N; ga.lda = N; ga.ldb = D; ga.ldc = D;
    gemm_cpu<T>(ga, F, b, da, s.threads);
    fixup(Vecs<T>{a, N, D, D, 1}, da, (const T*)nullptr, coef, g[0]);
  }
  if (db) {   // db (N, D) = Fᵀ (N, N) · a (N, D)
    GemmArgs gb;
    gb.trans_a = true;
    gb.M = N; gb.N = D; gb.K = N; gb.lda = N; gb.ldb = D; gb.ldc = D;
    gemm_cpu<T>(gb, F, a, db, s.threads);
    fixup(Vecs<T>{b, N, D, D, 1}, db, (const T*)nullptr, coef + N, g[0]);
  }
  double sw = 0, sb = 0;
  for (int64_t i = 0; i < N; ++i) {
    sw += double(part[i]);
    sb += double(part[N + i]);
  }
  if (dw) dw[0] = T(double(g[0]) * sw);
  if (dbias) dbias[0] = T(double(g[0]) * sb);
}

#define SPK_INSTANTIATE(T)                                                                                        \
  template void margin_softmax_ce_forward_cpu<T>(const MarginCeArgs&, const T*, const T*, const int64_t*, T*, T*, \
                                                 T*, T*, int64_t*, bool);                                         \
  template void margin_softmax_ce_backward_cpu<T>(const MarginCeArgs&, const T*, const T*, const T*, const T*,     \
                                                  const T*, const T*, T*, T*);                                    \
  template void similarity_ce_forward_cpu<T>(const SimilarityCeArgs&, const T*, const T*, const T*, const T*, T*,  \
                                             T*, T*, T*, T*, T*, T*, int64_t*, bool);                             \
  template void similarity_ce_backward_cpu<T>(const SimilarityCeArgs&, const T*, const T*, const T*, const T*,     \
                                              const T*, const T*, T*, T*, T*, T*);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
