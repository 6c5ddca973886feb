// The CPU kernels' thread pool (work_pool.h). One job at a time: the caller publishes the job under the
// lock and bumps a generation counter, workers that wake take units from an atomic counter, and the caller
// returns once every unit has finished and no worker is still inside the job. A worker that wakes after
// the job is gone finds no job and goes back to sleep, so a descheduled worker never holds the caller up.
#include "kernels/common/work_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace spk {

namespace {

class WorkPool {
 public:
  ~WorkPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void run(int64_t units, int threads, const std::function<void(int64_t)>& fn) {
    std::lock_guard<std::mutex> one_job(run_mu_);
    const int helpers = int(std::min<int64_t>(threads - 1, units - 1));
    {
      std::lock_guard<std::mutex> lk(mu_);
      while (int(workers_.size()) < helpers) workers_.emplace_back([this] { work(); });
      job_ = &fn;
      units_ = units;
      helpers_wanted_ = helpers;
      next_.store(0, std::memory_order_relaxed);
      finished_.store(0, std::memory_order_relaxed);
      ++generation_;
    }
    if (helpers > 0) wake_.notify_all();
    drain(fn);
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return finished_.load(std::memory_order_acquire) == units_ && inside_ == 0; });
    job_ = nullptr;
  }

 private:
  void drain(const std::function<void(int64_t)>& fn) {
    for (;;) {
      const int64_t u = next_.fetch_add(1, std::memory_order_relaxed);
      if (u >= units_) return;
      fn(u);
      finished_.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void work() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      wake_.wait(lk, [&] { return stop_ || (generation_ != seen && job_ && helpers_wanted_ > 0); });
      if (stop_) return;
      seen = generation_;
      --helpers_wanted_;
      ++inside_;
      const auto* job = job_;
      lk.unlock();
      drain(*job);
      lk.lock();
      if (--inside_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mu_;   // serialises callers
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t units_ = 0;
  int helpers_wanted_ = 0, inside_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::atomic<int64_t> next_{0}, finished_{0};
};

}  // namespace

void parallel_units(int64_t units, int threads, const std::function<void(int64_t)>& fn) {
  if (units <= 0) return;
  if (threads <= 1 || units == 1) {
    for (int64_t u = 0; u < units; ++u) fn(u);
    return;
  }
  static WorkPool pool;
  pool.run(units, threads, fn);
}

}  // namespace spk
