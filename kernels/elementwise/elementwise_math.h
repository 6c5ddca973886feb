// The scalar formulas of the elementwise ops, shared by the CPU loops and the CUDA kernels so the two
// cannot drift. d() is the local derivative f'(x), expressed with y = f(x) where that is cheaper.
#pragma once
#include <cmath>

#include "kernels/common/half.h"   // SPK_HD
#include "kernels/elementwise/elementwise.h"

namespace spk {

// Overloads for float and double (unqualified calls on a fundamental type find no others).
using std::exp; using std::log; using std::sqrt; using std::tanh; using std::pow;

template <class T>
SPK_HD T unary_f(UnaryOp op, T x, UnaryParams p) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return exp(x);
    case UnaryOp::log: return log(x);
    case UnaryOp::sqrt: return sqrt(x);
    case UnaryOp::abs: return x < T(0) ? -x : x;
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::leaky_relu: return x > T(0) ? x : T(p.a) * x;
    case UnaryOp::sigmoid: return x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
    case UnaryOp::tanh: return tanh(x);
    case UnaryOp::add_scalar: return x + T(p.a);
    case UnaryOp::mul_scalar: return x * T(p.a);
    case UnaryOp::pow_scalar: return pow(x, T(p.a));
    case UnaryOp::clamp: return x < T(p.a) ? T(p.a) : (x > T(p.b) ? T(p.b) : x);
  }
  return x;
}

// f'(x); kinks (relu, abs, clamp at the bounds) take the one-sided value PyTorch uses: 0 at relu(0),
// 0 at abs(0), 1 at the clamp bounds.
template <class T>
SPK_HD T unary_df(UnaryOp op, T x, T y, UnaryParams p) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::leaky_relu: return x > T(0) ? T(1) : T(p.a);
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::add_scalar: return T(1);
    case UnaryOp::mul_scalar: return T(p.a);
    case UnaryOp::pow_scalar: return p.a == 0 ? T(0) : T(p.a) * pow(x, T(p.a - 1));
    case UnaryOp::clamp: return (x < T(p.a) || x > T(p.b)) ? T(0) : T(1);
  }
  return T(0);
}

template <class T>
SPK_HD T binary_f(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return a;
}

}  // namespace spk
