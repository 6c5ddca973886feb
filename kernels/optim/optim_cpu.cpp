// The CPU multi-tensor optimiser steps (kernels/optim/optim.h): one loop over the flat list of parameters.
// Compiled without floating-point contraction, so that a*b + c stays two roundings, as the engine ops of the
// reference path (engine/optim.cpp) are; the tests compare the two bit for bit.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/optim/optim.h"
#include "kernels/optim/optim_math.h"

namespace spk {

template <class T> void sgd_step_cpu(const OptimSlot<T>* slots, int64_t count, const SgdArgs& a) {
  for (int64_t k = 0; k < count; ++k)
    for (int64_t i = 0; i < slots[k].n; ++i) optim_math::sgd_element(slots[k], i, a);
}

// Adam's per-element update is ~20 flops on four streams: on a multi-million-parameter model it is worth the
// pool. Units of 64K elements over the flat list of parameters; every element updated by the same formula.
template <class T> void adam_step_cpu(const OptimSlot<T>* slots, int64_t count, const AdamArgs& a) {
  constexpr int64_t kUnit = int64_t(1) << 16;
  std::vector<std::pair<int64_t, int64_t>> units;   // (slot, first element)
  for (int64_t k = 0; k < count; ++k)
    for (int64_t i = 0; i < slots[k].n; i += kUnit) units.push_back({k, i});
  auto run = [&](int64_t u) {
    const auto [k, i0] = units[size_t(u)];
    const int64_t i1 = std::min(slots[k].n, i0 + kUnit);
    for (int64_t i = i0; i < i1; ++i) optim_math::adam_element(slots[k], i, a);
  };
  if (a.threads <= 1 || units.size() < 2) {
    for (size_t u = 0; u < units.size(); ++u) run(int64_t(u));
    return;
  }
  parallel_units(int64_t(units.size()), a.threads, run);
}

template void sgd_step_cpu<float>(const OptimSlot<float>*, int64_t, const SgdArgs&);
template void sgd_step_cpu<double>(const OptimSlot<double>*, int64_t, const SgdArgs&);
template void adam_step_cpu<float>(const OptimSlot<float>*, int64_t, const AdamArgs&);
template void adam_step_cpu<double>(const OptimSlot<double>*, int64_t, const AdamArgs&);

}  // namespace spk
