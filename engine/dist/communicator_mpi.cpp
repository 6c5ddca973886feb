// The MPI backend of communicator.h: CPU tensors over MPI_COMM_WORLD. Every collective is the non-blocking
// MPI call polled to completion, so a wait can end at CommOptions::timeout_s (a blocking MPI call cannot), and
// the rank that timed out asks the others where they are, to name the hung one (silent_ranks).
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/dist/backends.h"
#include "engine/fault.h"

namespace spk::dist {
namespace detail {

namespace {

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  SPK_FAIL("MPI ", what, " failed: ", std::string(msg, size_t(len)));
}

MPI_Datatype mpi_type(DType dt) {
  switch (dt) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    default: SPK_FAIL("the MPI communicator cannot sum ", dtype_name(dt), " tensors (f32, f64, i32, i64)");
  }
}

// MPI_Finalize at exit, after every communicator is gone (static destruction order of this one object).
struct MpiSession {
  bool mine = false;
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (mine && !finalized) MPI_Finalize();
  }
};

void init_mpi() {
  static MpiSession session;
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (initialised) return;
  int provided = 0;
  // FUNNELED: only the thread that made the communicator calls MPI (the loader's workers never do).
  mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  session.mine = true;
  // Errors come back as return codes (mpi_check turns them into spk::Error naming the call), not as an abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(CommOptions o) : Communicator(o) {
    init_mpi();
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
    MPI_Comm local;
    mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
              "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_free(&local);
  }
  std::string backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  int local_rank() const override { return local_rank_; }
  void barrier() override {
    MPI_Request r;
    enter("barrier");
    mpi_check(MPI_Ibarrier(MPI_COMM_WORLD, &r), "MPI_Ibarrier");
    wait(r, "barrier");
  }
  void abort(int code) override {
    if (world_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
  }

 protected:
  void check_device(const Tensor& t, const char* op) const override {
    SPK_CHECK(t.device().is_cpu(), "the MPI communicator's ", op, " takes CPU tensors, not ", t.str(),
              " (CUDA tensors use the NCCL backend)");
  }
  void all_reduce_sum_raw(void* data, int64_t n, DType dt, Device) override {
    SPK_CHECK(n <= INT32_MAX, "MPI all_reduce of ", n, " elements (at most 2^31-1 per bucket)");
    MPI_Request r;
    enter("all_reduce");
    mpi_check(MPI_Iallreduce(MPI_IN_PLACE, data, int(n), mpi_type(dt), MPI_SUM, MPI_COMM_WORLD, &r),
              "MPI_Iallreduce");
    wait(r, "all_reduce");
  }
  uint64_t all_reduce_sum_start_raw(void* data, int64_t n, DType dt, Device) override {
    SPK_CHECK(n <= INT32_MAX, "MPI all_reduce of ", n, " elements (at most 2^31-1 per bucket)");
    MPI_Request r;
    enter("all_reduce (bucket)");
    mpi_check(MPI_Iallreduce(MPI_IN_PLACE, data, int(n), mpi_type(dt), MPI_SUM, MPI_COMM_WORLD, &r),
              "MPI_Iallreduce");
    pending_.emplace(++last_handle_, r);
    return last_handle_;
  }
  void all_reduce_wait_raw(uint64_t handle) override {
    const auto it = pending_.find(handle);
    SPK_CHECK(it != pending_.end(), "all_reduce_wait: no pending all-reduce #", handle);
    wait(it->second, "all_reduce (bucket)");   // a request MPI_Test completed is MPI_REQUEST_NULL: done at once
    pending_.erase(it);
  }
  void poll() override {
    int done = 0;
    for (auto& [h, r] : pending_) mpi_check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), "MPI_Test");
  }
  void broadcast_raw(void* data, int64_t nbytes, Device, int root) override { broadcast_host_raw(data, nbytes, root); }
  void broadcast_host_raw(void* data, int64_t nbytes, int root) override {
    SPK_CHECK(nbytes <= INT32_MAX, "MPI broadcast of ", nbytes, " bytes (at most 2^31-1 per bucket)");
    MPI_Request r;
    enter("broadcast");
    mpi_check(MPI_Ibcast(data, int(nbytes), MPI_BYTE, root, MPI_COMM_WORLD, &r), "MPI_Ibcast");
    wait(r, "broadcast");
  }
  void all_gather_raw(const void* in, void* out, int64_t nbytes, Device) override {
    SPK_CHECK(nbytes <= INT32_MAX, "MPI all_gather of ", nbytes, " bytes (at most 2^31-1 per rank)");
    MPI_Request r;
    enter("all_gather");
    mpi_check(MPI_Iallgather(in, int(nbytes), MPI_BYTE, out, int(nbytes), MPI_BYTE, MPI_COMM_WORLD, &r),
              "MPI_Iallgather");
    wait(r, "all_gather");
  }

 private:
  void enter(const char* what) {
    ++seq_;
    if (fault::hit(fault::Point::dist_collective)) {   // SPK_FAULT dist.collective:fail: a hung rank
      std::fprintf(stderr, "rank %d: SPK_FAULT: hanging before %s #%llu\n", rank_, what,
                   static_cast<unsigned long long>(seq_));
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  // Polls r to completion; sleeps a little between polls (from 0 up to 1 ms) so a rank waiting for a slower one
  // leaves the CPU to it, and gives up at the timeout.
  void wait(MPI_Request& r, const char* what) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    int done = 0;
    for (int polls = 0;; ++polls) {
      mpi_check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) return;
      if (polls > 64) std::this_thread::sleep_for(std::chrono::microseconds(polls > 1000 ? 1000 : 50));
      if (opts_.timeout_s > 0 && (polls & 63) == 0) {
        answer_probes();
        const double waited = std::chrono::duration<double>(clock::now() - t0).count();
        if (waited > opts_.timeout_s) collective_timed_out(rank_, world_, what, seq_, waited, silent_ranks());
      }
    }
  }

  // Naming the hung rank: a rank past the timeout asks every other rank, by point-to-point messages on tags
  // of their own, which collective it is in. A rank waiting in a collective answers while it polls (above); a
  // rank hung outside MPI (a stuck read, a deadlock, SPK_FAULT dist.collective:fail) cannot, and is named.
  static constexpr int kProbeTag = 0x5b01, kReplyTag = 0x5b02;
  void answer_probes() {
    int flag = 0;
    MPI_Status st;
    while (MPI_Iprobe(MPI_ANY_SOURCE, kProbeTag, MPI_COMM_WORLD, &flag, &st) == MPI_SUCCESS && flag) {
      uint64_t asked = 0;
      MPI_Recv(&asked, 1, MPI_UINT64_T, st.MPI_SOURCE, kProbeTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      replies_.push_back(seq_);   // the buffer must outlive the send, which nobody waits for
      MPI_Request r;
      MPI_Isend(&replies_.back(), 1, MPI_UINT64_T, st.MPI_SOURCE, kReplyTag, MPI_COMM_WORLD, &r);
      MPI_Request_free(&r);
    }
  }
  // "rank(s) 1, 3 did not answer within 2 s (hung outside any collective)", or "" when every rank answered.
  std::string silent_ranks() {
    std::vector<uint64_t> out(size_t(world_), seq_), in(size_t(world_), 0);
    std::vector<MPI_Request> recv(size_t(world_), MPI_REQUEST_NULL);
    for (int r = 0; r < world_; ++r) {
      if (r == rank_) continue;
      MPI_Request s;
      MPI_Isend(&out[size_t(r)], 1, MPI_UINT64_T, r, kProbeTag, MPI_COMM_WORLD, &s);
      MPI_Request_free(&s);
      MPI_Irecv(&in[size_t(r)], 1, MPI_UINT64_T, r, kReplyTag, MPI_COMM_WORLD, &recv[size_t(r)]);
    }
    const double grace_s = 2;   // the others poll every ~64 ms at most; a healthy rank answers well within it
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int> done(size_t(world_), 0);
    done[size_t(rank_)] = 1;
    for (bool all = false; !all;) {
      answer_probes();   // ranks that timed out at the same moment ask this one too
      all = true;
      for (int r = 0; r < world_; ++r)
        if (!done[size_t(r)]) {
          MPI_Test(&recv[size_t(r)], &done[size_t(r)], MPI_STATUS_IGNORE);
          all = all && done[size_t(r)];
        }
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > grace_s) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::string silent;
    for (int r = 0; r < world_; ++r)
      if (!done[size_t(r)]) silent += (silent.empty() ? "" : ", ") + std::to_string(r);
    if (silent.empty()) return "";
    return "rank(s) " + silent + " did not answer within 2 s: hung outside any collective";
  }

  int rank_ = 0, world_ = 1, local_rank_ = 0;
  uint64_t seq_ = 0;   // collectives entered so far: the same number on every rank when all is well
  std::map<uint64_t, MPI_Request> pending_;   // started asynchronous all-reduces, by handle
  uint64_t last_handle_ = 0;
  std::deque<uint64_t> replies_;   // answer_probes' send buffers (a deque: pushes never move the others)
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_backend(CommOptions o) { return std::make_unique<MpiCommunicator>(o); }

bool mpi_broadcast_bytes(void* data, int64_t nbytes, int root) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) init_mpi();
  mpi_check(MPI_Bcast(data, int(nbytes), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  return true;
}

void collective_timed_out(int rank, int world, const char* what, uint64_t seq, double waited_s,
                          const std::string& silent) {
  std::fprintf(stderr, "%s\n", collective_timeout_message(rank, world, what, seq, waited_s, silent).c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::_Exit(3);
}

}  // namespace detail
}  // namespace spk::dist
