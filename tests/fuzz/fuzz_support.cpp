// Scratch files and the finding report for the fuzz targets (fuzz_support.h).
#include "fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace spk::fuzz {

namespace {
struct Scratch {
  std::string dir;
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    dir = (fs::path(tmp && *tmp ? tmp : "/tmp") / ("spk_fuzz_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
}  // namespace

const std::string& scratch_dir() {
  static Scratch s;
  return s.dir;
}

std::string write_file(const std::string& name, std::string_view bytes) {
  const fs::path p = fs::path(scratch_dir()) / name;
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) finding("cannot write scratch file " + p.string());
  return p.string();
}

void remove_path(const std::string& name) {
  std::error_code ec;
  fs::remove_all(fs::path(scratch_dir()) / name, ec);
}

std::vector<std::string_view> split_parts(std::string_view data, size_t n) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() + 1 < n) {
    size_t at = data.find("\n----\n", start);
    if (at == std::string_view::npos) break;
    parts.push_back(data.substr(start, at + 1 - start));
    start = at + 6;
  }
  parts.push_back(data.substr(std::min(start, data.size())));
  parts.resize(n);
  return parts;
}

void finding(const std::string& what) {
  std::fprintf(stderr, "spk fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace spk::fuzz
