// The backend-independent half of the communicators (communicator.h): packing lists into buckets, mean, the
// launcher's environment, the single-process backend, and the messages of a build without MPI or NCCL.
#include "engine/dist/communicator.h"

#include <cstdio>
#include <cstring>

#include <cstdlib>
#include <map>

#include "engine/autograd.h"
#include "engine/fault.h"
#include "engine/ops.h"
#include "engine/dist/backends.h"

namespace spk::dist {

Communicator::~Communicator() = default;

namespace {

// Tensors of one (dtype, device), in order, cut into runs of at most `cap` bytes (a bigger tensor alone).
std::vector<std::vector<size_t>> buckets(const std::vector<Tensor>& ts, int64_t cap) {
  std::vector<std::vector<size_t>> out;
  std::map<std::pair<int, std::string>, size_t> open;   // (dtype, device) -> index into out of its open bucket
  std::map<size_t, int64_t> bytes;
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto key = std::make_pair(int(ts[i].dtype()), ts[i].device().str());
    const int64_t nb = ts[i].numel() * int64_t(dtype_size(ts[i].dtype()));
    auto it = open.find(key);
    if (it == open.end() || bytes[it->second] + nb > cap) {
      out.emplace_back();
      it = open.insert_or_assign(key, out.size() - 1).first;
    }
    out[it->second].push_back(i);
    bytes[it->second] += nb;
  }
  return out;
}

Tensor flat_view(const Tensor& flat, const Shape& shape, int64_t offset) {
  return make_view(flat, shape, contiguous_strides(shape), offset);
}

// The tensors of `idx` copied one after the other into a new flat buffer.
Tensor pack(const std::vector<Tensor>& ts, const std::vector<size_t>& idx) {
  int64_t n = 0;
  for (size_t i : idx) n += ts[i].numel();
  Tensor flat = Tensor::empty({n}, ts[idx[0]].dtype(), ts[idx[0]].device());
  int64_t off = 0;
  for (size_t i : idx) {
    flat_view(flat, ts[i].shape(), off).copy_(ts[i]);
    off += ts[i].numel();
  }
  return flat;
}

class SingleCommunicator final : public Communicator {
 public:
  SingleCommunicator() : Communicator(CommOptions{}) {}
  std::string backend() const override { return "single"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void barrier() override {}
  void abort(int) override {}

 protected:
  void all_reduce_sum_raw(void*, int64_t, DType, Device) override {}
  void broadcast_raw(void*, int64_t, Device, int) override {}
  void all_gather_raw(const void* in, void* out, int64_t nbytes, Device dev) override {
    SPK_CHECK(dev.is_cpu() || in == out, "single communicator: all_gather of a CUDA tensor");
    if (in != out) std::memcpy(out, in, size_t(nbytes));
  }
  void broadcast_host_raw(void*, int64_t, int) override {}
  void check_device(const Tensor&, const char*) const override {}
};

int env_int(const char* name, const char* value, int lo, int hi) {
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || v < lo || v > hi)
    SPK_FAIL("environment variable ", name, "='", value, "' is not a whole number in [", lo, ", ", hi, "]");
  return int(v);
}

}  // namespace

void Communicator::all_reduce(Tensor& t, ReduceOp op) {
  check_device(t, "all_reduce");
  SPK_CHECK(op == ReduceOp::sum || is_floating(t.dtype()), "all_reduce mean of an integer tensor ", t.str());
  if (world_size() == 1) return;
  NoGradGuard ng;
  Tensor buf = t.is_contiguous() ? t : t.contiguous();
  all_reduce_sum_raw(buf.data_ptr(), buf.numel(), buf.dtype(), buf.device());
  if (op == ReduceOp::mean) buf.copy_(mul_scalar(buf, 1.0 / world_size()));
  if (!buf.same(t)) t.copy_(buf);
}

std::vector<Tensor> Communicator::all_reduce(const std::vector<Tensor>& ts, ReduceOp op) {
  for (const Tensor& t : ts) {
    check_device(t, "all_reduce");
    SPK_CHECK(op == ReduceOp::sum || is_floating(t.dtype()), "all_reduce mean of an integer tensor ", t.str());
  }
  NoGradGuard ng;
  std::vector<Tensor> out(ts.size());
  if (world_size() == 1) {
    for (size_t i = 0; i < ts.size(); ++i) out[i] = ts[i].clone();
    return out;
  }
  for (const auto& idx : buckets(ts, opts_.bucket_bytes)) {
    Tensor flat = pack(ts, idx);
    all_reduce_sum_raw(flat.data_ptr(), flat.numel(), flat.dtype(), flat.device());
    if (op == ReduceOp::mean) flat = mul_scalar(flat, 1.0 / world_size());
    int64_t off = 0;
    for (size_t i : idx) {   // views of the reduced buffer, one per tensor: no copy back
      out[i] = flat_view(flat, ts[i].shape(), off);
      off += ts[i].numel();
    }
  }
  return out;
}

uint64_t Communicator::all_reduce_start(Tensor& t) {
  check_device(t, "all_reduce_start");
  SPK_CHECK(t.is_contiguous(), "all_reduce_start: ", t.str(), " is not contiguous");
  if (world_size() == 1) return 0;
  return all_reduce_sum_start_raw(t.data_ptr(), t.numel(), t.dtype(), t.device());
}

void Communicator::all_reduce_wait(uint64_t handle) {
  if (world_size() > 1) all_reduce_wait_raw(handle);
}

void Communicator::broadcast(Tensor& t, int root) {
  check_device(t, "broadcast");
  SPK_CHECK(root >= 0 && root < world_size(), "broadcast: root ", root, " outside world size ", world_size());
  if (world_size() == 1) return;
  NoGradGuard ng;
  Tensor buf = t.is_contiguous() ? t : t.contiguous();
  broadcast_raw(buf.data_ptr(), buf.numel() * int64_t(dtype_size(buf.dtype())), buf.device(), root);
  if (!buf.same(t)) t.copy_(buf);
}

void Communicator::broadcast(std::vector<Tensor>& ts, int root) {
  for (const Tensor& t : ts) check_device(t, "broadcast");
  SPK_CHECK(root >= 0 && root < world_size(), "broadcast: root ", root, " outside world size ", world_size());
  if (world_size() == 1) return;
  NoGradGuard ng;
  for (const auto& idx : buckets(ts, opts_.bucket_bytes)) {
    Tensor flat = pack(ts, idx);
    broadcast_raw(flat.data_ptr(), flat.numel() * int64_t(dtype_size(flat.dtype())), flat.device(), root);
    int64_t off = 0;
    for (size_t i : idx) {
      ts[i].copy_(flat_view(flat, ts[i].shape(), off));
      off += ts[i].numel();
    }
  }
}

Tensor Communicator::all_gather(const Tensor& t) {
  check_device(t, "all_gather");
  NoGradGuard ng;
  const Tensor in = t.contiguous();
  Shape shape = t.shape();
  shape.insert(shape.begin(), world_size());
  Tensor out = Tensor::empty(shape, t.dtype(), t.device());
  all_gather_raw(in.data_ptr(), out.data_ptr(), in.numel() * int64_t(dtype_size(in.dtype())), in.device());
  return out;
}

std::string Communicator::broadcast_string(const std::string& s, int root) {
  if (world_size() == 1) return s;
  int64_t n = int64_t(s.size());
  broadcast_host_raw(&n, sizeof n, root);
  std::string out = rank() == root ? s : std::string(size_t(n), '\0');
  if (n > 0) broadcast_host_raw(out.data(), n, root);
  return out;
}

LaunchEnv launch_env() {
  LaunchEnv e;
  const char* orank = std::getenv("OMPI_COMM_WORLD_RANK");
  const char* trank = std::getenv("RANK");
  if (orank) {
    e.found = true;
    e.source = "mpirun";
    const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (!size) SPK_FAIL("OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not");
    e.world_size = env_int("OMPI_COMM_WORLD_SIZE", size, 1, 1 << 20);
    e.rank = env_int("OMPI_COMM_WORLD_RANK", orank, 0, e.world_size - 1);
    if (const char* l = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK"))
      e.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", l, 0, e.world_size - 1);
  } else if (trank) {
    e.found = true;
    e.source = "torchrun-style";
    const char* size = std::getenv("WORLD_SIZE");
    if (!size) SPK_FAIL("RANK is set but WORLD_SIZE is not (torchrun-style launch: docs/distributed.md)");
    e.world_size = env_int("WORLD_SIZE", size, 1, 1 << 20);
    e.rank = env_int("RANK", trank, 0, e.world_size - 1);
    if (const char* l = std::getenv("LOCAL_RANK")) e.local_rank = env_int("LOCAL_RANK", l, 0, e.world_size - 1);
  }
  if (const char* a = std::getenv("MASTER_ADDR")) e.master_addr = a;
  if (const char* p = std::getenv("MASTER_PORT")) e.master_port = env_int("MASTER_PORT", p, 1, 65535);
  return e;
}

#if !SPK_HAVE_MPI
bool detail::mpi_broadcast_bytes(void*, int64_t, int) { return false; }
#endif

namespace detail {
std::string collective_timeout_message(int rank, int world, const char* what, uint64_t seq, double waited_s,
                                       const std::string& silent) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "spk: rank %d of %d: waited %.0f s in %s (collective #%llu) for the other ranks, more than the "
                "timeout (--dist_timeout): a rank died or hangs",
                rank, world, waited_s, what, static_cast<unsigned long long>(seq));
  return std::string(buf) + (silent.empty() ? "" : " (" + silent + ")") + "; ending every rank";
}
}  // namespace detail

bool built_with_mpi() { return SPK_HAVE_MPI; }
bool built_with_nccl() { return SPK_HAVE_NCCL; }

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

std::unique_ptr<Communicator> make_mpi_communicator(CommOptions o) {
  // SPK_FAULT dist.init:fail: the message of a build without MPI, testable in a build with it.
  if (!SPK_HAVE_MPI || fault::hit(fault::Point::dist_init))
    throw Error("this build has no MPI: install Debian's libopenmpi-dev and openmpi-bin (scripts/setup.sh) and "
                "configure again (CMake option SPK_MPI; docs/distributed.md)");
#if SPK_HAVE_MPI
  return detail::make_mpi_backend(o);
#endif
}

std::unique_ptr<Communicator> make_nccl_communicator(int cuda_device, CommOptions o) {
  if (!SPK_HAVE_NCCL)
    throw Error("this build has no NCCL: build with CUDA where nccl.h and libnccl are found (CMake options "
                "SPK_CUDA, SPK_NCCL, NCCL_ROOT; docs/distributed.md)");
#if SPK_HAVE_NCCL
  return detail::make_nccl_backend(cuda_device, o);
#endif
}

}  // namespace spk::dist
