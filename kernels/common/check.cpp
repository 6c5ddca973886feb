#include "kernels/common/check.h"

#include <cstring>

namespace spk::detail {

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg) {
  // Keep only the path from the project root: messages stay short and stable across checkouts.
  const char* f = file;
  for (const char* root : {"/engine/", "/kernels/", "/nets/", "/losses/", "/apps/", "/tests/", "/bench/"}) {
    if (const char* p = std::strstr(file, root)) { f = p + 1; break; }
  }
  throw Error(std::string(f) + ":" + std::to_string(line) + ": " + msg);
}

}  // namespace spk::detail
