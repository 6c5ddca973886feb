// SPK_FAULT (engine/fault.h): the parser accepts exactly the documented rules and names what is wrong otherwise;
// hit ranges act on the right hits; the atomic writer fails cleanly at each of its points (the previous file
// intact, no temporary file left); and a forced host allocation failure is an OutOfMemoryError with the sizes.
#include <filesystem>
#include <string>

#include "engine/fault.h"
#include "engine/io/atomic_file.h"
#include "engine/out_of_memory.h"
#include "engine/tensor.h"
#include "support/check.h"
#include "support/tmp_files.h"

using namespace spk;
namespace fs = std::filesystem;

namespace {

// The error message of parse(spec), or "" when it parses.
std::string parse_error(const std::string& spec) {
  try {
    fault::parse(spec);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

void write_file(const std::string& path, const std::string& text) {
  io::AtomicFile f(path, "test " + path);
  f.write(text.data(), text.size());
  f.write(text.data(), text.size());
  f.commit();
}

}  // namespace

TEST_CASE("SPK_FAULT parser: points, actions and hit ranges") {
  CHECK(fault::parse("").empty());
  auto r = fault::parse("atomic.rename:kill");
  REQUIRE(r.size() == 1);
  CHECK(r[0].point == fault::Point::atomic_rename);
  CHECK(r[0].action == fault::Action::kill);
  CHECK(r[0].first == 1);
  CHECK(r[0].last == UINT64_MAX);

  r = fault::parse("train.loss:fail@3,atomic.write:throw@2-5,alloc:fail@40+,train.step:kill@7");
  REQUIRE(r.size() == 4);
  CHECK((r[0].point == fault::Point::train_loss && r[0].action == fault::Action::fail));
  CHECK((r[0].first == 3 && r[0].last == 3));
  CHECK((r[1].point == fault::Point::atomic_write && r[1].action == fault::Action::throw_error));
  CHECK((r[1].first == 2 && r[1].last == 5));
  CHECK((r[2].point == fault::Point::alloc && r[2].first == 40 && r[2].last == UINT64_MAX));
  CHECK((r[3].point == fault::Point::train_step && r[3].first == 7 && r[3].last == 7));
  for (int p = 0; p < int(fault::Point::count); ++p) {
    CAPTURE(fault::point_name(fault::Point(p)));
    CHECK(fault::parse(std::string(fault::point_name(fault::Point(p))) + ":kill").at(0).point == fault::Point(p));
  }
}

TEST_CASE("SPK_FAULT parser: every malformed value is an error naming SPK_FAULT and the mistake") {
  const struct {
    const char* spec;
    const char* says;
  } cases[] = {
      {"atomic.write", "no ':' between point and action"},
      {"nowhere:kill", "unknown point 'nowhere' (points: atomic.write, "},
      {"atomic.write:explode", "unknown action 'explode' (kill, throw, fail)"},
      {"atomic.write:", "unknown action ''"},
      {"train.step:fail", "point train.step has no failure to simulate"},
      {"atomic.committed:fail", "point atomic.committed has no failure to simulate"},
      {"alloc:fail@0", "hit range '@0' is not N, N-M or N+"},
      {"alloc:fail@", "hit range '@' is not"},
      {"alloc:fail@x", "hit range '@x'"},
      {"alloc:fail@3-2", "hit range '@3-2'"},
      {"alloc:fail@-2", "hit range '@-2'"},
      {"alloc:fail@2-", "hit range '@2-'"},
      {"alloc:fail@+", "hit range '@+'"},
      {"alloc:fail@1 ", "hit range '@1 '"},
      {"alloc:fail@99999999999999999999", "hit range"},
      {"alloc:fail,,train.step:kill", "an empty rule (a stray comma?)"},
      {"alloc:fail,", "an empty rule"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.spec);
    const std::string e = parse_error(c.spec);
    CHECK(e.find("SPK_FAULT='" + std::string(c.spec) + "'") == 0);
    CHECK(e.find(c.says) != std::string::npos);
  }
}

TEST_CASE("SPK_FAULT: a rule acts on its hits only, and the counts are per point") {
  {
    fault::ScopedFaults f("train.loss:fail@2-3,train.grad:fail@2+");
    CHECK(!fault::hit(fault::Point::train_loss));
    CHECK(fault::hit(fault::Point::train_loss));
    CHECK(fault::hit(fault::Point::train_loss));
    CHECK(!fault::hit(fault::Point::train_loss));
    CHECK(!fault::hit(fault::Point::train_grad));
    for (int i = 0; i < 5; ++i) CHECK(fault::hit(fault::Point::train_grad));
    CHECK(!fault::hit(fault::Point::alloc));
  }
  {
    fault::ScopedFaults f("train.step:throw@2");
    CHECK_NOTHROW(fault::hit(fault::Point::train_step));
    CHECK_THROWS_WITH_AS(fault::hit(fault::Point::train_step),
                         doctest::Contains("SPK_FAULT: injected error at train.step (hit 2)"), Error);
    CHECK_NOTHROW(fault::hit(fault::Point::train_step));
  }
  // Restored: nothing armed (the test runs without SPK_FAULT).
  CHECK(!fault::hit(fault::Point::train_loss));
}

TEST_CASE("atomic file: a failure at any step leaves the previous file and no temporary file") {
  test::TmpDir tmp("spk_test_fault");
  const std::string path = tmp / "ckpt.bin";
  write_file(path, "old contents");
  const std::string old_bytes = test::read_bytes(path);
  const struct {
    const char* spec;
    const char* says;   // in the error
  } cases[] = {
      {"atomic.write:fail@2", "failed: No space left on device (the disk or quota is full: free space and retry; "
                              "the previous file is unchanged)"},
      {"atomic.fsync:fail", "fsync of"},
      {"atomic.rename:fail", "rename from"},
      {"atomic.write:throw@1", "injected error at atomic.write"},
      {"atomic.fsync:throw", "injected error at atomic.fsync"},
      {"atomic.rename:throw", "injected error at atomic.rename"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.spec);
    fault::ScopedFaults f(c.spec);
    CHECK_THROWS_WITH_AS(write_file(path, "new contents"), doctest::Contains(c.says), Error);
    CHECK(test::read_bytes(path) == old_bytes);
    CHECK(files_in(tmp.dir) == 1);   // the temporary file is gone
  }
  // After the rename the new file is in place, even if syncing the directory then fails.
  {
    fault::ScopedFaults f("atomic.dir_fsync:fail");
    CHECK_THROWS_WITH_AS(write_file(path, "new contents"), doctest::Contains("fsync of directory"), Error);
    CHECK(test::read_bytes(path) == "new contentsnew contents");
    CHECK(files_in(tmp.dir) == 1);
  }
  // A file size limit (EFBIG) gets its own hint; tested for real in tests/recipe/test_crash_consistency.cpp.
}

TEST_CASE("out of memory: a forced host allocation failure names the request and the free and total memory") {
  fault::ScopedFaults f("alloc:fail@2");
  Tensor a = Tensor::empty({10}, DType::f32);   // hit 1: served
  try {
    Tensor b = Tensor::empty({1000, 1000}, DType::f32);
    FAIL("no error");
  } catch (const OutOfMemoryError& e) {
    CHECK(e.device == "cpu");
    CHECK(e.requested_bytes == 4000000);
    CHECK(e.total_bytes > 0);
    CHECK(e.free_bytes <= e.total_bytes);
    const std::string m = e.what();
    CHECK(m.find("out of memory on cpu: cannot allocate 3.81 MiB (4000000 bytes); free ") == 0);
    CHECK(m.find(" of " + format_bytes(e.total_bytes)) != std::string::npos);
    CHECK(m.find("injected by SPK_FAULT") != std::string::npos);
    const std::string h = e.with_hint("try a smaller --batch_size").what();
    CHECK(h == m + "; try a smaller --batch_size");
  }
  Tensor c = Tensor::empty({10}, DType::f32);   // hit 3: served again
  CHECK(c.numel() == 10);
}

TEST_CASE("format_bytes") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.50 KiB");
  CHECK(format_bytes(size_t(3) << 20) == "3.00 MiB");
  CHECK(format_bytes(size_t(5) << 30) == "5.00 GiB");
}
