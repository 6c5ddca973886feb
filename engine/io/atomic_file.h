// A file written atomically: the bytes go to "<path>.tmp.<pid>" in the same directory, and commit() fsyncs
// it, renames it over `path` and fsyncs the directory, so a crash leaves either the old file or the whole
// new one, never a torn mix. A writer destroyed without commit() (an exception on the way) removes the
// temporary file. Shared by every checkpoint writer (safetensors, torch.save format).
// Errors name the file and errno; a full disk (ENOSPC, EDQUOT) or a file size limit (EFBIG) adds that the
// previous file is unchanged. The steps are fault points (engine/fault.h: atomic.write, atomic.fsync,
// atomic.rename, atomic.dir_fsync, atomic.committed), so the tests can kill or fail the writer between any two.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace spk::io {

class AtomicFile {
 public:
  // `where` starts every error message, e.g. "safetensors out.safetensors".
  AtomicFile(std::string path, std::string where);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  uint64_t offset() const { return offset_; }   // bytes written so far
  void commit();                                // fsync, rename over path, fsync the directory

 private:
  std::string path_, tmp_, where_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

}  // namespace spk::io
