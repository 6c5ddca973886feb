// The NCCL backend of communicator.h: CUDA tensors, one process per GPU, collectives on the engine's current
// stream (engine/cuda.h), so they are ordered after the ops that produced their inputs without a host sync.
// Rank 0's ncclUniqueId reaches the other ranks over MPI (a build with MPI, a run started by mpirun), or else over
// the torchrun-style MASTER_ADDR/MASTER_PORT rendezvous (rendezvous.h).
// Not written yet (docs/distributed.md): a timeout on NCCL waits (ncclCommAbort from a watchdog).
#include <nccl.h>

#include <cstring>

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
  }
  ~NcclCommunicator() override {
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
    fault::hit(fault::Point::dist_collective);
    nccl_check(ncclAllReduce(p, p, 1, ncclFloat32, ncclSum, comm_, stream()), "ncclAllReduce (barrier)");
    cuda::synchronize();
    cuda::free(p, device_);
  }
  void abort(int code) override {
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
    fault::hit(fault::Point::dist_collective);
    nccl_check(ncclAllReduce(data, data, size_t(n), nccl_type(dt), ncclSum, comm_, stream()), "ncclAllReduce");
  }
  void broadcast_raw(void* data, int64_t nbytes, Device, int root) override {
    fault::hit(fault::Point::dist_collective);
    nccl_check(ncclBroadcast(data, data, size_t(nbytes), ncclUint8, root, comm_, stream()), "ncclBroadcast");
  }
  void all_gather_raw(const void* in, void* out, int64_t nbytes, Device) override {
    fault::hit(fault::Point::dist_collective);
    nccl_check(ncclAllGather(in, out, size_t(nbytes), ncclUint8, comm_, stream()), "ncclAllGather");
  }
  void broadcast_host_raw(void* data, int64_t nbytes, int root) override {
    void* p = cuda::alloc(size_t(nbytes), device_);
    cuda::copy_h2d(p, data, size_t(nbytes));
    broadcast_raw(p, nbytes, Device::cuda(device_), root);
    cuda::copy_d2h(data, p, size_t(nbytes));   // waits for the stream
    cuda::free(p, device_);
  }

 private:
  int device_ = 0, rank_ = 0, world_ = 1, local_rank_ = 0;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_backend(int cuda_device, CommOptions o) {
  return std::make_unique<NcclCommunicator>(cuda_device, o);
}

}  // namespace detail
}  // namespace spk::dist
