// Strided N-d iteration for CPU kernels. Shapes up to kMaxDims; strides in elements.
// for_each_offset visits every index of `shape` in row-major order and hands the kernel the element
// offsets of up to three operands, walking the innermost dim with a plain strided loop.
#pragma once
#include <cstdint>

namespace spk {

constexpr int kMaxDims = 8;

struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

// fn(o0, o1, o2, n, s0, s1, s2): process n elements starting at offsets o*, stepping by s* (inner dim).
template <class Fn>
void for_each_inner(int ndim, const int64_t* shape, const int64_t* st0, const int64_t* st1, const int64_t* st2,
                    Fn&& fn) {
  if (ndim == 0) { fn(int64_t(0), int64_t(0), int64_t(0), int64_t(1), int64_t(0), int64_t(0), int64_t(0)); return; }
  for (int d = 0; d < ndim; ++d) if (shape[d] == 0) return;
  int64_t idx[kMaxDims] = {};
  const int inner = ndim - 1;
  int64_t o0 = 0, o1 = 0, o2 = 0;
  for (;;) {
    fn(o0, o1, o2, shape[inner], st0[inner], st1 ? st1[inner] : 0, st2 ? st2[inner] : 0);
    int d = inner - 1;
    for (; d >= 0; --d) {
      idx[d]++;
      o0 += st0[d]; if (st1) o1 += st1[d]; if (st2) o2 += st2[d];
      if (idx[d] < shape[d]) break;
      o0 -= st0[d] * shape[d]; if (st1) o1 -= st1[d] * shape[d]; if (st2) o2 -= st2[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace spk
