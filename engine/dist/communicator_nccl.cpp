// The NCCL backend of communicator.h: CUDA tensors, one process per GPU, collectives on the engine's current
// stream (engine/cuda.h), so they are ordered after the ops that produced their inputs without a host sync.
// Rank 0's ncclUniqueId reaches the other ranks over MPI (a build with MPI, a run started by mpirun), or else over
// the torchrun-style MASTER_ADDR/MASTER_PORT rendezvous (rendezvous.h).
//
// Hangs: an NCCL collective is enqueued on the stream and returns at once, so a hung or dead peer shows only as
// work that never completes. A watchdog thread (as PyTorch's ProcessGroupNCCL has) records a CUDA event after
// every collective and polls the oldest unfinished one: past CommOptions::timeout_s it prints the line the MPI
// backend prints (collective_timeout_message: this rank, the collective and its number), aborts the communicator
// (ncclCommAbort, which NCCL allows from another thread and which ends the kernels waiting for the peers) and
// ends the process; it also ends it when NCCL reports an asynchronous error (a peer's connection lost).
// Compiled with NCCL (CUDA builds), not run here: no GPU.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "engine/cuda.h"
#include "engine/dist/backends.h"
#include "engine/dist/rendezvous.h"
#include "engine/fault.h"

namespace spk::dist {
namespace detail {

namespace {

void nccl_check(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess) SPK_FAIL("NCCL ", what, " failed: ", ncclGetErrorString(rc));
}
void cuda_check(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) SPK_FAIL("CUDA ", what, " failed: ", cudaGetErrorString(rc));
}

ncclDataType_t nccl_type(DType dt) {
  switch (dt) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::f16: return ncclFloat16;
    case DType::bf16: return ncclBfloat16;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
  }
  return ncclFloat32;
}

cudaStream_t stream() { return static_cast<cudaStream_t>(cuda::current_stream()); }

class NcclWatchdog {
 public:
  NcclWatchdog(ncclComm_t comm, int device, int rank, int world, double timeout_s)
      : comm_(comm), device_(device), rank_(rank), world_(world), timeout_s_(timeout_s) {
    thread_ = std::thread([this] { loop(); });
  }
  ~NcclWatchdog() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (Pending& p : pending_) cudaEventDestroy(p.event);
    for (cudaEvent_t e : spare_) cudaEventDestroy(e);
  }
  // After a collective was enqueued on s: its completion is what the watchdog waits for.
  void enqueued(const char* what, uint64_t seq, cudaStream_t s) {
    std::lock_guard<std::mutex> lock(m_);
    cudaEvent_t e = nullptr;
    if (!spare_.empty()) {
      e = spare_.back();
      spare_.pop_back();
    } else if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
      return;   // unwatched rather than a failed step: the collective itself still runs
    }
    cudaEventRecord(e, s);
    pending_.push_back({e, what, seq, std::chrono::steady_clock::now()});
  }

 private:
  struct Pending {
    cudaEvent_t event;
    const char* what;
    uint64_t seq;
    std::chrono::steady_clock::time_point t0;
  };
  void loop() {
    cudaSetDevice(device_);   // event queries from this thread address the communicator's device
    std::unique_lock<std::mutex> lock(m_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      while (!pending_.empty() && cudaEventQuery(pending_.front().event) == cudaSuccess) {
        spare_.push_back(pending_.front().event);
        pending_.pop_front();
      }
      ncclResult_t async = ncclSuccess;
      if (ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async != ncclSuccess && async != ncclInProgress)
        end(std::string("spk: rank ") + std::to_string(rank_) + " of " + std::to_string(world_) + ": NCCL reported " +
            ncclGetErrorString(async) + " (a rank died or its connection was lost); ending this rank");
      if (pending_.empty() || timeout_s_ <= 0) continue;
      const Pending& p = pending_.front();
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.t0).count();
      if (waited > timeout_s_) end(collective_timeout_message(rank_, world_, p.what, p.seq, waited));
    }
  }
  [[noreturn]] void end(const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
    ncclCommAbort(comm_);   // the peers' kernels waiting on this rank fail, and their watchdogs end them
    std::_Exit(3);
  }

  ncclComm_t comm_;
  int device_, rank_, world_;
  double timeout_s_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  std::vector<cudaEvent_t> spare_;
  bool stop_ = false;
  std::thread thread_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int device, CommOptions o) : Communicator(o), device_(device) {
    const LaunchEnv env = launch_env();
    rank_ = env.rank;
    world_ = env.world_size;
    local_rank_ = env.local_rank;
    cuda::set_device(device_);
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (rank_ == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    if (world_ > 1) {
      if (env.source == "mpirun" && built_with_mpi()) {
        mpi_broadcast_bytes(&id, sizeof id, 0);
      } else {
        const std::string got =
            tcp_rendezvous(env, std::string(reinterpret_cast<const char*>(&id), sizeof id), o.timeout_s);
        SPK_CHECK(got.size() == sizeof id, "NCCL id of ", got.size(), " bytes from the rendezvous");
        std::memcpy(&id, got.data(), sizeof id);
      }
    }
    nccl_check(ncclCommInitRank(&comm_, world_, id, rank_), "ncclCommInitRank");
    if (world_ > 1) watchdog_ = std::make_unique<NcclWatchdog>(comm_, device_, rank_, world_, o.timeout_s);
  }
  ~NcclCommunicator() override {
    for (auto& [h, e] : pending_) cudaEventDestroy(e);
    if (comm_stream_) cudaStreamDestroy(comm_stream_);
    watchdog_.reset();   // before the communicator it watches
    if (comm_) ncclCommDestroy(comm_);
  }
  std::string backend() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  int local_rank() const override { return local_rank_; }
  void barrier() override {
    // NCCL has no barrier: an all-reduce of one number, waited for.
    void* p = cuda::alloc(sizeof(float), device_);
    cuda::memset_zero(p, sizeof(float));
    enter("barrier");
    nccl_check(ncclAllReduce(p, p, 1, ncclFloat32, ncclSum, comm_, stream()), "ncclAllReduce (barrier)");
    watch("barrier");
    cuda::synchronize();
    cuda::free(p, device_);
  }
  void abort(int code) override {
    watchdog_.reset();
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    if (world_ > 1) std::_Exit(code);
  }

 protected:
  void check_device(const Tensor& t, const char* op) const override {
    SPK_CHECK(t.device().is_cuda() && t.device().index == device_, "the NCCL communicator's ", op,
              " takes tensors on cuda:", device_, ", not ", t.str());
  }
  void all_reduce_sum_raw(void* data, int64_t n, DType dt, Device) override {
    enter("all_reduce");
    nccl_check(ncclAllReduce(data, data, size_t(n), nccl_type(dt), ncclSum, comm_, stream()), "ncclAllReduce");
    watch("all_reduce");
  }
  // Asynchronous all-reduce (GradBuckets): on comm_stream_, after an event on the current stream (the copies that
  // filled the bucket), so the backward's kernels and the transfer overlap; the wait queues the current stream
  // behind the transfer's event, as PyTorch DDP's bucket work does. The buffer is the caller's until the wait, and
  // frees after it are ordered on the current stream, hence after the transfer.
  uint64_t all_reduce_sum_start_raw(void* data, int64_t n, DType dt, Device) override {
    if (!comm_stream_) cuda_check(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    cudaEvent_t filled = nullptr, done = nullptr;
    cuda_check(cudaEventCreateWithFlags(&filled, cudaEventDisableTiming), "cudaEventCreate");
    cuda_check(cudaEventRecord(filled, stream()), "cudaEventRecord");
    cuda_check(cudaStreamWaitEvent(comm_stream_, filled, 0), "cudaStreamWaitEvent");
    cudaEventDestroy(filled);   // released once it has completed; the wait above is already queued
    enter("all_reduce (bucket)");
    nccl_check(ncclAllReduce(data, data, size_t(n), nccl_type(dt), ncclSum, comm_, comm_stream_), "ncclAllReduce");
    if (watchdog_) watchdog_->enqueued("all_reduce (bucket)", seq_, comm_stream_);
    cuda_check(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
    cuda_check(cudaEventRecord(done, comm_stream_), "cudaEventRecord");
    pending_.emplace(++last_handle_, done);
    return last_handle_;
  }
  void all_reduce_wait_raw(uint64_t handle) override {
    const auto it = pending_.find(handle);
    SPK_CHECK(it != pending_.end(), "all_reduce_wait: no pending all-reduce #", handle);
    cuda_check(cudaStreamWaitEvent(stream(), it->second, 0), "cudaStreamWaitEvent");
    cudaEventDestroy(it->second);
    pending_.erase(it);
  }
  void broadcast_raw(void* data, int64_t nbytes, Device, int root) override {
    enter("broadcast");
    nccl_check(ncclBroadcast(data, data, size_t(nbytes), ncclUint8, root, comm_, stream()), "ncclBroadcast");
    watch("broadcast");
  }
  void all_gather_raw(const void* in, void* out, int64_t nbytes, Device) override {
    enter("all_gather");
    nccl_check(ncclAllGather(in, out, size_t(nbytes), ncclUint8, comm_, stream()), "ncclAllGather");
    watch("all_gather");
  }
  void broadcast_host_raw(void* data, int64_t nbytes, int root) override {
    void* p = cuda::alloc(size_t(nbytes), device_);
    cuda::copy_h2d(p, data, size_t(nbytes));
    broadcast_raw(p, nbytes, Device::cuda(device_), root);
    cuda::copy_d2h(data, p, size_t(nbytes));   // waits for the stream
    cuda::free(p, device_);
  }

 private:
  // As the MPI backend: counts the collective, and SPK_FAULT dist.collective:fail makes this rank hang before it.
  void enter(const char* what) {
    ++seq_;
    if (fault::hit(fault::Point::dist_collective)) {
      std::fprintf(stderr, "rank %d: SPK_FAULT: hanging before %s #%llu\n", rank_, what,
                   static_cast<unsigned long long>(seq_));
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  void watch(const char* what) {
    if (watchdog_) watchdog_->enqueued(what, seq_, stream());
  }

  int device_ = 0, rank_ = 0, world_ = 1, local_rank_ = 0;
  uint64_t seq_ = 0;   // collectives entered so far, for the timeout's message
  ncclComm_t comm_ = nullptr;
  std::unique_ptr<NcclWatchdog> watchdog_;
  cudaStream_t comm_stream_ = nullptr;          // asynchronous all-reduces (made on first use)
  std::map<uint64_t, cudaEvent_t> pending_;     // their completion events, by handle
  uint64_t last_handle_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_backend(int cuda_device, CommOptions o) {
  return std::make_unique<NcclCommunicator>(cuda_device, o);
}

}  // namespace detail
}  // namespace spk::dist
