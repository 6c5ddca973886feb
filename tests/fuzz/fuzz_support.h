// Shared by the fuzz targets (tests/fuzz/*.cpp, docs/fuzzing.md): a scratch directory for the files a target
// writes from its input, and the one rule every target checks.
//
// The rule: a parser given any bytes either succeeds or throws spk::Error whose message names the file (or the
// `where` text the caller gave it). Anything else is a finding: a crash or sanitizer report, an exception of
// another type escaping (std::bad_alloc, nlohmann::json errors, std::out_of_range...), or an spk::Error that does
// not say which file is wrong. Under libFuzzer an escaping exception aborts, which libFuzzer reports as a crash
// and saves the input; under the plain driver the ctest fails.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/check.h"

namespace spk::fuzz {

// A directory private to this process, created on first use and removed at exit.
const std::string& scratch_dir();
// Writes bytes to scratch_dir()/name (creating parent folders) and returns the path.
std::string write_file(const std::string& name, std::string_view bytes);
// Removes scratch_dir()/name recursively (no error if absent).
void remove_path(const std::string& name);

// The input split into at most `n` parts at lines holding only "----" (so a seed is readable as text). Missing
// parts are empty.
std::vector<std::string_view> split_parts(std::string_view data, size_t n);

// Prints the message and aborts: a finding.
[[noreturn]] void finding(const std::string& what);

// Runs fn; an spk::Error is accepted when its message contains `must_name`, any other exception propagates.
template <class Fn>
bool run_expecting_spk_errors(const std::string& must_name, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const spk::Error& e) {
    if (std::string_view(e.what()).find(must_name) == std::string_view::npos)
      finding("error does not name '" + must_name + "': " + e.what());
    return false;
  }
}

}  // namespace spk::fuzz
