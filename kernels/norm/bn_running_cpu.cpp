// batch_norm_update_running_cpu (kernels/norm/norm.h): the running-statistics update of a training batch norm in
// one loop. Compiled without floating-point contraction so each product and sum rounds on its own, as the engine
// ops it replaced did (tests/engine/test_bn_running.cpp compares the two bit for bit).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/norm/norm.h"

namespace spk {

template <class T, class R>
void batch_norm_update_running_cpu(const T* mean, const T* var, R* running_mean, R* running_var, int64_t C,
                                   double momentum, double unbias) {
  const R keep = R(1 - momentum), take = R(momentum), ub = R(unbias);
  for (int64_t c = 0; c < C; ++c) {
    const R a = running_mean[c] * keep, b = R(mean[c]) * take;
    running_mean[c] = a + b;
    const R u = R(var[c]) * ub;
    const R d = running_var[c] * keep, e = u * take;
    running_var[c] = d + e;
  }
}

template void batch_norm_update_running_cpu<float, float>(const float*, const float*, float*, float*, int64_t, double,
                                                          double);
template void batch_norm_update_running_cpu<float, double>(const float*, const float*, double*, double*, int64_t,
                                                           double, double);
template void batch_norm_update_running_cpu<double, float>(const double*, const double*, float*, float*, int64_t,
                                                           double, double);
template void batch_norm_update_running_cpu<double, double>(const double*, const double*, double*, double*, int64_t,
                                                            double, double);

}  // namespace spk
