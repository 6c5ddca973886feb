// A read-only view of a zip archive held in memory, enough for torch.save files: STORED entries only.
//
// Layout (PKWARE APPNOTE.TXT, sections 4.3 and 4.5): local file headers with their data, the central
// directory, then the end of central directory record (EOCD), possibly followed by an archive comment. When a
// count, size or offset does not fit its 16/32-bit field, the field holds all ones and the real value lives in
// the zip64 EOCD record (found through the zip64 EOCD locator just before the EOCD) or in the entry's zip64
// extra field (id 0x0001). PyTorch's writer (miniz) always writes the zip64 records, sets the data descriptor
// flag (so the local header's CRC and sizes are zero) and pads local headers with an extra field so that
// data is 64-byte aligned: sizes and CRCs are therefore taken from the central directory.
//
// Every offset and size is checked against the archive before use; reading an entry verifies its CRC-32.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spk::io {

uint32_t crc32(std::string_view bytes);   // the zip (IEEE 802.3) CRC-32

class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;          // 0 = STORED; anything else is refused when read
    uint16_t flags = 0;
    uint32_t crc = 0;
    uint64_t compressed_size = 0, size = 0;
    uint64_t local_header_offset = 0;
  };

  // Parses the EOCD and the central directory of `archive` (which must outlive the reader). `where` starts
  // every error message, e.g. "torch checkpoint model.pt". Throws spk::Error on any inconsistency.
  ZipReader(std::string_view archive, std::string where);

  const std::vector<Entry>& entries() const { return entries_; }   // central directory order
  const Entry* find(std::string_view name) const;                  // nullptr when absent

  // The entry's bytes (a view into the archive), after checking its local header and its CRC-32.
  std::string_view read(const Entry& entry) const;

 private:
  std::string_view archive_;
  std::string where_;
  std::vector<Entry> entries_;
};

}  // namespace spk::io
