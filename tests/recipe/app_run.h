// Runs a built app binary through the shell for the app tests: exit status, the signal that killed it, and
// its stdout and stderr together.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "support/check.h"

namespace spk::test {

struct AppRun {
  int status = -1;      // exit status; -1 when the process did not exit normally (a crash)
  int signal = 0;       // the signal that ended it, if any
  std::string output;   // stdout and stderr together
  std::string last_line() const {
    std::istringstream s(output);
    std::string line, last;
    while (std::getline(s, line))
      if (!line.empty()) last = line;
    return last;
  }
};

// `env` is prefixed to the command (e.g. "VAR=1").
inline AppRun run_binary(const std::string& binary, const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " " + binary + " " + args + " 2>&1";
  AppRun r;
  FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  const int st = ::pclose(f);
  if (WIFEXITED(st)) {
    r.status = WEXITSTATUS(st);
    // sh reports a child killed by signal s as exit status 128 + s; the status then says "did not exit".
    if (r.status > 128) r.signal = r.status - 128, r.status = -1;
  } else if (WIFSIGNALED(st)) {
    r.signal = WTERMSIG(st);
  }
  return r;
}

}  // namespace spk::test
