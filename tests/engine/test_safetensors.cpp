// safetensors: round trips of every dtype, the exact bytes of a tiny file against the format spec, the
// validation of damaged files, atomic writes, and loading into a module with every mismatch reported at once.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "engine/layers.h"
#include "engine/safetensors.h"
#include "support/check.h"
#include "support/tmp_files.h"

using namespace spk;
namespace fs = std::filesystem;

namespace {

using spk::test::TmpDir;
using spk::test::read_bytes;
using spk::test::write_bytes;


std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((v >> (8 * i)) & 0xff);
  return s;
}

// A file with the given header text and data bytes, laid out as the spec says.
std::string raw_file(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// The error names the file and says what is wrong.
void expect_load_error(const std::string& path, const std::string& contains) {
  try {
    load_safetensors(path);
    FAIL("no error for a file that should fail with: " << contains);
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK_MESSAGE(m.find("safetensors " + path + ": ") != std::string::npos, m);
    CHECK_MESSAGE(m.find(contains) != std::string::npos, m);
  }
}

struct Small : Module {
  std::shared_ptr<Linear> fc;
  std::shared_ptr<BatchNorm1d> bn;
  explicit Small(Rng& rng, int64_t out = 3) {
    fc = register_module("fc", std::make_shared<Linear>(2, out, rng));
    bn = register_module("bn", std::make_shared<BatchNorm1d>(out));
  }
};

}  // namespace

TEST_CASE("safetensors round trip: every dtype, scalars, empty and strided tensors, metadata") {
  TmpDir tmp("spk_test_safetensors");
  Rng rng(4);
  Tensor f32 = Tensor::uniform({2, 3}, rng, -1, 1);
  Tensor f64 = Tensor::uniform({3}, rng, -1, 1, DType::f64);
  Tensor f16 = Tensor::uniform({2, 2}, rng, -4, 4).to(DType::f16);
  Tensor bf16 = Tensor::uniform({5}, rng, -4, 4).to(DType::bf16);
  Tensor i32 = Tensor::from_vector(std::vector<double>{-7, 0, 2147483647}, {3}, DType::i32);
  Tensor i64 = Tensor::from_vector(std::vector<int64_t>{-1, int64_t(1) << 40}, {2});
  Tensor scalar = Tensor::scalar(42, DType::i64);
  Tensor empty = Tensor::zeros({0, 3});
  Tensor strided = transpose(Tensor::uniform({3, 4}, rng, -1, 1), 0, 1);   // (4, 3), not contiguous
  NamedTensors in{{"w.f32", f32},  {"f64", f64},      {"h.f16", f16},   {"b.bf16", bf16}, {"i32", i32},
                  {"i64", i64},    {"step", scalar},  {"empty", empty}, {"t", strided}};
  Metadata meta{{"format", "pt"}, {"epoch", "12"}, {"note", "naïve ✓"}};
  save_safetensors(tmp / "all.safetensors", in, meta);

  SafetensorsFile f = load_safetensors(tmp / "all.safetensors");
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == in.size());
  for (const auto& [name, t] : in) {
    CAPTURE(name);
    auto it = std::find_if(f.tensors.begin(), f.tensors.end(), [&](const auto& e) { return e.first == name; });
    REQUIRE(it != f.tensors.end());
    CHECK(it->second.dtype() == t.dtype());
    CHECK(it->second.shape() == t.shape());
    CHECK(it->second.device() == Device::cpu());
    test::expect_close(it->second, t, 0, 0, name);   // bit-exact values
  }
  // Data order: 8-byte types first (caller's order among them), then 4-byte, then 2-byte.
  std::vector<std::string> order;
  for (const auto& [n, _] : f.tensors) order.push_back(n);
  CHECK(order == std::vector<std::string>{"f64", "i64", "step", "w.f32", "i32", "empty", "t", "h.f16", "b.bf16"});
}

TEST_CASE("safetensors byte layout of a tiny file matches the spec") {
  TmpDir tmp("spk_test_safetensors");
  const std::string path = tmp / "tiny.safetensors";
  Tensor b = Tensor::from_vector(std::vector<float>{1.0f, 2.0f}, {2});
  Tensor a = Tensor::from_vector(std::vector<int64_t>{7}, {1});
  save_safetensors(path, {{"b", b}, {"a", a}}, {{"k", "v"}});

  std::string json = R"({"__metadata__":{"k":"v"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  std::string header = json + std::string((8 - json.size() % 8) % 8, ' ');
  REQUIRE(header.size() % 8 == 0);
  std::string data = std::string("\x07\0\0\0\0\0\0\0", 8) + std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);
  std::string bytes = read_bytes(path);
  CHECK(bytes.size() == 8 + header.size() + 16);
  CHECK(bytes.substr(0, 8) == le64(header.size()));
  CHECK(bytes.substr(8, header.size()) == header);
  CHECK(bytes.substr(8 + header.size()) == data);
  // And the reader accepts a file written by hand to the spec (no padding, other key order).
  write_bytes(tmp / "hand.safetensors",
              raw_file(R"({"x":{"data_offsets":[0,4],"shape":[],"dtype":"F32"}})", std::string("\x00\x00\x40\x40", 4)));
  auto f = load_safetensors(tmp / "hand.safetensors");
  REQUIRE(f.tensors.size() == 1);
  CHECK(f.tensors[0].second.dim() == 0);
  CHECK(f.tensors[0].second.item() == 3.0);
  CHECK(f.metadata.empty());
}

TEST_CASE("safetensors writes atomically and names the file in errors") {
  TmpDir tmp("spk_test_safetensors");
  const std::string path = tmp / "ckpt.safetensors";
  save_safetensors(path, {{"x", Tensor::ones({3})}});
  save_safetensors(path, {{"y", Tensor::zeros({2})}});   // replaces the old file
  auto f = load_safetensors(path);
  REQUIRE(f.tensors.size() == 1);
  CHECK(f.tensors[0].first == "y");
  int files = 0;
  for (const auto& e : fs::directory_iterator(tmp.dir)) { ++files; CHECK(e.path().filename() == "ckpt.safetensors"); }
  CHECK(files == 1);   // no temporary left behind

  const std::string missing_dir = tmp / "no/such/dir/x.safetensors";
  CHECK_THROWS_WITH_AS(save_safetensors(missing_dir, {{"x", Tensor::ones({1})}}),
                       doctest::Contains(("safetensors " + missing_dir + ": cannot create").c_str()), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"x", Tensor::ones({1})}, {"x", Tensor::ones({1})}}),
                       doctest::Contains("tensor name 'x' appears twice"), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"__metadata__", Tensor::ones({1})}}),
                       doctest::Contains("invalid tensor name '__metadata__'"), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(tmp / "absent"), doctest::Contains("absent: cannot open"), Error);
}

TEST_CASE("safetensors rejects truncated files") {
  TmpDir tmp("spk_test_safetensors");
  const std::string good = tmp / "good.safetensors", bad = tmp / "bad.safetensors";
  save_safetensors(good, {{"w", Tensor::ones({4, 4})}, {"b", Tensor::ones({4})}});
  const std::string bytes = read_bytes(good);

  write_bytes(bad, bytes.substr(0, bytes.size() - 1));
  expect_load_error(bad, "tensor 'b' data_offsets [64, 80] are out of range: the data section has 79 bytes (truncated?)");
  write_bytes(bad, bytes.substr(0, 20));
  expect_load_error(bad, "is beyond the file size (20 bytes)");
  write_bytes(bad, bytes.substr(0, 5));
  expect_load_error(bad, "file is 5 bytes, too short for the 8-byte header length");
  write_bytes(bad, bytes + "extra");
  expect_load_error(bad, "the tensors cover 80 bytes but the data section has 85");
}

TEST_CASE("safetensors rejects corrupt headers") {
  TmpDir tmp("spk_test_safetensors");
  const std::string p = tmp / "x.safetensors";
  const std::string f32x2 = std::string(8, '\0');
  auto check = [&](const std::string& header, const std::string& data, const std::string& contains) {
    CAPTURE(header);
    write_bytes(p, raw_file(header, data));
    expect_load_error(p, contains);
  };
  // A byte flipped in a header the writer produced.
  save_safetensors(p, {{"w", Tensor::ones({2})}});
  std::string bytes = read_bytes(p);
  bytes[8] = 'x';
  write_bytes(p, bytes);
  expect_load_error(p, "header is not valid JSON");

  check(R"([1, 2])", "", "header is JSON but not an object");
  check(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
        f32x2, "header has the key 'a' twice");
  check(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", f32x2, "tensor 'a': dtype \"U8\" is not supported");
  check(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2, "has an entry that is not a non-negative integer");
  check(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", f32x2, "not a non-negative integer");
  check(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2,
        "tensor 'a': shape (3) F32 needs 12 bytes but data_offsets [0, 8] span 8");
  check(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", f32x2, "span 8");   // no wrap-around
  check(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", f32x2, "is not a pair of non-negative integers");
  check(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32x2, "end before they begin");
  check(R"({"a":{"dtype":"F32","shape":[2]}})", f32x2, "entry needs dtype, shape and data_offsets");
  check(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", f32x2, "unknown field 'extra'");
  check(R"({"a":[0,8]})", f32x2, "tensor 'a': entry is not an object");
  check(R"({"__metadata__":{"epoch":12}})", "", "__metadata__ value of 'epoch' is not a string");
  check(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f32x2,
        "tensor 'a' data_offsets [0, 16] are out of range: the data section has 8 bytes");
  // Offsets that overlap, leave a gap, or do not reach the end of the data section.
  check(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
        std::string(12, '\0'), "tensor 'b' data_offsets [4, 12] overlap tensor 'a' which ends at 8");
  check(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
        std::string(12, '\0'), "bytes [4, 8) of the data section belong to no tensor (gap before 'b')");
  check(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2, "bytes [0, 4) of the data section belong to no tensor");
  check(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32x2, "the tensors cover 4 bytes but the data section has 8");
  // A header length that points past the end of the file.
  write_bytes(p, le64(1000) + "{}");
  expect_load_error(p, "header length 1000 is beyond the file size (10 bytes)");
}

TEST_CASE("load into a module: values, devices and every mismatch in one error") {
  TmpDir tmp("spk_test_safetensors");
  Rng rng(1);
  Small src(rng);
  src.bn->running_mean.fill_(0.5);
  src.bn->num_batches_tracked.fill_(17);
  const std::string path = tmp / "small.safetensors";
  save_safetensors(path, src.state(), {{"arch", "Small"}});

  Rng other(2);
  Small dst(other);
  LoadResult r = load_safetensors_into(dst, path);
  CHECK(r.missing.empty());
  CHECK(r.unexpected.empty());
  for (size_t i = 0; i < src.state().size(); ++i) {
    CAPTURE(src.state()[i].first);
    test::expect_close(dst.state()[i].second, src.state()[i].second, 0, 0, "loaded value");
  }
  CHECK(dst.bn->num_batches_tracked.item() == 17);
  CHECK(dst.fc->weight.requires_grad());   // still the module's own leaf

  // A module with another head size, and a file with an extra tensor and a wrong dtype.
  NamedTensors file = src.state();
  file.emplace_back("head.weight", Tensor::zeros({5, 3}));
  file[3].second = Tensor::zeros({3}, DType::f64);                // bn.bias as f64
  file.erase(file.begin() + 4);                                   // drop bn.running_mean
  Rng third(3);
  Small wide(third, 4);
  auto before = wide.fc->weight.to_double();
  try {
    load_state(wide, file, {}, "ckpt");
    FAIL("mismatches were accepted");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("load ckpt into module: 8 problem(s)") != std::string::npos);
    CHECK(m.find("wrong shape: 'fc.weight' is (4, 2) in the module but (3, 2) in ckpt") != std::string::npos);
    CHECK(m.find("wrong shape: 'fc.bias' is (4) in the module but (3) in ckpt") != std::string::npos);
    CHECK(m.find("wrong shape: 'bn.weight'") != std::string::npos);
    CHECK(m.find("wrong shape: 'bn.bias'") != std::string::npos);
    CHECK(m.find("missing: 'bn.running_mean' f32(4) cpu") != std::string::npos);
    CHECK(m.find("wrong shape: 'bn.running_var'") != std::string::npos);
    CHECK(m.find("wrong dtype: 'bn.bias' is f32 in the module but f64 in ckpt") != std::string::npos);
    CHECK(m.find("unexpected: 'head.weight' f32(5, 3) cpu") != std::string::npos);
  }
  test::expect_close(wide.fc->weight, before, 0, 0, "nothing copied on error");

  // Same shapes, wrong dtype only.
  Rng fourth(4);
  Small same(fourth);
  CHECK_THROWS_WITH_AS(load_state(same, file, {}, "ckpt"),
                       doctest::Contains("wrong dtype: 'bn.bias' is f32 in the module but f64 in ckpt"), Error);

  // Fine-tuning: allow missing and unexpected names, get the lists back; shapes still must agree.
  NamedTensors partial{{"fc.weight", src.fc->weight}, {"head.bias", Tensor::zeros({2})}, {"optim.step", Tensor::scalar(3, DType::i64)}};
  LoadResult lr = load_state(same, partial, {.allow_missing = true, .allow_unexpected = true, .ignore_prefixes = {"optim."}});
  CHECK(lr.missing == std::vector<std::string>{"fc.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                                               "bn.num_batches_tracked"});
  CHECK(lr.unexpected == std::vector<std::string>{"head.bias"});
  test::expect_close(same.fc->weight, src.fc->weight, 0, 0, "the one shared tensor was loaded");
  CHECK_THROWS_WITH_AS(load_state(same, partial, {.allow_missing = true}),
                       doctest::Contains("2 problem(s):\n  unexpected: 'head.bias' f32(2) cpu\n  unexpected: 'optim.step'"),
                       Error);
}

TEST_CASE("load into a module: a missing num_batches_tracked restarts at 0, as PyTorch's BatchNorm accepts") {
  Rng rng(1);
  Small src(rng);
  NamedTensors file;
  for (const auto& e : src.state())
    if (e.first != "bn.num_batches_tracked") file.push_back(e);
  Rng other(2);
  Small dst(other);
  dst.bn->num_batches_tracked.fill_(9);
  const LoadResult r = load_state(dst, file, {}, "old.model");
  CHECK(r.missing == std::vector<std::string>{"bn.num_batches_tracked"});
  CHECK(dst.bn->num_batches_tracked.item() == 0);
  test::expect_close(dst.bn->weight, src.bn->weight, 0, 0, "the rest is loaded");
  // Under allow_missing it is left as it is, like every other missing entry.
  dst.bn->num_batches_tracked.fill_(9);
  load_state(dst, file, {.allow_missing = true}, "old.model");
  CHECK(dst.bn->num_batches_tracked.item() == 9);
  // Any other missing buffer is still an error.
  file.erase(file.begin());
  CHECK_THROWS_WITH_AS(load_state(dst, file, {}, "old.model"), doctest::Contains("missing: '"), Error);
}
