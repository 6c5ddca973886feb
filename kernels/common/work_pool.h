// A small work-sharing thread pool, the one CPU threading mechanism of kernels/ (conv, pooling, fbank):
// parallel_units(n, threads, fn) calls fn(u) for every u in [0, n) on up to `threads` threads (the caller among
// them), handing units out one at a time, and returns when all are done. `threads` comes from the caller: the
// engine passes its cpu_threads() (engine/cpu_threads.h) down to every kernel that uses the pool.
//
// Why not OpenMP: libgomp's threads spin at every barrier (GOMP_SPINCOUNT, milliseconds) unless the process
// was started with OMP_WAIT_POLICY=passive. On the shared 2-core dev box a spinning thread burns the core
// its partner needs, and a third of the conv's CPU time went to libgomp spin loops (bench/README.md). These
// workers sleep on a condition variable between jobs, and dynamic hand-out lets one thread finish the job
// when the other is descheduled.
//
// fn must not throw and must not call parallel_units itself; jobs from different caller threads run one
// after another. The workers are started on first use and joined at exit.
#pragma once
#include <cstdint>
#include <functional>

namespace spk {

void parallel_units(int64_t units, int threads, const std::function<void(int64_t)>& fn);

}  // namespace spk
