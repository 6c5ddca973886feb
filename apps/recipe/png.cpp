// PNG encoder (png.h): signature, IHDR, one IDAT holding a zlib stream of stored deflate blocks (RFC 1950/1951:
// no compression, so no Huffman coding), IEND.
#include "apps/recipe/png.h"

#include <algorithm>
#include <array>

#include "engine/check.h"

namespace spk::recipe {

namespace {

void be32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out += char(uint8_t(v >> s));
}

void chunk(std::string& out, const char* type, const std::string& data) {
  be32(out, uint32_t(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  be32(out, crc32_png(body.data(), body.size()));
}

uint32_t adler32(const std::string& data) {
  uint32_t a = 1, b = 0;
  for (unsigned char c : data) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return b << 16 | a;
}

// zlib header (deflate, 32K window, no dictionary, check bits: 0x7801 % 31 == 0), stored blocks of at most 65535
// bytes (BFINAL on the last, BTYPE 00, LEN and its complement little-endian), Adler-32 of the raw data.
std::string zlib_stored(const std::string& raw) {
  std::string z("\x78\x01", 2);
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    z += char(last ? 1 : 0);
    z += char(uint8_t(n)), z += char(uint8_t(n >> 8));
    z += char(uint8_t(~n)), z += char(uint8_t(~n >> 8));
    z.append(raw, pos, n);
    pos += n;
  } while (pos < raw.size());
  be32(z, adler32(raw));
  return z;
}

}  // namespace

uint32_t crc32_png(const void* data, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0xedb88320u : 0u);
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = crc ^ 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb) {
  SPK_CHECK(width >= 1 && height >= 1 && width <= 16384 && height <= 16384, "encode_png_rgb: image ", width, "x",
            height, " is outside 1..16384");
  SPK_CHECK(rgb.size() == size_t(width) * size_t(height) * 3, "encode_png_rgb: ", rgb.size(), " bytes for a ", width,
            "x", height, " RGB image");
  std::string raw;   // each row: filter type 0 (none), then its pixels
  raw.reserve(size_t(height) * (size_t(width) * 3 + 1));
  for (int y = 0; y < height; ++y) {
    raw += char(0);
    raw.append(reinterpret_cast<const char*>(rgb.data()) + size_t(y) * width * 3, size_t(width) * 3);
  }
  std::string ihdr;
  be32(ihdr, uint32_t(width));
  be32(ihdr, uint32_t(height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);   // 8 bits, colour type 2 (RGB), deflate, filter 0, no interlace
  std::string png("\x89PNG\r\n\x1a\n", 8);
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", zlib_stored(raw));
  chunk(png, "IEND", "");
  return png;
}

}  // namespace spk::recipe
