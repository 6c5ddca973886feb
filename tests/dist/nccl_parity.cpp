// The NCCL communicator against the MPI one on the same values, one process per GPU:
//   mpirun -np 2 spk_test_nccl_parity        (the ctest "dist_nccl_parity")
// Exits 77 (ctest: "Skipped", with the reason on stdout) where the build has no NCCL or MPI, the run has fewer
// than 2 ranks, or the machine fewer GPUs than ranks. Both communicators all-reduce (sum, mean), broadcast and
// all-gather the same f32 tensors; the NCCL results, copied to the host, must equal the MPI ones within float
// tolerance (the two may add in other orders).
#include <cmath>
#include <cstdio>

#include "engine/cuda.h"
#include "engine/dist/communicator.h"
#include "engine/rng.h"

using namespace spk;
using namespace spk::dist;

namespace {

int skip(const char* why) {
  std::printf("SKIPPED: NCCL parity test: %s\n", why);
  return 77;
}

bool close(const Tensor& gpu, const Tensor& cpu, const char* what, int rank) {
  const std::vector<double> a = gpu.to_double(), b = cpu.to_double();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / (1 + std::abs(b[i])));
  const bool ok = a.size() == b.size() && worst < 1e-5;
  std::printf("rank %d: %s: NCCL vs MPI max relative difference %.3g %s\n", rank, what, worst, ok ? "ok" : "FAIL");
  return ok;
}

}  // namespace

int main() {
  try {
    if (!built_with_nccl()) return skip("this build has no NCCL (a CUDA build where nccl.h and libnccl are found)");
    if (!built_with_mpi()) return skip("this build has no MPI (the ranks pass NCCL's id over MPI)");
    const LaunchEnv env = launch_env();
    if (env.world_size < 2) return skip("fewer than 2 ranks (run under mpirun -np 2)");
    if (cuda::device_count() < env.world_size) return skip("fewer GPUs than ranks (needs 2 GPUs)");
    auto mpi = make_mpi_communicator();
    auto nccl = make_nccl_communicator(env.local_rank);
    const int r = nccl->rank();
    Rng rng(1234 + uint64_t(r));
    const Tensor x = Tensor::normal({1000, 37}, rng);
    const Device dev = Device::cuda(env.local_rank);
    bool ok = true;
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean}) {
      Tensor c = x.clone(), g = x.to(dev);
      mpi->all_reduce(c, op);
      nccl->all_reduce(g, op);
      ok &= close(g, c, op == ReduceOp::sum ? "all_reduce sum" : "all_reduce mean", r);
    }
    const std::vector<Tensor> lc = mpi->all_reduce({x, x.clone()}, ReduceOp::mean);
    const std::vector<Tensor> lg = nccl->all_reduce({x.to(dev), x.to(dev)}, ReduceOp::mean);
    ok &= close(lg[1], lc[1], "bucketed list all_reduce mean", r);
    Tensor bc = x.clone(), bg = x.to(dev);
    mpi->broadcast(bc, 1);
    nccl->broadcast(bg, 1);
    ok &= close(bg, bc, "broadcast from rank 1", r);
    ok &= close(nccl->all_gather(x.to(dev)), mpi->all_gather(x), "all_gather", r);
    nccl->barrier();
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spk_test_nccl_parity: error: %s\n", e.what());
    return 1;
  }
}
