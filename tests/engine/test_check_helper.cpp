// The tolerance helper of tests/support/check.h checked on itself: a failing comparison must say which element
// is worst and by how much, or a failing parity case says nothing useful. The report is checked as a value
// (compare_close) and as the text doctest really prints for a failing expect_close, captured from a child
// process so that the deliberate failure does not fail this suite.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "support/check.h"

using namespace spk;

namespace {

// Runs fn in a forked child with stdout and stderr sent to a file; returns what it printed.
template <class Fn>
std::string output_of_child(Fn fn) {
  char path[] = "/tmp/spk_check_helper_XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    fn();
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fd);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  ::unlink(path);
  CHECK(WIFEXITED(status));
  return ss.str();
}

}  // namespace

TEST_CASE("compare_close reports the worst element, its values and the count outside tolerance") {
  const std::vector<double> ref = {1.0, 2.0, 3.0, 4.0, 5.0};
  const std::vector<double> got = {1.0, 2.001, 3.5, 4.0, 5.2};   // element 2 is worst (0.5 vs allowed 0.1 + 0.03)
  const test::CloseReport r = test::compare_close(got, ref, 0.1, 0.01, "toy");
  CHECK(r.bad == 2);   // elements 2 and 4 (0.2 > 0.15)
  CHECK(r.worst_index == 2);
  CHECK(r.got == 3.5);
  CHECK(r.expected == 3.0);
  CHECK(r.excess == doctest::Approx(0.5 / 0.13));
  CHECK(r.text.find("toy: 2 of 5 values outside") != std::string::npos);
  CHECK(r.text.find("worst element 2 got 3.5 expected 3") != std::string::npos);

  SUBCASE("NaN is the worst element") {
    const test::CloseReport n = test::compare_close({1.0, NAN, 3.5}, {1.0, 2.0, 3.0}, 0.1, 0, "nan");
    CHECK(n.bad == 2);
    CHECK(n.worst_index == 1);
    CHECK(n.text.find("worst element 1 got nan") != std::string::npos);
  }
  SUBCASE("a size mismatch is all bad, with no worst element") {
    const test::CloseReport s = test::compare_close({1.0}, {1.0, 2.0}, 0.1, 0, "sizes");
    CHECK(s.bad == 2);
    CHECK(s.worst_index == -1);
    CHECK(s.text == "sizes: 1 values, expected 2");
  }
  SUBCASE("within tolerance: nothing bad") {
    CHECK(test::compare_close({1.0, 2.05}, {1.0, 2.0}, 0.1, 0, "ok").bad == 0);
  }
}

TEST_CASE("a failing expect_close prints the worst element in doctest's failure message") {
  const std::string out = output_of_child([] {
    const Tensor got = Tensor::from_vector(std::vector<float>{0.f, 1.f, 7.f, 3.f}, {4});
    test::expect_close(got, std::vector<double>{0, 1, 2, 3}, 1e-3, 1e-3, "parity probe");
  });
  INFO("child output:\n" << out);
  CHECK(out.find("ERROR") != std::string::npos);   // doctest's failure line: the check really failed
  CHECK(out.find("parity probe: 1 of 4 values outside") != std::string::npos);
  CHECK(out.find("worst element 2 got 7 expected 2") != std::string::npos);
}
