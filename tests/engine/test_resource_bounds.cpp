// Resource bounds of the safetensors reader: what a header can make it allocate. Each file here claims far
// more than it holds; the reader must say so, naming the file, before allocating the claim.
#include <filesystem>
#include <string>

#include "engine/safetensors.h"
#include "support/check.h"
#include "support/tmp_files.h"

using namespace spk;
using spk::test::TmpDir;
using spk::test::write_bytes;

namespace {

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((v >> (8 * i)) & 0xff);
  return s;
}

void expect_error(const std::string& path, const std::string& contains) {
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains(("safetensors " + path + ": " + contains).c_str()),
                       spk::Error);
}

}  // namespace

TEST_CASE("safetensors bounds: a header length claiming 1 TB in a 10-byte file") {
  TmpDir tmp("spk_test_bounds");
  const std::string p = tmp / "tb_header.safetensors";
  write_bytes(p, le64(uint64_t(1) << 40) + "{}");
  expect_error(p, "header length 1099511627776 is beyond the file size (10 bytes)");
}

TEST_CASE("safetensors bounds: a tensor claiming 1 TB of data in a small file") {
  TmpDir tmp("spk_test_bounds");
  const std::string p = tmp / "tb_tensor.safetensors";
  // 2^38 F32 elements = 2^40 bytes; the offsets agree with the shape, the file holds 8 bytes of data.
  const std::string header = R"({"w":{"dtype":"F32","shape":[274877906944],"data_offsets":[0,1099511627776]}})";
  write_bytes(p, le64(header.size()) + header + std::string(8, '\0'));
  expect_error(p, "tensor 'w' data_offsets [0, 1099511627776] are out of range: the data section has 8 bytes");
  // The same claim spread over dimensions whose product overflows 64 bits must not wrap to a small size.
  const std::string wrap = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,8]}})";
  write_bytes(p, le64(wrap.size()) + wrap + std::string(8, '\0'));
  expect_error(p, "tensor 'w': shape (4294967296, 4294967296, 2) F32 needs 18446744073709551615 bytes");
}

TEST_CASE("safetensors bounds: a 150 MB header inside a 200 MB file is over the 100 MB limit") {
  // A sparse file: the length is real (the header fits in the file) but nothing is written, so the test costs
  // no disk. The reader must refuse the length before reading 150 MB of it.
  TmpDir tmp("spk_test_bounds");
  const std::string p = tmp / "big_header.safetensors";
  write_bytes(p, le64(150'000'000) + "{");
  std::filesystem::resize_file(p, 200'000'000);
  expect_error(p, "header length 150000000 is over the 100000000-byte limit");
}

TEST_CASE("safetensors bounds: an empty tensor whose other dimensions overflow int64 is refused") {
  // [2^32, 2^32, 0] holds no bytes, so the byte check passes, but Tensor's numel and strides would overflow.
  TmpDir tmp("spk_test_bounds");
  const std::string p = tmp / "empty_overflow.safetensors";
  const std::string header = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})";
  write_bytes(p, le64(header.size()) + header);
  expect_error(p, "tensor 'w': shape (4294967296, 4294967296, 0) has more than 2^63 elements");
}
