// How many threads the CPU kernels may use: the engine's one setting, passed to every kernel that runs on the
// work pool (kernels/common/work_pool.h: conv, pooling, fbank). Kernels never ask the system themselves.
//
// Default: OMP_NUM_THREADS when it is set to a positive number (its first entry), else the CPUs this process
// may run on (sched_getaffinity), so the count is what omp_get_max_threads() gave when the kernels used OpenMP.
// GEMMs run on this pool too, with OpenBLAS held at one thread (kernels/gemm/gemm.h says why).
#pragma once
#include <memory>

namespace spk {

class BlasSingleThread;

int cpu_threads();                 // >= 1; the calling thread's SingleThreadScope wins over the setting
void set_cpu_threads(int n);       // n >= 1; 0 returns to the default

// Runs the kernels the calling thread starts on that thread alone, for as long as the scope lives: cpu_threads()
// answers 1 on this thread (the work pool, oneDNN's blocks and the fbank split nothing), and OpenBLAS, whose
// count is process-wide, is held at 1 meanwhile (kernels/gemm/gemm.h BlasSingleThread). For work that is
// parallel across threads already (spk_eval --eval_jobs: one file per thread), where splitting each call too
// would only oversubscribe the cores.
class SingleThreadScope {
 public:
  SingleThreadScope();
  ~SingleThreadScope();
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  int saved_;
  std::unique_ptr<BlasSingleThread> blas_;
};

}  // namespace spk
