// A minimal PNG encoder: 8-bit RGB, no filtering, zlib stream of stored (uncompressed) deflate blocks. Enough for
// small generated images (the DET curve of spk_train's TensorBoard log, a few hundred kB at most) without a PNG
// or zlib dependency; the CRC-32 and Adler-32 it needs are a few lines each.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace spk::recipe {

// CRC-32 of PNG chunks and zlib (reflected polynomial 0xedb88320).
uint32_t crc32_png(const void* data, size_t n, uint32_t crc = 0);

// rgb: height rows of width pixels, 3 bytes each, top row first. width, height in [1, 16384].
std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace spk::recipe
