// A parallel map over job indices 0..n-1 whose results come out in index order, through a bounded window:
// workers run job i only while i < (next index the consumer will take) + depth, so at most `depth` results
// are in flight or waiting. The loaders build on it: one job = one training batch, or one test file.
//
// Errors: a job's exception is stored with its result and re-thrown by next() when the consumer reaches that
// index (so the consumer sees errors in order, deterministically); the pipeline then stops.
// Shutdown: stop() (and the destructor) wakes every worker and joins; a worker in the middle of a job
// finishes that job first. No hang when the consumer stops early or a job throws.
// workers == 0 runs each job synchronously inside next() (debugging, deterministic profiling).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/check.h"

namespace spk::audio {

template <class T>
class OrderedPipeline {
 public:
  using Job = std::function<T(int64_t index)>;

  OrderedPipeline(int64_t n, int workers, int64_t depth, Job job) : n_(n), depth_(depth), job_(std::move(job)) {
    SPK_CHECK(n >= 0 && workers >= 0 && depth >= 1, "pipeline: bad sizes n=", n, " workers=", workers, " depth=", depth);
    threads_.reserve(size_t(workers));
    try {
      for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
    } catch (...) {
      stop();
      throw;
    }
  }
  ~OrderedPipeline() { stop(); }
  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  // The next result in index order; false when all n were taken (or after stop / an error).
  bool next(T& out) {
    if (threads_.empty()) return next_inline(out);
    std::unique_lock<std::mutex> lock(m_);
    if (stopped_ || next_out_ >= n_) return false;
    done_cv_.wait(lock, [&] { return stopped_ || done_.count(next_out_) != 0; });
    if (done_.count(next_out_) == 0) return false;   // stopped from another thread
    Result r = std::move(done_[next_out_]);
    done_.erase(next_out_);
    ++next_out_;
    work_cv_.notify_all();
    lock.unlock();
    if (r.error) {
      stop();
      std::rethrow_exception(r.error);
    }
    out = std::move(r.value);
    return true;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stopped_ = true;
    }
    work_cv_.notify_all();
    done_cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  int64_t size() const { return n_; }

 private:
  struct Result {
    T value{};
    std::exception_ptr error;
  };

  bool next_inline(T& out) {
    if (stopped_ || next_out_ >= n_) return false;
    const int64_t i = next_out_++;
    try {
      out = job_(i);
    } catch (...) {
      stopped_ = true;
      throw;
    }
    return true;
  }

  void work() {
    for (;;) {
      int64_t i;
      {
        std::unique_lock<std::mutex> lock(m_);
        work_cv_.wait(lock, [&] { return stopped_ || next_job_ >= n_ || next_job_ < next_out_ + depth_; });
        if (stopped_ || next_job_ >= n_) return;
        i = next_job_++;
      }
      Result r;
      try {
        r.value = job_(i);
      } catch (...) {
        r.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        done_.emplace(i, std::move(r));
      }
      done_cv_.notify_all();
    }
  }

  const int64_t n_, depth_;
  Job job_;
  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  int64_t next_job_ = 0, next_out_ = 0;
  bool stopped_ = false;
  std::map<int64_t, Result> done_;
  std::vector<std::thread> threads_;
};

}  // namespace spk::audio
