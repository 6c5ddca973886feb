// AtomicFile: temporary file, fsync, rename, fsync of the directory (see the header).
#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kernels/common/check.h"

namespace spk::io {

namespace {
std::string errno_str() { return std::strerror(errno); }
}  // namespace

AtomicFile::AtomicFile(std::string path, std::string where)
    : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(::getpid())), where_(std::move(where)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) SPK_FAIL(where_, ": cannot create ", tmp_, ": ", errno_str());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  offset_ += n;
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) SPK_FAIL(where_, ": write to ", tmp_, " failed: ", errno_str());
    p += w;
    n -= size_t(w);
  }
}

void AtomicFile::commit() {
  SPK_CHECK(!committed_ && fd_ >= 0, where_, ": commit() called twice");
  if (::fsync(fd_) != 0) SPK_FAIL(where_, ": fsync of ", tmp_, " failed: ", errno_str());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) SPK_FAIL(where_, ": close of ", tmp_, " failed: ", errno_str());
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) SPK_FAIL(where_, ": rename from ", tmp_, " failed: ", errno_str());
  committed_ = true;
  // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL): nothing to do there.
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) SPK_FAIL(where_, ": cannot open directory '", dir, "' to sync it: ", errno_str());
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL) SPK_FAIL(where_, ": fsync of directory '", dir, "' failed: ", std::strerror(err));
}

}  // namespace spk::io
