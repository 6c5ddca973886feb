// AtomicFile: temporary file, fsync, rename, fsync of the directory (see the header).
#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/fault.h"
#include "kernels/common/check.h"

namespace spk::io {

namespace {

std::string errno_str() { return std::strerror(errno); }

// A fault point of the commit sequence (engine/fault.h): true when an injected `fail` says the operation that
// follows fails with `err`, which is then in errno as a real failure would leave it.
bool injected(fault::Point p, int err) {
  if (!fault::hit(p)) return false;
  errno = err;
  return true;
}

// ENOSPC (a full disk) and EFBIG (a file size limit, `ulimit -f`) get a line saying what to do and that the
// previous file is untouched: the temporary file is removed and the target was never opened.
std::string write_error_hint(int err) {
  if (err == ENOSPC || err == EDQUOT)
    return " (the disk or quota is full: free space and retry; the previous file is unchanged)";
  if (err == EFBIG) return " (the file size limit was reached, see `ulimit -f`; the previous file is unchanged)";
  return "";
}

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
    ssize_t w = injected(fault::Point::atomic_write, ENOSPC) ? -1 : ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : ENOSPC;   // write(2) returning 0 for n > 0: nothing more fits
      SPK_FAIL(where_, ": write to ", tmp_, " failed: ", std::strerror(err), write_error_hint(err));
    }
    p += w;
    n -= size_t(w);
  }
}

void AtomicFile::commit() {
  SPK_CHECK(!committed_ && fd_ >= 0, where_, ": commit() called twice");
  // fsync and close can report a delayed write error (ENOSPC, EIO on network file systems): both are checked.
  if (injected(fault::Point::atomic_fsync, EIO) || ::fsync(fd_) != 0)
    SPK_FAIL(where_, ": fsync of ", tmp_, " failed: ", errno_str(), write_error_hint(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) SPK_FAIL(where_, ": close of ", tmp_, " failed: ", errno_str(), write_error_hint(errno));
  if (injected(fault::Point::atomic_rename, EIO) || ::rename(tmp_.c_str(), path_.c_str()) != 0)
    SPK_FAIL(where_, ": rename from ", tmp_, " failed: ", errno_str());
  committed_ = true;
  // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL): nothing to do there.
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) SPK_FAIL(where_, ": cannot open directory '", dir, "' to sync it: ", errno_str());
  const int rc = injected(fault::Point::atomic_dir_fsync, EIO) ? -1 : ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL) SPK_FAIL(where_, ": fsync of directory '", dir, "' failed: ", std::strerror(err));
  fault::hit(fault::Point::atomic_committed);
}

}  // namespace spk::io
