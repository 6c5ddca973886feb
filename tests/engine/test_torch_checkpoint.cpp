// PyTorch checkpoint reader: every fixture of tests/data/torch (written by scripts/make_torch_fixtures.py
// with torch 1.13) against the values torch.load returned (expected.json), every refused input with its
// message, and truncations and byte flips of valid files, which must load or throw spk::Error, never crash.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/io/pickle_vm.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/io/torch_load.h"
#include "engine/io/zip_reader.h"
#include "support/check.h"
#include "support/tmp_files.h"

using namespace spk;
using namespace spk::io;
namespace fs = std::filesystem;

namespace {

using spk::test::TmpDir;
using spk::test::write_bytes;

const std::string kDir = std::string(SPK_TEST_DATA_DIR) + "/torch/";

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Loads `bytes`; true when it loaded, false when it threw spk::Error. Anything else fails the test.
bool loads_or_throws_error(const std::string& bytes) {
  try {
    load_torch_checkpoint_bytes(bytes, "damaged");
    return true;
  } catch (const Error&) {
    return false;
  }
}

const Tensor* find(const TorchCheckpoint& c, const std::string& name) {
  for (const auto& [n, t] : c.tensors)
    if (n == name) return &t;
  return nullptr;
}

std::string error_of(const std::string& file) {
  try {
    load_torch_checkpoint(kDir + file);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

}  // namespace

TEST_CASE("torch checkpoint: every valid fixture loads with the names, dtypes, shapes and values torch.load gives") {
  const auto manifest = nlohmann::json::parse(read_bytes(kDir + "expected.json"));
  REQUIRE(manifest.size() >= 10);
  for (const auto& [file, want] : manifest.items()) {
    CAPTURE(file);
    const TorchCheckpoint c = load_torch_checkpoint(kDir + file);
    CHECK(c.format == want["format"].get<std::string>());
    REQUIRE(c.tensors.size() == want["tensors"].size());
    for (size_t i = 0; i < c.tensors.size(); ++i) {
      const auto& w = want["tensors"][i];
      const auto& [name, t] = c.tensors[i];
      CAPTURE(name);
      CHECK(name == w[0].get<std::string>());
      CHECK(dtype_name(t.dtype()) == w[1].get<std::string>());
      CHECK(t.shape() == w[2].get<Shape>());
      CHECK(t.is_contiguous());
      REQUIRE(t.numel() == int64_t(w[3].size()));
      if (t.dtype() == DType::i64 || t.dtype() == DType::i32) {
        const Tensor v = t.to(DType::i64);
        for (int64_t k = 0; k < t.numel(); ++k) CHECK(v.data<int64_t>()[k] == w[3][size_t(k)].get<int64_t>());
      } else {
        const Tensor v = t.to(DType::f64);   // f16/bf16/f32 -> f64 is exact, so the values must match exactly
        for (int64_t k = 0; k < t.numel(); ++k) CHECK(v.data<double>()[k] == w[3][size_t(k)].get<double>());
      }
    }
    CHECK(c.values == want["values"].get<std::map<std::string, std::string>>());
  }
}

TEST_CASE("torch checkpoint: formats, prefixes, nesting and views, spelled out") {
  const TorchCheckpoint zip = load_torch_checkpoint(kDir + "module.pt");   // archive prefix "module"
  const TorchCheckpoint legacy = load_torch_checkpoint(kDir + "module_legacy.pt");
  CHECK(zip.format == "zip");
  CHECK(legacy.format == "legacy");
  REQUIRE(zip.tensors.size() == 9);   // conv w/b, bn w/b/mean/var/num_batches_tracked, linear w/b
  CHECK(zip.tensors[6].first == "1.num_batches_tracked");
  CHECK(zip.tensors[6].second.dtype() == DType::i64);
  CHECK(zip.tensors[6].second.data<int64_t>()[0] == 1);
  CHECK(zip.values.empty());   // OrderedDict's _metadata attribute is not an entry
  REQUIRE(legacy.tensors.size() == zip.tensors.size());
  for (size_t i = 0; i < zip.tensors.size(); ++i) CHECK(legacy.tensors[i].first == zip.tensors[i].first);

  const TorchCheckpoint nested = load_torch_checkpoint(kDir + "nested.pt");
  CHECK(find(nested, "model.0.weight") != nullptr);
  CHECK(find(nested, "optimizer.state.0.exp_avg") != nullptr);
  CHECK(nested.values.at("epoch") == "3");
  CHECK(nested.values.at("lr") == "0.25");
  CHECK(nested.values.at("name") == "ecapa");
  CHECK(nested.values.at("flag") == "True");
  CHECK(nested.values.at("nothing") == "None");
  CHECK(nested.values.at("list.1") == "2.5");
  CHECK(nested.values.at("optimizer.param_groups.0.betas.0") == "0.9");

  // Views of one storage come back as separate contiguous tensors: writing one leaves the others alone.
  const TorchCheckpoint views = load_torch_checkpoint(kDir + "views.pt");
  const Tensor* base = find(views, "base");
  const Tensor* tr = find(views, "transposed");
  const Tensor* overlap = find(views, "overlap");
  REQUIRE((base && tr && overlap));
  CHECK(tr->shape() == Shape{6, 4});
  CHECK(tr->data<float>()[1] == 6.0f);                 // transposed[0][1] = base[1][0]
  CHECK(overlap->data<float>()[1 * 4 + 1] == 6.0f);    // as_strided((3, 4), (1, 2), 3): 3 + 1 + 2
  tr->data<float>()[1] = -1;
  CHECK(base->data<float>()[6] == 6.0f);

  const TorchCheckpoint param = load_torch_checkpoint(kDir + "param.pt");   // _rebuild_parameter
  REQUIRE(find(param, "weight") != nullptr);
  CHECK(find(param, "weight")->shape() == Shape{2, 3});
}

TEST_CASE("torch checkpoint: is_torch_checkpoint looks at the first bytes only") {
  CHECK(is_torch_checkpoint(kDir + "dtypes.pt"));
  CHECK(is_torch_checkpoint(kDir + "dtypes_legacy.pt"));
  CHECK(is_torch_checkpoint(kDir + "dtypes_proto4.pt"));
  CHECK_FALSE(is_torch_checkpoint(kDir + "expected.json"));
  CHECK_FALSE(is_torch_checkpoint(kDir + "does_not_exist.pt"));
}

TEST_CASE("torch checkpoint: refused inputs name the file and the problem") {
  const std::pair<const char*, const char*> cases[] = {
      {"evil_os_system.pt", "class or function 'os.system' is not allowed"},
      {"evil_eval.pt", "class or function 'builtins.eval' is not allowed"},
      {"bomb_marks.pt", "more than 1000 nested MARKs"},
      {"bomb_nesting.pt", "containers nested deeper than 1000"},
      {"bomb_string.pt", "BINUNICODE (0x58) at byte 2: needs 2147483647 bytes but only"},
      {"bomb_cycle.pt", "containers nested deeper than 1000"},
      {"bomb_shared.pt", "references its parts too many times to flatten"},
      {"duplicate_name.pt", "the flattened name 'a.b' appears twice"},
      {"bomb_long.pt", "integer of 1073741824 bytes is wider than the 128 bits"},
      {"oversize.pt", "reach element 9 but storage '0' holds only 4 elements"},
      {"offset_past.pt", "reach element 4 but storage '0' holds only 4 elements"},
      {"huge_stride.pt", "reach element 4611686018427387905 but storage '0' holds only 4"},
      {"stride0_bomb.pt", "tensor 'w' of size (1099511627776) would take the tensors past 8 times the file size"},
      {"missing_storage.pt", "storage entry 'archive/data/0' is missing"},
      {"short_storage.pt", "storage '0' has 8 bytes, fewer than its 4 torch.FloatStorage elements need"},
      {"big_endian.pt", "byte order is 'big'"},
      {"no_pickle.pt", "no '<prefix>/data.pkl' entry"},
      {"uint8.pt", "tensor 'bytes': dtype torch.ByteStorage is not supported"},
      {"expected.json", "neither a zip (torch >= 1.6) nor a legacy (torch < 1.6) torch.save file"},
      {"does_not_exist.pt", "cannot open the file"},
  };
  for (const auto& [file, message] : cases) {
    CAPTURE(file);
    const std::string e = error_of(file);
    CHECK(e.find("torch checkpoint " + kDir + file + ":") != std::string::npos);
    CHECK_MESSAGE(e.find(message) != std::string::npos, e);
  }
}

TEST_CASE("torch checkpoint: damaged zip structures are reported") {
  TmpDir tmp("spk_test_torch");
  std::string bytes = read_bytes(kDir + "dtypes.pt");
  // A flipped byte inside a storage: the CRC-32 catches it.
  const ZipReader zip(bytes, "x");
  const ZipReader::Entry* f32 = zip.find("archive/data/0");
  REQUIRE(f32 != nullptr);
  const size_t at = size_t(zip.read(*f32).data() - bytes.data());
  std::string flipped = bytes;
  flipped[at] ^= 0x10;
  write_bytes(tmp / "crc.pt", flipped);
  CHECK_THROWS_WITH_AS(load_torch_checkpoint(tmp / "crc.pt"), doctest::Contains("entry 'archive/data/0': CRC-32 mismatch"), Error);
  write_bytes(tmp / "cut.pt", std::string_view(bytes).substr(0, bytes.size() - 30));
  CHECK_THROWS_WITH_AS(load_torch_checkpoint(tmp / "cut.pt"), doctest::Contains("no zip end of central directory record"), Error);
  // An archive comment after the EOCD is allowed (its length field must match).
  std::string commented = bytes;
  commented[commented.size() - 2] = 5;
  commented += "hello";
  write_bytes(tmp / "comment.pt", commented);
  CHECK(load_torch_checkpoint(tmp / "comment.pt").tensors.size() == 8);
  CHECK(crc32("123456789") == 0xCBF43926u);   // the standard check value
}

namespace {

// A hand-built zip with one STORED entry whose sizes and offset live only in zip64 fields: the central
// header holds 0xFFFFFFFF and a zip64 extra field, the EOCD holds 0xFFFF counts and points (through the
// zip64 locator) to a zip64 EOCD record. An archive comment follows. Layout per APPNOTE.TXT 4.3.
struct ZipBuilder {
  std::string b;
  void u16(uint64_t v) { for (int i = 0; i < 2; ++i) b += char((v >> (8 * i)) & 0xFF); }
  void u32(uint64_t v) { for (int i = 0; i < 4; ++i) b += char((v >> (8 * i)) & 0xFF); }
  void u64(uint64_t v) { for (int i = 0; i < 8; ++i) b += char((v >> (8 * i)) & 0xFF); }
};

std::string zip64_archive(const std::string& name, const std::string& data, uint16_t method = 0) {
  ZipBuilder z;
  const uint32_t crc = crc32(data);
  z.u32(0x04034b50); z.u16(45); z.u16(0); z.u16(method); z.u16(0); z.u16(0);
  z.u32(crc); z.u32(0xFFFFFFFF); z.u32(0xFFFFFFFF); z.u16(name.size()); z.u16(20);
  z.b += name;
  z.u16(0x0001); z.u16(16); z.u64(data.size()); z.u64(data.size());
  z.b += data;
  const uint64_t cd = z.b.size();
  z.u32(0x02014b50); z.u16(45); z.u16(45); z.u16(0); z.u16(method); z.u16(0); z.u16(0);
  z.u32(crc); z.u32(0xFFFFFFFF); z.u32(0xFFFFFFFF); z.u16(name.size()); z.u16(28); z.u16(0);
  z.u16(0); z.u16(0); z.u32(0); z.u32(0xFFFFFFFF);
  z.b += name;
  z.u16(0x0001); z.u16(24); z.u64(data.size()); z.u64(data.size()); z.u64(0);
  const uint64_t cd_size = z.b.size() - cd, rec = z.b.size();
  z.u32(0x06064b50); z.u64(44); z.u16(45); z.u16(45); z.u32(0); z.u32(0); z.u64(1); z.u64(1); z.u64(cd_size); z.u64(cd);
  z.u32(0x07064b50); z.u32(0); z.u64(rec); z.u32(1);
  z.u32(0x06054b50); z.u16(0); z.u16(0); z.u16(0xFFFF); z.u16(0xFFFF); z.u32(0xFFFFFFFF); z.u32(0xFFFFFFFF);
  z.u16(3);
  z.b += "abc";
  return z.b;
}

}  // namespace

TEST_CASE("torch checkpoint: zip64 extra fields and records, and refused compression") {
  const std::string archive = zip64_archive("archive/x", "hello zip64");
  const ZipReader zip(archive, "zip64 test");
  REQUIRE(zip.entries().size() == 1);
  const ZipReader::Entry& e = zip.entries()[0];
  CHECK(e.name == "archive/x");
  CHECK(e.size == 11);
  CHECK(e.local_header_offset == 0);
  CHECK(zip.read(e) == "hello zip64");
  CHECK(zip.find("archive/y") == nullptr);

  const std::string deflated = zip64_archive("archive/z", "whatever", 8);
  const ZipReader zip8(deflated, "deflate test");
  CHECK_THROWS_WITH_AS(zip8.read(zip8.entries()[0]),
                       doctest::Contains("deflate test: entry 'archive/z' uses compression method 8 (deflate)"), Error);
  // Every truncation of the zip64 archive is refused cleanly (the EOCD or the data is gone).
  for (size_t n = 0; n < archive.size(); ++n) CHECK_THROWS_AS(ZipReader(archive.substr(0, n), "cut"), Error);
}

TEST_CASE("torch checkpoint: truncations and byte flips load or throw spk::Error, never crash") {
  std::mt19937 rng(1337);
  int loaded = 0, refused = 0;
  for (const char* file : {"dtypes.pt", "dtypes_legacy.pt", "views_legacy.pt", "other_prefix.pt", "nested.pt"}) {
    CAPTURE(file);
    const std::string bytes = read_bytes(kDir + file);
    for (size_t n = 0; n < bytes.size(); ++n)   // every truncation
      (loads_or_throws_error(bytes.substr(0, n)) ? loaded : refused)++;
    for (int i = 0; i < 1000; ++i) {
      std::string damaged = bytes;
      const int flips = 1 + int(rng() % 3);
      for (int k = 0; k < flips; ++k) damaged[rng() % damaged.size()] ^= char(1 + rng() % 255);
      (loads_or_throws_error(damaged) ? loaded : refused)++;
    }
  }
  CHECK(refused > 0);
  MESSAGE("damaged files: ", loaded, " loaded, ", refused, " refused with spk::Error");

  // The pickle itself, without the zip's CRC in the way: flipped bytes reach the VM.
  const std::string bytes = read_bytes(kDir + "dtypes_proto4.pt");
  const ZipReader zip(bytes, "x");
  const ZipReader::Entry* pkl = zip.find("dtypes_proto4/data.pkl");
  REQUIRE(pkl != nullptr);
  const std::string pickle(zip.read(*pkl));
  CHECK(unpickle(pickle, 0, "p").root->kind == PickleValue::Kind::dict);
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = pickle;
    damaged[rng() % damaged.size()] ^= char(1 + rng() % 255);
    try {
      unpickle(damaged, 0, "p");
    } catch (const Error&) {
    }
  }
}
