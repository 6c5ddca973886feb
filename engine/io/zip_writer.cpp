// Zip writer for torch.save files: stored entries aligned to 64 bytes, zip64 where sizes need it (see header).
// Field layouts: PKWARE APPNOTE.TXT sections 4.3.7 (local header), 4.3.12 (central directory header),
// 4.3.14-16 (zip64 end record, locator, end of central directory) and 4.5.3 (zip64 extended information).
#include "engine/io/zip_writer.h"

#include <array>
#include <bit>

#include "kernels/common/check.h"

static_assert(std::endian::native == std::endian::little, "the zip writer assumes a little-endian host");

namespace spk::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kZip64EndSig = 0x06064b50,
                   kZip64LocatorSig = 0x07064b50, kEndSig = 0x06054b50;
constexpr uint32_t kMax32 = 0xffffffffu;
constexpr uint16_t kMax16 = 0xffff;
constexpr uint16_t kFlagUtf8 = 0x0800;   // general purpose bit 11: names are UTF-8
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;   // 1980-01-01: fixed, so the same tensors give the same bytes
constexpr uint16_t kVersion = 20, kVersionZip64 = 45;

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

// Little-endian fields appended to a byte buffer.
struct Bytes {
  std::string b;
  void u16(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 2); }
  void u32(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
  void u64(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) { b += s; }
};

}  // namespace

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void ZipWriter::add(const std::string& name, const void* data, size_t n) {
  SPK_CHECK(!name.empty() && name.size() < kMax16, "zip entry name '", name, "' is empty or too long");
  const uint64_t offset = out_.offset(), size = n;
  const uint32_t crc = crc32(data, n);
  const bool zip64 = size >= kMax32;

  Bytes h;
  h.u32(kLocalSig);
  h.u16(zip64 ? kVersionZip64 : kVersion);
  h.u16(kFlagUtf8);
  h.u16(0);   // method: stored
  h.u16(0);   // time
  h.u16(kDosDate);
  h.u32(crc);
  h.u32(zip64 ? kMax32 : size);   // compressed size
  h.u32(zip64 ? kMax32 : size);   // uncompressed size
  h.u16(name.size());
  Bytes extra;
  if (zip64) {
    extra.u16(0x0001);
    extra.u16(16);
    extra.u64(size);   // uncompressed
    extra.u64(size);   // compressed
  }
  // PyTorch's padding field: "FB", its length, then 'Z's up to the next 64-byte boundary.
  const uint64_t unpadded = offset + h.b.size() + 2 + name.size() + extra.b.size() + 4;
  const uint64_t pad = (kZipDataAlignment - unpadded % kZipDataAlignment) % kZipDataAlignment;
  extra.str("FB");
  extra.u16(pad);
  extra.b.append(pad, 'Z');
  h.u16(extra.b.size());
  h.str(name);
  h.str(extra.b);
  out_.write(h.b.data(), h.b.size());
  SPK_CHECK(out_.offset() % kZipDataAlignment == 0, "zip entry '", name, "' data would start unaligned");
  out_.write(data, n);
  entries_.push_back({name, crc, size, offset});
}

void ZipWriter::finish() {
  const uint64_t cd_offset = out_.offset();
  for (const Entry& e : entries_) {
    const bool big_size = e.size >= kMax32, big_offset = e.header_offset >= kMax32;
    Bytes extra;
    if (big_size || big_offset) {
      extra.u16(0x0001);
      extra.u16((big_size ? 16 : 0) + (big_offset ? 8 : 0));
      if (big_size) extra.u64(e.size), extra.u64(e.size);
      if (big_offset) extra.u64(e.header_offset);
    }
    const uint16_t version = extra.b.empty() ? kVersion : kVersionZip64;
    Bytes h;
    h.u32(kCentralSig);
    h.u16(version);   // made by (MS-DOS attributes)
    h.u16(version);   // needed to extract
    h.u16(kFlagUtf8);
    h.u16(0);
    h.u16(0);
    h.u16(kDosDate);
    h.u32(e.crc);
    h.u32(big_size ? kMax32 : e.size);
    h.u32(big_size ? kMax32 : e.size);
    h.u16(e.name.size());
    h.u16(extra.b.size());
    h.u16(0);   // comment
    h.u16(0);   // disk
    h.u16(0);   // internal attributes
    h.u32(0);   // external attributes
    h.u32(big_offset ? kMax32 : e.header_offset);
    h.str(e.name);
    h.str(extra.b);
    out_.write(h.b.data(), h.b.size());
  }
  const uint64_t cd_size = out_.offset() - cd_offset, count = entries_.size();
  const uint64_t zip64_end_offset = out_.offset();

  Bytes t;
  t.u32(kZip64EndSig);
  t.u64(44);   // size of the rest of this record
  t.u16(kVersionZip64);
  t.u16(kVersionZip64);
  t.u32(0);
  t.u32(0);
  t.u64(count);
  t.u64(count);
  t.u64(cd_size);
  t.u64(cd_offset);
  t.u32(kZip64LocatorSig);
  t.u32(0);
  t.u64(zip64_end_offset);
  t.u32(1);   // total number of disks
  t.u32(kEndSig);
  t.u16(0);
  t.u16(0);
  t.u16(count >= kMax16 ? kMax16 : count);
  t.u16(count >= kMax16 ? kMax16 : count);
  t.u32(cd_size >= kMax32 ? kMax32 : cd_size);
  t.u32(cd_offset >= kMax32 ? kMax32 : cd_offset);
  t.u16(0);   // comment
  out_.write(t.b.data(), t.b.size());
}

}  // namespace spk::io
