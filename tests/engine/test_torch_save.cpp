// The torch.save writer without a reader: the pickle is torch 1.13's own, byte for byte, and the zip holds
// what torch.load relies on (entry names and order, STORED entries, data on 64-byte boundaries, CRC-32s
// and sizes that match in the local and central headers, the end records). The zip is parsed here by a
// separate minimal walker, so a mistake in the writer's offsets cannot hide behind the same mistake in a
// shared reader.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/io/torch_checkpoint.h"
#include "engine/io/zip_writer.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "support/check.h"
#include "support/tmp_files.h"

using namespace spk;
namespace fs = std::filesystem;

namespace {

using spk::test::TmpDir;
using spk::test::read_bytes;


uint64_t le(const std::string& b, size_t at, int n) {
  REQUIRE(at + size_t(n) <= b.size());
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint8_t(b[at + size_t(i)]);
  return v;
}

std::string from_hex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

// Bitwise CRC-32, independent of the writer's table.
uint32_t slow_crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char ch : s) {
    c ^= ch;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

struct ZipEntry {
  std::string name, data;
  uint64_t data_offset;
};

// Walks the end records and the central directory, checks every local header against its central entry
// and every CRC, and returns the entries in central-directory order.
std::vector<ZipEntry> walk_zip(const std::string& b) {
  REQUIRE(b.size() >= 22 + 20 + 56);
  const size_t eocd = b.size() - 22;   // no archive comment
  REQUIRE(le(b, eocd, 4) == 0x06054b50);
  const uint64_t count = le(b, eocd + 10, 2), cd_size = le(b, eocd + 12, 4), cd_offset = le(b, eocd + 16, 4);
  CHECK(le(b, eocd + 8, 2) == count);
  // zip64 locator right before, pointing at the zip64 end record that repeats the same figures.
  const size_t loc = eocd - 20;
  REQUIRE(le(b, loc, 4) == 0x07064b50);
  const uint64_t z64 = le(b, loc + 8, 8);
  CHECK(z64 == cd_offset + cd_size);
  CHECK(z64 + 56 == loc);
  REQUIRE(le(b, z64, 4) == 0x06064b50);
  CHECK(le(b, z64 + 4, 8) == 44);
  CHECK(le(b, z64 + 32, 8) == count);
  CHECK(le(b, z64 + 40, 8) == cd_size);
  CHECK(le(b, z64 + 48, 8) == cd_offset);

  std::vector<ZipEntry> out;
  size_t at = cd_offset;
  uint64_t expected_local = 0;   // entries follow each other from the start of the file
  for (uint64_t i = 0; i < count; ++i) {
    REQUIRE(le(b, at, 4) == 0x02014b50);
    CHECK(le(b, at + 10, 2) == 0);   // stored
    const uint32_t crc = uint32_t(le(b, at + 16, 4));
    const uint64_t csize = le(b, at + 20, 4), usize = le(b, at + 24, 4);
    const uint64_t nlen = le(b, at + 28, 2), xlen = le(b, at + 30, 2), clen = le(b, at + 32, 2);
    const uint64_t lho = le(b, at + 42, 4);
    const std::string name = b.substr(at + 46, nlen);
    CAPTURE(name);
    CHECK(csize == usize);
    CHECK(lho == expected_local);
    at += 46 + nlen + xlen + clen;

    REQUIRE(le(b, lho, 4) == 0x04034b50);
    CHECK(le(b, lho + 6, 2) == le(b, at - 46 - nlen - xlen - clen + 8, 2));   // same flags
    CHECK((le(b, lho + 6, 2) & 0x0008) == 0);                                 // no data descriptor
    CHECK(le(b, lho + 8, 2) == 0);
    CHECK(le(b, lho + 14, 4) == crc);
    CHECK(le(b, lho + 18, 4) == csize);
    CHECK(le(b, lho + 22, 4) == usize);
    const uint64_t lnlen = le(b, lho + 26, 2), lxlen = le(b, lho + 28, 2);
    CHECK(b.substr(lho + 30, lnlen) == name);
    // The extra field is PyTorch's padding record: "FB", its length, 'Z's.
    const std::string extra = b.substr(lho + 30 + lnlen, lxlen);
    REQUIRE(extra.size() >= 4);
    CHECK(extra.substr(0, 2) == "FB");
    CHECK(le(extra, 2, 2) == extra.size() - 4);
    CHECK(extra.substr(4) == std::string(extra.size() - 4, 'Z'));
    const uint64_t data_offset = lho + 30 + lnlen + lxlen;
    CHECK(data_offset % 64 == 0);
    REQUIRE(data_offset + usize <= cd_offset);
    ZipEntry e{name, b.substr(data_offset, usize), data_offset};
    CHECK(slow_crc32(e.data) == crc);
    expected_local = data_offset + usize;
    out.push_back(std::move(e));
  }
  CHECK(expected_local == cd_offset);
  CHECK(at == cd_offset + cd_size);
  return out;
}

const ZipEntry& entry(const std::vector<ZipEntry>& es, const std::string& name) {
  for (const auto& e : es)
    if (e.name == name) return e;
  FAIL("no zip entry " << name);
  return es.front();
}

std::string tensor_bytes(const Tensor& t) {
  Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * dtype_size(c.dtype()));
}

// torch 1.13 `torch.save(sd, f)` of this OrderedDict; data.pkl's bytes (pickletools.dis shows the opcodes):
//   conv.weight zeros(2,1,3,1) f32, bn.num_batches_tracked tensor(7) i64, h zeros(300) f16,
//   bf zeros(0,2) bf16, d zeros(70000) f64, i zeros(1) i32
const char* kTorch113Pickle =
    "800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710128580b000000636f6e762e776569676874710263746f"
    "7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a71032828580700000073746f72616765710463746f7263680a"
    "466c6f617453746f726167650a71055801000000307106580300000063707571074b06747108514b00284b024b014b034b01747109284b"
    "034b034b014b0174710a8968002952710b74710c52710d5816000000626e2e6e756d5f626174636865735f747261636b6564710e680328"
    "28680463746f7263680a4c6f6e6753746f726167650a710f580100000031711068074b01747111514b0029298968002952711274711352"
    "7114580100000068711568032828680463746f7263680a48616c6653746f726167650a7116580100000032711768074d2c01747118514b"
    "004d2c018571194b0185711a8968002952711b74711c52711d58020000006266711e68032828680463746f7263680a42466c6f61743136"
    "53746f726167650a711f580100000033712068074b00747121514b004b004b028671224b024b0186712389680029527124747125527126"
    "580100000064712768032828680463746f7263680a446f75626c6553746f726167650a7128580100000034712968074a7011010074712a"
    "514b004a7011010085712b4b0185712c8968002952712d74712e52712f580100000069713068032828680463746f7263680a496e745374"
    "6f726167650a7131580100000035713268074b01747133514b004b018571344b0185713589680029527136747137527138752e";

}  // namespace

TEST_CASE("torch.save writer: CRC-32 of the standard check string") {
  CHECK(io::crc32("123456789", 9) == 0xcbf43926u);
  CHECK(io::crc32("", 0) == 0u);
  CHECK(io::crc32("6789", 4, io::crc32("12345", 5)) == 0xcbf43926u);   // continued
}

TEST_CASE("torch.save writer: the pickle is torch 1.13's byte for byte") {
  TmpDir tmp("spk_test_torch_save");
  NamedTensors sd{{"conv.weight", Tensor::zeros({2, 1, 3, 1})},
                  {"bn.num_batches_tracked", Tensor::scalar(7, DType::i64)},
                  {"h", Tensor::zeros({300}, DType::f16)},
                  {"bf", Tensor::zeros({0, 2}, DType::bf16)},
                  {"d", Tensor::zeros({70000}, DType::f64)},
                  {"i", Tensor::zeros({1}, DType::i32)}};
  io::save_torch_checkpoint(tmp / "g.model", sd);
  const auto es = walk_zip(read_bytes(tmp / "g.model"));
  CHECK(entry(es, "archive/data.pkl").data == from_hex(kTorch113Pickle));
  CHECK(entry(es, "archive/data/4").data == std::string(70000 * 8, '\0'));
  CHECK(entry(es, "archive/data/1").data == std::string("\x07\0\0\0\0\0\0\0", 8));
  CHECK(entry(es, "archive/data/3").data.empty());
}

TEST_CASE("torch.save writer: entry names and order, data bytes of strided and every-dtype tensors") {
  TmpDir tmp("spk_test_torch_save");
  Rng rng(9);
  NamedTensors sd;
  sd.emplace_back("layer.0.weight", transpose(Tensor::uniform({3, 5}, rng, -1, 1), 0, 1));   // not contiguous
  sd.emplace_back("f64", Tensor::uniform({4}, rng, -1, 1, DType::f64));
  sd.emplace_back("f16", Tensor::uniform({2, 3}, rng, -2, 2).to(DType::f16));
  sd.emplace_back("bf16", Tensor::uniform({7}, rng, -2, 2).to(DType::bf16));
  sd.emplace_back("i32", Tensor::from_vector(std::vector<double>{-3, 0, 2147483647}, {3}, DType::i32));
  sd.emplace_back("i64", Tensor::from_vector(std::vector<int64_t>{-1, int64_t(1) << 40}, {2}));
  for (int k = 0; k < 6; ++k) sd.emplace_back("extra." + std::to_string(k), Tensor::uniform({k + 1}, rng, 0, 1));
  io::save_torch_checkpoint(tmp / "m.pt", sd);
  const std::string bytes = read_bytes(tmp / "m.pt");
  CHECK(bytes.substr(0, 4) == "PK\x03\x04");
  const auto es = walk_zip(bytes);

  // torch's order: data.pkl, byteorder, the storages by key sorted as text, version.
  std::vector<std::string> names;
  for (const auto& e : es) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"archive/data.pkl", "archive/byteorder", "archive/data/0",
                                          "archive/data/1", "archive/data/10", "archive/data/11", "archive/data/2",
                                          "archive/data/3", "archive/data/4", "archive/data/5", "archive/data/6",
                                          "archive/data/7", "archive/data/8", "archive/data/9", "archive/version"});
  CHECK(entry(es, "archive/version").data == "3\n");
  CHECK(entry(es, "archive/byteorder").data == "little");
  for (size_t i = 0; i < sd.size(); ++i) {
    CAPTURE(sd[i].first);
    CHECK(entry(es, "archive/data/" + std::to_string(i)).data == tensor_bytes(sd[i].second));
  }
  // The strided tensor is written in its logical (row-major) order: element (r, c) of the (5, 3) transpose.
  const std::string w = entry(es, "archive/data/0").data;
  const Tensor src = sd[0].second;
  float v;
  std::memcpy(&v, w.data() + 4 * (1 * 3 + 2), 4);
  CHECK(v == src.contiguous().data<float>()[1 * 3 + 2]);
  const std::string pkl = entry(es, "archive/data.pkl").data;
  CHECK(pkl.find("X\x0e\0\0\0layer.0.weight", 0) != std::string::npos);
  CHECK(pkl.find("torch\nBFloat16Storage\n") != std::string::npos);
}

TEST_CASE("torch.save writer: an empty state_dict is an empty OrderedDict") {
  TmpDir tmp("spk_test_torch_save");
  io::save_torch_checkpoint(tmp / "empty.model", {});
  const auto es = walk_zip(read_bytes(tmp / "empty.model"));
  REQUIRE(es.size() == 3);
  CHECK(es[0].data == std::string("\x80\x02" "ccollections\nOrderedDict\nq\x00)Rq\x01.", 34));
  CHECK(es[1].name == "archive/byteorder");
  CHECK(es[2].name == "archive/version");
}

TEST_CASE("torch.save writer: bad input and unwritable paths name the file and leave nothing behind") {
  TmpDir tmp("spk_test_torch_save");
  auto expect_error = [&](const std::string& path, const NamedTensors& sd, const std::string& contains) {
    try {
      io::save_torch_checkpoint(path, sd);
      FAIL("no error, expected: " << contains);
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK_MESSAGE(m.find("torch checkpoint " + path) != std::string::npos, m);
      CHECK_MESSAGE(m.find(contains) != std::string::npos, m);
    }
  };
  const Tensor t = Tensor::zeros({2});
  expect_error(tmp / "dup.model", {{"a", t}, {"a", t}}, "'a' appears twice");
  expect_error(tmp / "noname.model", {{"", t}}, "empty name");
  expect_error(tmp / "undef.model", {{"a", Tensor()}}, "'a' is undefined");
  expect_error(tmp / "no_such_dir/x.model", {{"a", t}}, "cannot create");
  CHECK(fs::is_empty(tmp.dir));   // no partial or temporary file

  // Overwriting is atomic: the old file stays whole until the new one is complete.
  io::save_torch_checkpoint(tmp / "x.model", {{"a", t}});
  expect_error(tmp / "x.model", {{"a", t}, {"a", t}}, "appears twice");
  CHECK(walk_zip(read_bytes(tmp / "x.model")).size() == 4);
  CHECK(std::distance(fs::directory_iterator(tmp.dir), fs::directory_iterator()) == 1);
}

TEST_CASE("torch.save writer -> reader round trip: every dtype, strided input, dotted names, empty state") {
  TmpDir tmp("spk_test_torch_save");
  Rng rng(21);
  NamedTensors sd;
  sd.emplace_back("layer1.0.conv1.weight", transpose(Tensor::uniform({3, 2, 4}, rng, -1, 1), 0, 2));   // strided
  sd.emplace_back("f64", Tensor::uniform({5}, rng, -1, 1, DType::f64));
  sd.emplace_back("bn.f16", Tensor::uniform({2, 3}, rng, -2, 2).to(DType::f16));
  sd.emplace_back("bn.bf16", Tensor::uniform({7}, rng, -2, 2).to(DType::bf16));
  sd.emplace_back("i32", Tensor::from_vector(std::vector<double>{-3, 0, 2147483647}, {3}, DType::i32));
  sd.emplace_back("bn.num_batches_tracked", Tensor::scalar(123456789012.0, DType::i64));
  sd.emplace_back("empty", Tensor::zeros({2, 0, 3}));
  sd.emplace_back("sliced", slice(Tensor::uniform({10}, rng, 0, 1), 0, 1, 9, 3));   // offset and stride
  for (int k = 0; k < 300; ++k)   // memo indices past 255 (LONG_BINPUT / LONG_BINGET)
    sd.emplace_back("m." + std::to_string(k) + ".w", Tensor::uniform({2}, rng, -1, 1));
  io::save_torch_checkpoint(tmp / "rt.model", sd);
  REQUIRE(io::is_torch_checkpoint(tmp / "rt.model"));
  const io::TorchCheckpoint ck = io::load_torch_checkpoint(tmp / "rt.model");
  CHECK(ck.format == "zip");
  CHECK(ck.values.empty());
  REQUIRE(ck.tensors.size() == sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    CAPTURE(sd[i].first);
    CHECK(ck.tensors[i].first == sd[i].first);
    CHECK(ck.tensors[i].second.dtype() == sd[i].second.dtype());
    CHECK(ck.tensors[i].second.shape() == sd[i].second.shape());
    CHECK(tensor_bytes(ck.tensors[i].second) == tensor_bytes(sd[i].second));   // bit for bit
  }

  io::save_torch_checkpoint(tmp / "empty.model", {});
  const io::TorchCheckpoint e = io::load_torch_checkpoint(tmp / "empty.model");
  CHECK(e.tensors.empty());
  CHECK(e.values.empty());
}
