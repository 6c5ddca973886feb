// The communicators (engine/dist/communicator.h). The ctest "dist_communicator" runs this binary under
// `mpirun -np 2`, so every collective is checked against values each rank can compute alone; run without mpirun
// it checks the world-size-1 semantics (an MPI singleton). Every rank runs every test case in the same order, as
// the collectives require.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "engine/dist/communicator.h"
#include "engine/dist/rendezvous.h"
#include "engine/dist/sync_batch_norm.h"
#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/fault.h"

using namespace spk;
using namespace spk::dist;

namespace {

Communicator& mpi() {
  static std::unique_ptr<Communicator> c = make_mpi_communicator();
  return *c;
}

std::vector<double> values(const Tensor& t) { return t.to_double(); }

// Restores an environment variable on scope exit.
struct EnvGuard {
  std::string name;
  bool had;
  std::string old;
  explicit EnvGuard(const char* n) : name(n), had(std::getenv(n) != nullptr), old(had ? std::getenv(n) : "") {}
  ~EnvGuard() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
};

}  // namespace

TEST_CASE("single communicator: world size 1, collectives leave values as they are") {
  auto c = make_single_communicator();
  CHECK(c->backend() == "single");
  CHECK((c->rank() == 0 && c->world_size() == 1 && c->is_root()));
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  c->all_reduce(t, ReduceOp::mean);
  CHECK(values(t) == std::vector<double>{1, 2, 3});
  const std::vector<Tensor> r = c->all_reduce(std::vector<Tensor>{t, t}, ReduceOp::sum);
  CHECK((values(r[0]) == values(t) && !r[0].same(t)));
  const Tensor g = c->all_gather(t);
  CHECK(g.shape() == Shape{1, 3});
  CHECK(values(g) == std::vector<double>{1, 2, 3});
  CHECK(c->broadcast_string("abc") == "abc");
  c->barrier();
}

TEST_CASE("MPI communicator: all_reduce sum and mean, one tensor and bucketed lists") {
  if (!built_with_mpi()) {
    MESSAGE("SKIPPED: this build has no MPI");
    return;
  }
  Communicator& c = mpi();
  const int W = c.world_size(), r = c.rank();
  MESSAGE("MPI rank " << r << " of " << W);
  CHECK(c.backend() == "mpi");
  const double tri = W * (W + 1) / 2.0;   // sum over ranks of (rank + 1)

  Tensor a = Tensor::from_vector(std::vector<float>{float(r + 1), float(10 * (r + 1)), -0.5f}, {3});
  c.all_reduce(a, ReduceOp::sum);
  CHECK(values(a) == std::vector<double>{tri, 10 * tri, -0.5 * W});

  Tensor m = Tensor::from_vector(std::vector<double>{double(r), 1.0}, {2}, DType::f64);
  c.all_reduce(m, ReduceOp::mean);
  CHECK(values(m)[0] == doctest::Approx((W - 1) / 2.0));
  CHECK(values(m)[1] == doctest::Approx(1.0));

  // A non-contiguous tensor (a transposed view) is reduced into its own elements.
  Tensor base = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor tv = make_view(base, {3, 2}, {1, 3}, 0);
  CHECK(!tv.is_contiguous());
  c.all_reduce(tv, ReduceOp::sum);
  CHECK(values(base) == std::vector<double>{1.0 * W, 2.0 * W, 3.0 * W, 4.0 * W, 5.0 * W, 6.0 * W});

  // Lists: tiny buckets (16 bytes) so several are used; mixed dtypes; one input twice (shared storage, as two
  // gradients can be); the inputs stay as they were.
  auto tiny = make_mpi_communicator(CommOptions{.bucket_bytes = 16});
  Tensor x = Tensor::from_vector(std::vector<float>{float(r), 1, 2, 3, 4, 5}, {2, 3});
  Tensor y = Tensor::from_vector(std::vector<int64_t>{int64_t(r) * 100, 7}, {2});
  Tensor z = Tensor::from_vector(std::vector<float>{float(r + 1)}, {});
  const std::vector<Tensor> sums = tiny->all_reduce({x, y, z, x}, ReduceOp::sum);
  REQUIRE(sums.size() == 4);
  const double rsum = (W - 1) * W / 2.0;
  CHECK(values(sums[0]) == std::vector<double>{rsum, 1.0 * W, 2.0 * W, 3.0 * W, 4.0 * W, 5.0 * W});
  CHECK(sums[0].shape() == Shape{2, 3});
  CHECK(sums[1].dtype() == DType::i64);
  CHECK(values(sums[1]) == std::vector<double>{100 * rsum, 7.0 * W});
  CHECK(values(sums[2]) == std::vector<double>{tri});
  CHECK(values(sums[3]) == values(sums[0]));
  CHECK(values(x) == std::vector<double>{double(r), 1, 2, 3, 4, 5});
  const std::vector<Tensor> means = tiny->all_reduce({x, z}, ReduceOp::mean);
  CHECK(values(means[0])[0] == doctest::Approx(rsum / W));
  CHECK(values(means[1])[0] == doctest::Approx(tri / W));

  CHECK_THROWS_WITH_AS(c.all_reduce(y, ReduceOp::mean), doctest::Contains("mean of an integer tensor"), Error);
}

TEST_CASE("MPI communicator: broadcast, all_gather, strings, barrier") {
  if (!built_with_mpi()) {
    MESSAGE("SKIPPED: this build has no MPI");
    return;
  }
  Communicator& c = mpi();
  const int W = c.world_size(), r = c.rank();
  const int root = W - 1;   // not always 0

  Tensor t = Tensor::full({2, 2}, double(r + 1));
  c.broadcast(t, root);
  CHECK(values(t) == std::vector<double>(4, double(root + 1)));

  // A list, in place, in tiny buckets: every rank ends with root's values, shapes and dtypes kept.
  auto tiny = make_mpi_communicator(CommOptions{.bucket_bytes = 8});
  std::vector<Tensor> ts = {Tensor::full({3}, double(r)), Tensor::from_vector(std::vector<int64_t>{r, -r}, {2}),
                            Tensor::full({2, 1}, 0.25 * r, DType::f64)};
  tiny->broadcast(ts, root);
  CHECK(values(ts[0]) == std::vector<double>(3, double(root)));
  CHECK(values(ts[1]) == std::vector<double>{double(root), -double(root)});
  CHECK(values(ts[2]) == std::vector<double>(2, 0.25 * root));

  const Tensor g = c.all_gather(Tensor::from_vector(std::vector<float>{float(r), float(2 * r)}, {2}));
  CHECK(g.shape() == Shape{W, 2});
  std::vector<double> want;
  for (int k = 0; k < W; ++k) want.insert(want.end(), {double(k), 2.0 * k});
  CHECK(values(g) == want);

  const std::string mine = r == root ? std::string(1000, 'x') + "end" : "other";
  CHECK(c.broadcast_string(mine, root) == std::string(1000, 'x') + "end");
  CHECK(c.broadcast_string(r == 0 ? "" : "not empty", 0).empty());
  c.barrier();
}

TEST_CASE("launch environment: mpirun's and torchrun-style variables, malformed values named") {
  EnvGuard g1("OMPI_COMM_WORLD_RANK"), g2("OMPI_COMM_WORLD_SIZE"), g3("OMPI_COMM_WORLD_LOCAL_RANK"), g4("RANK"),
      g5("WORLD_SIZE"), g6("LOCAL_RANK"), g7("MASTER_ADDR"), g8("MASTER_PORT");
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "RANK",
                        "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"})
    unsetenv(v);
  CHECK(!launch_env().found);
  setenv("RANK", "3", 1);
  setenv("WORLD_SIZE", "4", 1);
  setenv("LOCAL_RANK", "1", 1);
  setenv("MASTER_ADDR", "node0", 1);
  setenv("MASTER_PORT", "29500", 1);
  LaunchEnv e = launch_env();
  CHECK((e.found && e.source == "torchrun-style" && e.rank == 3 && e.world_size == 4 && e.local_rank == 1));
  CHECK((e.master_addr == "node0" && e.master_port == 29500));
  setenv("OMPI_COMM_WORLD_RANK", "1", 1);   // mpirun's variables win
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  e = launch_env();
  CHECK((e.source == "mpirun" && e.rank == 1 && e.world_size == 2));
  setenv("OMPI_COMM_WORLD_RANK", "2", 1);
  CHECK_THROWS_WITH_AS(launch_env(), doctest::Contains("OMPI_COMM_WORLD_RANK='2' is not a whole number in [0, 1]"),
                       Error);
  unsetenv("OMPI_COMM_WORLD_RANK");
  setenv("WORLD_SIZE", "four", 1);
  CHECK_THROWS_WITH_AS(launch_env(), doctest::Contains("WORLD_SIZE='four'"), Error);
  setenv("WORLD_SIZE", "4", 1);
  setenv("MASTER_PORT", "70000", 1);
  CHECK_THROWS_WITH_AS(launch_env(), doctest::Contains("MASTER_PORT='70000'"), Error);
}

TEST_CASE("SPK_FAULT dist.init:fail: the message of a build without MPI") {
  fault::ScopedFaults f("dist.init:fail");
  CHECK_THROWS_WITH_AS(make_mpi_communicator(), doctest::Contains("this build has no MPI: install Debian's libopenmpi-dev"),
                       Error);
}

TEST_CASE("TCP rendezvous (NCCL's torchrun-style bootstrap): rank 0's bytes reach the other ranks; errors named") {
  // A free port: bind port 0, read it back, release it (another process could take it meanwhile: unlikely).
  int port = 0;
  {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(s >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    ::close(s);
  }
  LaunchEnv e;
  e.found = true;
  e.world_size = 3;
  e.master_addr = "localhost";
  e.master_port = port;
  const std::string id(128, '\0');
  std::string payload = id;
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(i * 7 + 1);
  // Ranks 1 and 2 in child processes (started before rank 0 listens: they retry), rank 0 here.
  std::vector<pid_t> kids;
  for (int r = 1; r <= 2; ++r) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      LaunchEnv mine = e;
      mine.rank = r;
      int code = 1;
      try {
        code = tcp_rendezvous(mine, "", 20) == payload ? 0 : 2;
      } catch (...) {
        code = 3;
      }
      std::_Exit(code);
    }
    kids.push_back(pid);
  }
  e.rank = 0;
  CHECK(tcp_rendezvous(e, payload, 20) == payload);
  for (pid_t pid : kids) {
    int st = 0;
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);   // 2: other bytes, 3: an error
  }

  // Errors: no MASTER_ADDR; nobody listening until the timeout (the message names where it looked).
  LaunchEnv bad = e;
  bad.master_addr = "";
  CHECK_THROWS_WITH_AS(tcp_rendezvous(bad, payload, 1), doctest::Contains("needs MASTER_ADDR and MASTER_PORT"), Error);
  bad = e;
  bad.rank = 1;
  const std::string want = "rendezvous at MASTER_ADDR=localhost MASTER_PORT=" + std::to_string(port) +
                           " (rank 1 of 3): timed out connecting to rank 0";
  CHECK_THROWS_WITH_AS(tcp_rendezvous(bad, "", 0.3), doctest::Contains(want.c_str()), Error);
}

TEST_CASE("sync_batch_norm: every rank's slice of one batch norm over all ranks' batches, values and gradients") {
  if (!built_with_mpi()) {
    MESSAGE("SKIPPED: this build has no MPI");
    return;
  }
  Communicator& c = mpi();
  const int W = c.world_size(), r = c.rank();
  // f64 so the comparison is tight; rank r's batch x_r (3, 4, 5) and loss weights k_r from seeds of its rank.
  Rng rx(100 + uint64_t(r)), rk(200 + uint64_t(r)), rp(7);
  Tensor x = Tensor::normal({3, 4, 5}, rx, 0.5, 2.0, DType::f64).set_requires_grad();
  const Tensor k = Tensor::normal({3, 4, 5}, rk, 0, 1, DType::f64);
  Tensor w = Tensor::normal({4}, rp, 1, 0.2, DType::f64).set_requires_grad();
  Tensor b = Tensor::normal({4}, rp, 0, 0.2, DType::f64).set_requires_grad();
  Tensor rm = Tensor::zeros({4}, DType::f64), rv = Tensor::ones({4}, DType::f64);
  const Tensor y = sync_batch_norm(x, w, b, rm, rv, 0.1, 1e-5, c);
  sum(y * k).backward();
  const std::vector<Tensor> wb = c.all_reduce(std::vector<Tensor>{w.grad(), b.grad()}, ReduceOp::sum);

  // The reference: plain batch_norm of the whole (W·3, 4, 5) batch in this process.
  Tensor fx = reshape(c.all_gather(x.detach()), {W * 3, 4, 5}).set_requires_grad();
  const Tensor fk = reshape(c.all_gather(k), {W * 3, 4, 5});
  Tensor w2 = w.detach().clone().set_requires_grad(), b2 = b.detach().clone().set_requires_grad();
  Tensor rm2 = Tensor::zeros({4}, DType::f64), rv2 = Tensor::ones({4}, DType::f64);
  const Tensor fy = batch_norm(fx, w2, b2, rm2, rv2, true, 0.1, 1e-5);
  sum(fy * fk).backward();

  auto close = [](const std::vector<double>& a, const std::vector<double>& e) {
    REQUIRE(a.size() == e.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - e[i]));
    return worst;
  };
  const std::vector<double> fyv = fy.to_double(), fgv = fx.grad().to_double();
  const size_t per = 3 * 4 * 5, off = size_t(r) * per;
  CHECK(close(y.to_double(), std::vector<double>(fyv.begin() + long(off), fyv.begin() + long(off + per))) < 1e-12);
  CHECK(close(x.grad().to_double(), std::vector<double>(fgv.begin() + long(off), fgv.begin() + long(off + per))) < 1e-12);
  CHECK(close(wb[0].to_double(), w2.grad().to_double()) < 1e-10);
  CHECK(close(wb[1].to_double(), b2.grad().to_double()) < 1e-10);
  CHECK(close(rm.to_double(), rm2.to_double()) < 1e-12);
  CHECK(close(rv.to_double(), rv2.to_double()) < 1e-12);
  if (W > 1) {   // and it is not the rank's own batch norm
    Tensor rm3 = Tensor::zeros({4}, DType::f64), rv3 = Tensor::ones({4}, DType::f64);
    CHECK(close(batch_norm(x.detach(), w.detach(), b.detach(), rm3, rv3, true, 0.1, 1e-5).to_double(),
                y.to_double()) > 1e-3);
  }
}

// SEBasicBlock's bn1 runs after a ReLU (BatchNorm2d::relu_forward, the fused relu_batch_norm); with --sync_bn the
// layer takes sync_batch_norm(relu(x)), which must equal the fused op over the whole step's batch.
TEST_CASE("--sync_bn, ReLU before the BN: BatchNorm2d::relu_forward on every rank is relu_batch_norm of all batches") {
  if (!built_with_mpi()) {
    MESSAGE("SKIPPED: this build has no MPI");
    return;
  }
  Communicator& c = mpi();
  const int W = c.world_size(), r = c.rank();
  Rng rx(300 + uint64_t(r)), rk(400 + uint64_t(r));
  Tensor x = Tensor::normal({3, 4, 2, 5}, rx, 0.2, 1.0, DType::f64).set_requires_grad();
  const Tensor k = Tensor::normal({3, 4, 2, 5}, rk, 0, 1, DType::f64);
  BatchNormOptions opt;
  opt.dtype = DType::f64;
  BatchNorm2d bn(4, opt);
  bn.sync = &c;
  bn.train();
  const Tensor y = bn.relu_forward(x);
  sum(y * k).backward();
  const std::vector<Tensor> wb = c.all_reduce(std::vector<Tensor>{bn.weight.grad(), bn.bias.grad()}, ReduceOp::sum);

  Tensor fx = reshape(c.all_gather(x.detach()), {W * 3, 4, 2, 5}).set_requires_grad();
  const Tensor fk = reshape(c.all_gather(k), {W * 3, 4, 2, 5});
  Tensor w2 = Tensor::ones({4}, DType::f64).set_requires_grad(), b2 = Tensor::zeros({4}, DType::f64).set_requires_grad();
  Tensor rm2 = Tensor::zeros({4}, DType::f64), rv2 = Tensor::ones({4}, DType::f64);
  const Tensor fy = relu_batch_norm(fx, w2, b2, rm2, rv2, true, 0.1, 1e-5);
  sum(fy * fk).backward();

  auto worst = [](const std::vector<double>& a, const std::vector<double>& e) {
    REQUIRE(a.size() == e.size());
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - e[i]));
    return m;
  };
  const std::vector<double> fyv = fy.to_double(), fgv = fx.grad().to_double();
  const size_t per = 3 * 4 * 2 * 5, off = size_t(r) * per;
  CHECK(worst(y.to_double(), std::vector<double>(fyv.begin() + long(off), fyv.begin() + long(off + per))) < 1e-12);
  CHECK(worst(x.grad().to_double(), std::vector<double>(fgv.begin() + long(off), fgv.begin() + long(off + per))) <
        1e-12);
  CHECK(worst(wb[0].to_double(), w2.grad().to_double()) < 1e-10);
  CHECK(worst(wb[1].to_double(), b2.grad().to_double()) < 1e-10);
  CHECK(worst(bn.running_mean.to_double(), rm2.to_double()) < 1e-12);
  CHECK(worst(bn.running_var.to_double(), rv2.to_double()) < 1e-12);
}
