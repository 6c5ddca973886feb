// The CPU multi-tensor optimiser steps (kernels/optim/optim.h): one loop over the flat list of parameters.
// Compiled without floating-point contraction, so that a*b + c stays two roundings, as the engine ops of the
// reference path (engine/optim.cpp) are; the tests compare the two bit for bit.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/optim/optim.h"
#include "kernels/optim/optim_math.h"

namespace spk {

template <class T> void sgd_step_cpu(const OptimSlot<T>* slots, int64_t count, const SgdArgs& a) {
  for (int64_t k = 0; k < count; ++k)
    for (int64_t i = 0; i < slots[k].n; ++i) optim_math::sgd_element(slots[k], i, a);
}

template <class T> void adam_step_cpu(const OptimSlot<T>* slots, int64_t count, const AdamArgs& a) {
  for (int64_t k = 0; k < count; ++k)
    for (int64_t i = 0; i < slots[k].n; ++i) optim_math::adam_element(slots[k], i, a);
}

template void sgd_step_cpu<float>(const OptimSlot<float>*, int64_t, const SgdArgs&);
template void sgd_step_cpu<double>(const OptimSlot<double>*, int64_t, const SgdArgs&);
template void adam_step_cpu<float>(const OptimSlot<float>*, int64_t, const AdamArgs&);
template void adam_step_cpu<double>(const OptimSlot<double>*, int64_t, const AdamArgs&);

}  // namespace spk
