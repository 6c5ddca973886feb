// Zip archive reader for torch.save files: EOCD (+ comment), zip64 EOCD locator/record, central directory,
// zip64 extra fields, local headers, STORED data and CRC-32. See zip_reader.h for the layout notes.
#include "engine/io/zip_reader.h"

#include <array>
#include <set>

#include "engine/check.h"

namespace spk::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalSize = 30, kCentralSize = 46, kEocdSize = 22, kZip64EocdSize = 56, kZip64LocatorSize = 20;

// Little-endian field readers; callers have checked that [off, off + n) lies inside `s`.
uint64_t le(std::string_view s, uint64_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint8_t(s[size_t(off) + size_t(i)]);
  return v;
}
uint16_t le16(std::string_view s, uint64_t off) { return uint16_t(le(s, off, 2)); }
uint32_t le32(std::string_view s, uint64_t off) { return uint32_t(le(s, off, 4)); }
uint64_t le64(std::string_view s, uint64_t off) { return le(s, off, 8); }

// True when [off, off + n) lies inside a buffer of `size` bytes, without overflow.
bool fits(uint64_t off, uint64_t n, uint64_t size) { return off <= size && n <= size - off; }

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

}  // namespace

uint32_t crc32(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : bytes) c = table[(c ^ uint8_t(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

ZipReader::ZipReader(std::string_view archive, std::string where) : archive_(archive), where_(std::move(where)) {
  const uint64_t n = archive.size();
  if (n < kEocdSize) SPK_FAIL(where_, ": not a zip archive (", n, " bytes, shorter than an end of central directory record)");

  // The EOCD is the last record; a comment of up to 65535 bytes may follow it. Search backwards for a
  // signature whose comment length reaches exactly the end of the file.
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = n - kEocdSize > 65535 ? n - kEocdSize - 65535 : 0;
  for (uint64_t p = n - kEocdSize + 1; p-- > lowest;) {
    if (le32(archive, p) == kEocdSig && p + kEocdSize + le16(archive, p + 20) == n) { eocd = p; break; }
  }
  if (eocd == UINT64_MAX) SPK_FAIL(where_, ": no zip end of central directory record (truncated or not a zip file)");

  uint64_t disk = le16(archive, eocd + 4), cd_disk = le16(archive, eocd + 6);
  uint64_t count_disk = le16(archive, eocd + 8), count = le16(archive, eocd + 10);
  uint64_t cd_size = le32(archive, eocd + 12), cd_offset = le32(archive, eocd + 16);

  const bool zip64 = count == 0xFFFF || count_disk == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF;
  if (eocd >= kZip64LocatorSize && le32(archive, eocd - kZip64LocatorSize) == kZip64LocatorSig) {
    const uint64_t loc = eocd - kZip64LocatorSize;
    const uint64_t rec = le64(archive, loc + 8);
    if (!fits(rec, kZip64EocdSize, loc) || le32(archive, rec) != kZip64EocdSig)
      SPK_FAIL(where_, ": zip64 end of central directory record at offset ", rec, " is missing or out of bounds");
    disk = le32(archive, rec + 16);
    cd_disk = le32(archive, rec + 20);
    count_disk = le64(archive, rec + 24);
    count = le64(archive, rec + 32);
    cd_size = le64(archive, rec + 40);
    cd_offset = le64(archive, rec + 48);
  } else if (zip64) {
    SPK_FAIL(where_, ": the end of central directory record needs zip64 values but there is no zip64 locator");
  }
  if (disk != 0 || cd_disk != 0 || count_disk != count)
    SPK_FAIL(where_, ": multi-disk (split) zip archives are not supported");
  if (!fits(cd_offset, cd_size, eocd))
    SPK_FAIL(where_, ": central directory (offset ", cd_offset, ", ", cd_size, " bytes) lies outside the file (", n, " bytes)");
  // Each central header takes at least 46 bytes: this bounds `count` before anything is reserved.
  if (count > cd_size / kCentralSize)
    SPK_FAIL(where_, ": central directory claims ", count, " entries but has only ", cd_size, " bytes");

  std::set<std::string_view> names;
  entries_.reserve(size_t(count));
  const uint64_t cd_end = cd_offset + cd_size;
  uint64_t p = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (!fits(p, kCentralSize, cd_end) || le32(archive, p) != kCentralSig)
      SPK_FAIL(where_, ": central directory entry ", i, " at offset ", p, " is damaged or out of bounds");
    Entry e;
    e.flags = le16(archive, p + 8);
    e.method = le16(archive, p + 10);
    e.crc = le32(archive, p + 16);
    e.compressed_size = le32(archive, p + 20);
    e.size = le32(archive, p + 24);
    const uint64_t name_len = le16(archive, p + 28), extra_len = le16(archive, p + 30), comment_len = le16(archive, p + 32);
    uint64_t start_disk = le16(archive, p + 34);
    e.local_header_offset = le32(archive, p + 42);
    if (!fits(p + kCentralSize, name_len + extra_len + comment_len, cd_end))
      SPK_FAIL(where_, ": central directory entry ", i, " runs past the central directory");
    e.name = std::string(archive.substr(size_t(p + kCentralSize), size_t(name_len)));

    // zip64 extra field: 8-byte values, in this order, for exactly the fields that hold all ones.
    uint64_t x = p + kCentralSize + name_len;
    const uint64_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const uint16_t id = le16(archive, x), len = le16(archive, x + 2);
      if (x + 4 + len > x_end) SPK_FAIL(where_, ": entry '", e.name, "': extra field runs past its end");
      if (id == 0x0001) {
        uint64_t q = x + 4;
        auto take = [&](uint64_t& field, const char* what) {
          if (q + 8 > x + 4 + len) SPK_FAIL(where_, ": entry '", e.name, "': zip64 extra field lacks the ", what);
          field = le64(archive, q);
          q += 8;
        };
        if (e.size == 0xFFFFFFFF) take(e.size, "uncompressed size");
        if (e.compressed_size == 0xFFFFFFFF) take(e.compressed_size, "compressed size");
        if (e.local_header_offset == 0xFFFFFFFF) take(e.local_header_offset, "local header offset");
        if (start_disk == 0xFFFF) {
          if (q + 4 > x + 4 + len) SPK_FAIL(where_, ": entry '", e.name, "': zip64 extra field lacks the disk number");
          start_disk = le32(archive, q);
        }
      }
      x += 4 + len;
    }
    if (start_disk != 0) SPK_FAIL(where_, ": entry '", e.name, "' is on disk ", start_disk, " (split archives are not supported)");
    if (!fits(e.local_header_offset, kLocalSize, cd_offset))
      SPK_FAIL(where_, ": entry '", e.name, "': local header offset ", e.local_header_offset, " is outside the file's data area");
    if (!names.insert(std::string_view(archive.data() + p + kCentralSize, size_t(name_len))).second)
      SPK_FAIL(where_, ": entry '", e.name, "' appears twice in the central directory");
    entries_.push_back(std::move(e));
    p += kCentralSize + name_len + extra_len + comment_len;
  }
}

const ZipReader::Entry* ZipReader::find(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::string_view ZipReader::read(const Entry& e) const {
  const std::string what = where_ + ": entry '" + e.name + "'";
  if (e.flags & 0x1) SPK_FAIL(what, " is encrypted (not supported)");
  if (e.method != 0)
    SPK_FAIL(what, " uses compression method ", e.method, (e.method == 8 ? " (deflate)" : ""),
             "; only STORED (0) entries are supported, as torch.save writes them");
  if (e.compressed_size != e.size)
    SPK_FAIL(what, " is STORED but its compressed size ", e.compressed_size, " differs from its size ", e.size);
  const uint64_t h = e.local_header_offset, n = archive_.size();
  if (!fits(h, kLocalSize, n) || le32(archive_, h) != kLocalSig)
    SPK_FAIL(what, ": no local file header at offset ", h);
  const uint64_t name_len = le16(archive_, h + 26), extra_len = le16(archive_, h + 28);
  if (!fits(h + kLocalSize, name_len + extra_len, n)) SPK_FAIL(what, ": local file header runs past the end of the file");
  if (archive_.substr(size_t(h + kLocalSize), size_t(name_len)) != e.name)
    SPK_FAIL(what, ": local file header names '", archive_.substr(size_t(h + kLocalSize), size_t(name_len)), "' instead");
  if (le16(archive_, h + 8) != e.method) SPK_FAIL(what, ": local and central headers disagree on the compression method");
  const uint64_t data = h + kLocalSize + name_len + extra_len;
  if (!fits(data, e.size, n))
    SPK_FAIL(what, ": data (", e.size, " bytes at offset ", data, ") runs past the end of the file (", n, " bytes)");
  std::string_view bytes = archive_.substr(size_t(data), size_t(e.size));
  const uint32_t crc = crc32(bytes);
  if (crc != e.crc) SPK_FAIL(what, ": CRC-32 mismatch (stored ", e.crc, ", computed ", crc, "): the file is damaged");
  return bytes;
}

}  // namespace spk::io
