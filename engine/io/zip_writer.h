// The zip container of torch.save (PyTorch's PyTorchStreamWriter, caffe2/serialize/inline_container.cc):
// uncompressed (STORED) entries whose data start on a 64-byte boundary, so that a reader can map each storage
// in place. The padding is an extra field with the id "FB" filled with 'Z' in the local header, as PyTorch
// writes it. Unlike PyTorch's streaming writer, the CRC-32 and sizes go in the local header itself (we know
// them before writing), so there is no data descriptor; zip readers, PyTorch's included, accept both.
// Entries or offsets of 4 GiB and more get zip64 extra fields; the zip64 end records are always written,
// as PyTorch does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/atomic_file.h"

namespace spk::io {

// CRC-32 (ISO-HDLC, the zip/zlib one), continued from `crc` (0 to start).
uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);

constexpr uint64_t kZipDataAlignment = 64;   // PyTorch's kFieldAlignment

class ZipWriter {
 public:
  explicit ZipWriter(AtomicFile& out) : out_(out) {}
  // Writes one entry: local header (with the alignment padding), then the bytes.
  void add(const std::string& name, const void* data, size_t n);
  // Central directory, zip64 end record and locator, end-of-central-directory record.
  void finish();

 private:
  struct Entry {
    std::string name;
    uint32_t crc;
    uint64_t size, header_offset;
  };
  AtomicFile& out_;
  std::vector<Entry> entries_;
};

}  // namespace spk::io
