// How many threads the CPU kernels may use: the engine's one setting, passed to every kernel that runs on the
// work pool (kernels/common/work_pool.h: conv, pooling, fbank). Kernels never ask the system themselves.
//
// Default: OMP_NUM_THREADS when it is set to a positive number (its first entry), else the CPUs this process
// may run on (sched_getaffinity), so the count is what omp_get_max_threads() gave when the kernels used OpenMP.
// OpenBLAS keeps its own count (openblas_set_num_threads); spk_bench --threads sets both.
#pragma once

namespace spk {

int cpu_threads();                 // >= 1
void set_cpu_threads(int n);       // n >= 1; 0 returns to the default

}  // namespace spk
