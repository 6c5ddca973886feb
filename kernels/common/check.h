// The error vocabulary of the whole project, after tiny-cuda-nn's CHECK_THROW / CUDA_CHECK_THROW
// (NVlabs/tiny-cuda-nn include/tiny-cuda-nn/common_host.h) and PyTorch's C10_CUDA_CHECK.
// Library code throws spk::Error; apps catch it in main() and exit non-zero; destructors only print.
// Messages carry file:line, the failed condition and what the caller adds (op name, shapes, file, flag).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace spk {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... A>
std::string cat(const A&... a) {
  std::ostringstream s;
  (s << ... << a);
  return s.str();
}
[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace spk

// SPK_CHECK(cond, parts...): throw spk::Error("file:line: check failed: cond: parts...") when cond is false.
#define SPK_CHECK(cond, ...)                                                                             \
  do {                                                                                                   \
    if (!(cond))                                                                                         \
      ::spk::detail::throw_error(__FILE__, __LINE__,                                                     \
                                 ::spk::detail::cat("check failed: " #cond ": ", __VA_ARGS__));          \
  } while (0)

// SPK_FAIL(parts...): throw unconditionally (unsupported case, bad input found by a parser, ...).
#define SPK_FAIL(...) ::spk::detail::throw_error(__FILE__, __LINE__, ::spk::detail::cat(__VA_ARGS__))
