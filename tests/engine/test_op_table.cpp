// Walks engine/ops.def: every op must have a finite-difference gradient check, and every op with a CUDA
// kernel a CUDA-vs-CPU parity case. Forgetting either fails the suite, naming the op. The walk also holds the
// table to the source tree: the engine file and kernel family a row names must exist, its kernel names must be
// declared in the family header, and heavy rows must name a bench entry (spk_bench --check_ops then proves
// the entry is registered).
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "support/check.h"

using namespace spk;
namespace fs = std::filesystem;

namespace {

// The repository root: SPK_TEST_DATA_DIR is <root>/tests/data.
fs::path source_root() { return fs::path(SPK_TEST_DATA_DIR).parent_path().parent_path(); }

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// True when `text` has `name(` with no identifier character just before it: "max_pool2d_forward_cpu(" does
// not count as a declaration of "pool2d_forward_cpu".
bool declares(const std::string& text, const std::string& name) {
  const std::string needle = name + "(";
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    if (at == 0 || !is_ident(text[at - 1])) return true;
  return false;
}

// True when `text` defines the engine entry point `name(`: a line that starts at column 0 (a namespace-scope
// definition, not an indented call) with a return type, then " name(". "  y = sum(x)" does not count.
bool defines(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  const std::string needle = " " + name + "(";
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || !is_ident(line[0])) continue;
    const size_t at = line.find(needle);
    if (at != std::string::npos && at > 0 && (is_ident(line[at - 1]) || line[at - 1] == '>')) return true;
  }
  return false;
}

// True when `word` occurs in `text` as a whole identifier.
bool mentions(const std::string& text, const std::string& word) {
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if ((at == 0 || !is_ident(text[at - 1])) && (end == text.size() || !is_ident(text[end]))) return true;
  }
  return false;
}

std::string row(int i) { return "op '" + std::string(kOpTable[i].name) + "'"; }

}  // namespace

TEST_CASE("op table: every op has a gradient check") {
  for (int i = 0; i < kOpCount; ++i) {
    CHECK_MESSAGE(test::has_gradcheck(OpId(i)), "op '" << std::string(kOpTable[i].name) << "' has no SPK_GRADCHECK_CASE");
  }
}

TEST_CASE("op table: every CUDA op has a parity case") {
  for (int i = 0; i < kOpCount; ++i) {
    if (kOpTable[i].cuda != OpCuda::CUDA) continue;
    CHECK_MESSAGE(test::has_cuda_parity(OpId(i)), "op '" << std::string(kOpTable[i].name) << "' has no SPK_CUDA_PARITY_CASE");
  }
}

TEST_CASE("op table: names are unique") {
  for (int i = 0; i < kOpCount; ++i)
    for (int j = i + 1; j < kOpCount; ++j) CHECK(std::string(kOpTable[i].name) != kOpTable[j].name);
}

TEST_CASE("op table: the source tree is where the table finds it") {
  REQUIRE(fs::exists(source_root() / "engine" / "ops.def"));
}

TEST_CASE("op table: each row's engine file defines the op and its test file covers it") {
  const fs::path root = source_root();
  for (int i = 0; i < kOpCount; ++i) {
    const OpInfo& op = kOpTable[i];
    const std::string name = op.name, ops_file = op.ops_file;
    const fs::path file = root / "engine" / "ops" / (ops_file + ".cpp");
    INFO(row(i), " -> ", file.string());
    REQUIRE_MESSAGE(fs::exists(file), row(i) << ": no engine file " << file.string());
    // The public entry point spk::<name> is defined there.
    CHECK_MESSAGE(defines(read_text(file), op.name), row(i) << ": " << file.string() << " does not define " << name << "(");
    // Its tests (the gradient check among them) are in tests/engine/test_<ops_file>.cpp, or test_<name>.cpp
    // for an op with a file of its own.
    bool tested = false;
    for (const std::string& stem : {ops_file, name}) {
      const fs::path test = root / "tests" / "engine" / ("test_" + stem + ".cpp");
      tested = tested || (fs::exists(test) && mentions(read_text(test), op.name));
    }
    CHECK_MESSAGE(tested, row(i) << ": neither tests/engine/test_" << ops_file << ".cpp nor test_" << name
                                 << ".cpp names the op");
  }
}

TEST_CASE("op table: kernel rows lead to their kernels, the others say why they have none") {
  const fs::path root = source_root();
  for (int i = 0; i < kOpCount; ++i) {
    const OpInfo& op = kOpTable[i];
    INFO(row(i));
    // A kernel family exactly when the op runs a kernel: CUDA and CPU_ONLY rows do, COMPOSED and VIEW rows don't.
    const bool runs_kernels = op.cuda == OpCuda::CUDA || op.cuda == OpCuda::CPU_ONLY;
    const std::string dir = op.kernel_dir, forward = op.forward, backward = op.backward;
    CHECK_MESSAGE(op.has_kernels() == runs_kernels, row(i) << ": kernel_dir '" << dir << "' does not match its cuda column");
    if (!op.has_kernels()) {
      CHECK_MESSAGE(!names_kernel(forward), row(i) << ": forward '" << forward << "' without a kernel_dir");
      CHECK_MESSAGE(!names_kernel(backward), row(i) << ": backward '" << backward << "' without a kernel_dir");
      continue;
    }
    CHECK_MESSAGE(names_kernel(forward), row(i) << ": a kernel row must name its forward kernel");
    const fs::path family = root / "kernels" / dir;
    const fs::path header = family / (dir + ".h");
    REQUIRE_MESSAGE(fs::exists(header), row(i) << ": no family header " << header.string());
    CHECK_MESSAGE(fs::exists(family / (dir + "_cpu.cpp")), row(i) << ": no " << dir << "_cpu.cpp in " << dir);
    if (op.cuda == OpCuda::CUDA)
      CHECK_MESSAGE(fs::exists(family / (dir + "_cuda.cu")), row(i) << ": no " << dir << "_cuda.cu in " << dir);
    const std::string text = read_text(header);
    for (const std::string& k : {forward, backward}) {
      if (!names_kernel(k)) continue;
      CHECK_MESSAGE(declares(text, k + "_cpu"), row(i) << ": " << header.string() << " declares no " << k << "_cpu(");
      if (op.cuda == OpCuda::CUDA)
        CHECK_MESSAGE(declares(text, k + "_cuda"),
                      row(i) << ": " << header.string() << " declares no " << k << "_cuda(");
    }
  }
}

TEST_CASE("op table: rows of the heavy kernel families name a bench entry") {
  for (int i = 0; i < kOpCount; ++i) {
    const OpInfo& op = kOpTable[i];
    const std::string_view dir = op.kernel_dir;
    const bool heavy = dir == "conv" || dir == "pool" || dir == "norm" || dir == "softmax" || dir == "loss" ||
                       dir == "gemm";
    if (heavy) CHECK_MESSAGE(op.is_benched(), row(i) << " (kernels/" << std::string(dir) << ") names no bench entry");
  }
}

TEST_CASE("op table: the declaration check can fail") {
  // The walk above is only as good as declares(): it must reject a name that is merely a suffix of another.
  CHECK(declares("void max_pool2d_forward_cpu(const float*);", "max_pool2d_forward_cpu"));
  CHECK_FALSE(declares("void max_pool2d_forward_cpu(const float*);", "pool2d_forward_cpu"));
  CHECK_FALSE(declares("void max_pool2d_forward_cpu(const float*);", "max_pool2d_backward_cpu"));
  CHECK(defines("std::pair<Tensor, Tensor> max(const Tensor& x) {", "max"));
  CHECK(defines("x;\nFusedLossOutput similarity_ce(const Tensor& a,", "similarity_ce"));
  CHECK_FALSE(defines("  size_t n = std::max(a.size(), b.size());", "max"));
  CHECK_FALSE(defines("  Tensor y = sum(x, {0});", "sum"));
  CHECK(mentions("SPK_GRADCHECK_CASE(batch_norm_relu, ...)", "batch_norm_relu"));
  CHECK_FALSE(mentions("SPK_GRADCHECK_CASE(batch_norm_relu, ...)", "batch_norm"));
}
