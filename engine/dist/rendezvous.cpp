// See rendezvous.h. Frames: a client sends "SPKR" + rank (u32) + world size (u32); rank 0 answers "SPKR" + length
// (u64) + the bytes. Everything little-endian; every read and write waits with poll() against one deadline.
#include "engine/dist/rendezvous.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

namespace spk::dist {

namespace {

using clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string where(const LaunchEnv& e) {
  return "rendezvous at MASTER_ADDR=" + e.master_addr + " MASTER_PORT=" + std::to_string(e.master_port) + " (rank " +
         std::to_string(e.rank) + " of " + std::to_string(e.world_size) + ")";
}

int ms_left(clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return ms <= 0 ? 0 : int(std::min<long long>(ms, 1 << 30));
}

// Waits until fd is ready for `events`; false at the deadline.
bool wait_fd(int fd, short events, clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms_left(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

void io_all(int fd, void* buf, size_t n, bool write, clock::time_point deadline, const std::string& ctx) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    if (!wait_fd(fd, write ? POLLOUT : POLLIN, deadline)) SPK_FAIL(ctx, ": timed out");
    const ssize_t k = write ? ::send(fd, p, n, MSG_NOSIGNAL) : ::recv(fd, p, n, 0);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) SPK_FAIL(ctx, ": ", k == 0 ? "the connection closed early" : std::strerror(errno));
    p += k;
    n -= size_t(k);
  }
}

std::string serve(const LaunchEnv& e, const std::string& bytes, clock::time_point deadline) {
  Fd s(::socket(AF_INET6, SOCK_STREAM, 0));
  bool v6 = s.fd >= 0;
  if (!v6) s = Fd(::socket(AF_INET, SOCK_STREAM, 0));
  if (s.fd < 0) SPK_FAIL(where(e), ": socket: ", std::strerror(errno));
  const int one = 1, zero = 0;
  ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    ::setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);   // IPv4 clients too
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(uint16_t(e.master_port));
    rc = ::bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(uint16_t(e.master_port));
    rc = ::bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) SPK_FAIL(where(e), ": rank 0 cannot listen on port ", e.master_port, ": ", std::strerror(errno));
  if (::listen(s.fd, 128) != 0) SPK_FAIL(where(e), ": listen: ", std::strerror(errno));
  std::set<uint32_t> seen;
  while (int(seen.size()) < e.world_size - 1) {
    if (!wait_fd(s.fd, POLLIN, deadline))
      SPK_FAIL(where(e), ": timed out with ", seen.size(), " of the ", e.world_size - 1, " other ranks connected");
    Fd c(::accept(s.fd, nullptr, nullptr));
    if (c.fd < 0) continue;
    char hello[12];
    io_all(c.fd, hello, sizeof hello, false, deadline, where(e) + ": reading a rank's hello");
    uint32_t rank, world;
    std::memcpy(&rank, hello + 4, 4);
    std::memcpy(&world, hello + 8, 4);
    if (std::memcmp(hello, "SPKR", 4) != 0) SPK_FAIL(where(e), ": a connection that is not an spk rank");
    if (int(world) != e.world_size)
      SPK_FAIL(where(e), ": rank ", rank, " says WORLD_SIZE=", world, " but rank 0 has ", e.world_size);
    if (rank == 0 || int(rank) >= e.world_size || !seen.insert(rank).second)
      SPK_FAIL(where(e), ": rank ", rank, " connected twice or is out of range (check RANK on every process)");
    char head[12];
    const uint64_t n = bytes.size();
    std::memcpy(head, "SPKR", 4);
    std::memcpy(head + 4, &n, 8);
    io_all(c.fd, head, sizeof head, true, deadline, where(e) + ": answering rank " + std::to_string(rank));
    io_all(c.fd, const_cast<char*>(bytes.data()), bytes.size(), true, deadline,
           where(e) + ": answering rank " + std::to_string(rank));
  }
  return bytes;
}

std::string fetch(const LaunchEnv& e, clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(e.master_port);
  std::string last = "no answer";
  while (clock::now() < deadline) {   // rank 0 may not be listening yet: retry until the deadline
    const int g = ::getaddrinfo(e.master_addr.c_str(), port.c_str(), &hints, &res);
    if (g != 0) SPK_FAIL(where(e), ": cannot resolve MASTER_ADDR: ", ::gai_strerror(g));
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      Fd c(::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol));
      if (c.fd < 0) continue;
      if (::connect(c.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        last = std::strerror(errno);
        continue;
      }
      ::freeaddrinfo(res);
      char hello[12];
      const uint32_t rank = uint32_t(e.rank), world = uint32_t(e.world_size);
      std::memcpy(hello, "SPKR", 4);
      std::memcpy(hello + 4, &rank, 4);
      std::memcpy(hello + 8, &world, 4);
      io_all(c.fd, hello, sizeof hello, true, deadline, where(e));
      char head[12];
      io_all(c.fd, head, sizeof head, false, deadline, where(e) + ": reading rank 0's answer");
      uint64_t n;
      std::memcpy(&n, head + 4, 8);
      if (std::memcmp(head, "SPKR", 4) != 0 || n > (1u << 20)) SPK_FAIL(where(e), ": rank 0's answer is malformed");
      std::string out(size_t(n), '\0');
      io_all(c.fd, out.data(), out.size(), false, deadline, where(e) + ": reading rank 0's answer");
      return out;
    }
    ::freeaddrinfo(res);
    res = nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  SPK_FAIL(where(e), ": timed out connecting to rank 0 (last error: ", last, ")");
}

}  // namespace

std::string tcp_rendezvous(const LaunchEnv& env, const std::string& root_bytes, double timeout_s) {
  if (env.world_size <= 1) return root_bytes;
  if (env.master_addr.empty() || env.master_port == 0)
    SPK_FAIL("a torchrun-style launch of ", env.world_size, " ranks needs MASTER_ADDR and MASTER_PORT (rank 0's "
             "host and a free port on it; docs/distributed.md)");
  const auto deadline = clock::now() + std::chrono::milliseconds(
                                           int64_t((timeout_s > 0 ? timeout_s : 1e6) * 1000));
  return env.rank == 0 ? serve(env, root_bytes, deadline) : fetch(env, deadline);
}

}  // namespace spk::dist
