// Collective communication between the processes of a data-parallel run (docs/distributed.md): one process per
// rank, every rank calling the same collectives in the same order with tensors of the same shapes and dtypes.
//
// Backends (make_communicator):
//   single  world size 1: every collective is a no-op (all_gather returns its input); always built.
//   mpi     CPU tensors, over MPI_COMM_WORLD (Debian's OpenMPI; built when CMake finds MPI, SPK_MPI=AUTO|ON|OFF).
//           Rank and world size come from the launcher through MPI_Init (mpirun sets OMPI_COMM_WORLD_RANK/SIZE);
//           a process started without mpirun is an MPI singleton, world size 1.
//   nccl    CUDA tensors, one process per GPU (built in CUDA builds where nccl.h and libnccl are found). Rank and
//           world size from launch_env() (mpirun's OMPI_COMM_WORLD_* or torchrun's RANK/WORLD_SIZE/LOCAL_RANK);
//           rank 0's ncclUniqueId reaches the others over MPI when the build has it and mpirun started the run,
//           else over TCP at MASTER_ADDR:MASTER_PORT (rendezvous.h), as torchrun's launches expect.
//
// Hangs: every MPI collective waits at most `timeout_s` seconds (CommOptions); past it, the waiting rank prints
// which collective it was waiting in and aborts the whole job (MPI_Abort), so a rank that died or hangs takes the
// others down within the timeout instead of leaving them blocked forever. A rank that exits (an error, a kill)
// makes mpirun end the others at once.
// Fault points (engine/fault.h): dist.init (fail: MPI is reported as not built), dist.collective (fail: this rank
// stops joining collectives, as a hung rank; kill/throw as elsewhere).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace spk::dist {

enum class ReduceOp { sum, mean };

struct CommOptions {
  double timeout_s = 1800;                  // a collective waiting longer aborts the job; 0: wait forever
  int64_t bucket_bytes = 25 << 20;          // list all-reduce/broadcast: tensors are packed into buckets this big
};

class Communicator {
 public:
  virtual ~Communicator();
  virtual std::string backend() const = 0;   // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual int local_rank() const { return 0; }   // the rank among the processes of this machine
  bool is_root() const { return rank() == 0; }

  // In place, on a tensor on this backend's device. mean: floating dtypes only.
  void all_reduce(Tensor& t, ReduceOp op);
  // A list, packed into buckets of CommOptions::bucket_bytes per (dtype, device). The results are new tensors
  // in the same order: the inputs may share storage (gradients can), so none is written in place.
  std::vector<Tensor> all_reduce(const std::vector<Tensor>& ts, ReduceOp op);
  // In place: every rank's t becomes root's. Same shapes on every rank.
  void broadcast(Tensor& t, int root = 0);
  void broadcast(std::vector<Tensor>& ts, int root = 0);   // in place, bucketed
  // Asynchronous all-reduce (sum) of a contiguous tensor, in place: it returns at once, and t must be left alone
  // until all_reduce_wait(handle) returns. Every rank starts them in the same order; other collectives may come in
  // between (MPI matches collectives by the order they are started in). MPI: MPI_Iallreduce, advanced whenever the
  // rank calls MPI (poll() is such a call); NCCL: on a stream of its own after what the current stream has queued,
  // and the wait makes the current stream wait for it (no host sync). The single backend does nothing.
  // The timeout covers the wait. Used by GradBuckets (grad_buckets.h) to overlap the backward pass.
  uint64_t all_reduce_start(Tensor& t);
  void all_reduce_wait(uint64_t handle);
  virtual void poll() {}   // lets pending asynchronous collectives advance (MPI: one MPI_Test each)
  // Every rank's t (the same shape on each) stacked along a new leading dimension: (world_size, ...t's shape).
  Tensor all_gather(const Tensor& t);
  virtual void barrier() = 0;
  // root's bytes on every rank (any length; a host-side helper for settings, names, hashes).
  std::string broadcast_string(const std::string& s, int root = 0);
  // Ends every process of the job with `code` (MPI_Abort); a no-op for world size 1.
  virtual void abort(int code) = 0;

 protected:
  explicit Communicator(CommOptions o) : opts_(o) {}
  // Contiguous buffers of n elements on the backend's device.
  virtual void all_reduce_sum_raw(void* data, int64_t n, DType dt, Device dev) = 0;
  virtual void broadcast_raw(void* data, int64_t nbytes, Device dev, int root) = 0;
  // Asynchronous all_reduce_sum_raw; the default runs it at once (handle 0, nothing to wait for).
  virtual uint64_t all_reduce_sum_start_raw(void* data, int64_t n, DType dt, Device dev) {
    all_reduce_sum_raw(data, n, dt, dev);
    return 0;
  }
  virtual void all_reduce_wait_raw(uint64_t) {}
  virtual void all_gather_raw(const void* in, void* out, int64_t nbytes, Device dev) = 0;
  virtual void broadcast_host_raw(void* data, int64_t nbytes, int root) = 0;   // host memory, any backend
  virtual void check_device(const Tensor& t, const char* op) const = 0;
  CommOptions opts_;
};

// Where the launcher put this process: mpirun (OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK) or torchrun-style
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). found: false when neither set a rank (one process).
struct LaunchEnv {
  bool found = false;
  std::string source;   // "mpirun", "torchrun-style", or ""
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;
  int master_port = 0;
};
// Throws spk::Error naming the variable when one is malformed or out of range.
LaunchEnv launch_env();

bool built_with_mpi();
bool built_with_nccl();

std::unique_ptr<Communicator> make_single_communicator();
// Initialises MPI (once per process). Throws spk::Error "not built with MPI ..." where it is absent.
std::unique_ptr<Communicator> make_mpi_communicator(CommOptions o = {});
// One communicator over the CUDA device cuda_device; throws where NCCL is absent or the launch gives no rank.
std::unique_ptr<Communicator> make_nccl_communicator(int cuda_device, CommOptions o = {});

}  // namespace spk::dist
