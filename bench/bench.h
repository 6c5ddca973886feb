// spk_bench's registry: every bench/*.cpp adds entries at static-initialisation time, so adding a benchmark
// never touches a central list (bench/README.md shows the whole recipe).
//
//   SPK_BENCH_ENTRIES(pool_entries) {
//     spk::bench::Entry e;
//     e.op = "max_pool2d(N=16,C=96,H=40,W=101,k=3x3,s=2x2)";
//     e.variant = "cpu fwd";
//     e.flops = 0; e.bytes = 4.0 * (in + out);                 // per run: GB/s from bytes, GFLOP/s from flops
//     e.setup = [] {                                            // runs only if the entry is selected
//       auto x = std::make_shared<std::vector<float>>(...);      // inputs live as long as the closure
//       return std::function<void()>([x] { ...one run... });     // the timed call
//     };
//     spk::bench::add(std::move(e));
//   }
//
// The runner warms each entry up, repeats it until the time budget is spent (at least 3 runs), and reports
// the median. An entry that `provides` a reference rate (the CPU sgemm entries provide "sgemm") publishes
// its GFLOP/s; entries that `compare_to` that key print their rate as a fraction of the best published one,
// and the runner runs the providers first even when --filter leaves them out.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spk::bench {

struct Entry {
  std::string op;           // op and parameters, e.g. "sgemm(M=N=K=1024)"
  std::string variant;      // implementation and pass, e.g. "cpu fwd+bwd"
  std::string device = "cpu";
  double flops = 0;         // per run; 0 when GFLOP/s means nothing for this op
  double bytes = 0;         // compulsory memory traffic per run; 0 when not meaningful
  std::string provides;     // reference-rate key this entry's GFLOP/s defines (max over its providers)
  std::string compare_to;   // reference-rate key to print a ratio against
  std::string note;         // appended to the line (e.g. "x6 in ResNetSE34L")
  // Allocates inputs and returns the timed closure, which must finish its work before it returns.
  std::function<std::function<void()>()> setup;

  std::string name() const { return op + " " + variant; }
};

void add(Entry e);
const std::vector<Entry>& entries();

// A suite measures with its own loop and prints its own lines, in units an Entry cannot express (hours of
// audio per second beside a bandwidth floor it measures in the same run, crops per second per core). It runs
// after the entries when --filter matches its name (or no filter is given) and appends its rows to --json.
struct Suite {
  std::string name;
  std::function<void(double budget_s, nlohmann::json& rows)> run;
};
void add_suite(Suite s);
const std::vector<Suite>& suites();

// Seconds on the clock --clock selects (wall, or process CPU time / threads): for suites that time themselves.
double now_s();

// n uniform floats in [-1, 1) from a fixed seed: timing inputs that are finite and not all equal.
std::vector<float> random_floats(size_t n, uint32_t seed = 1337);

}  // namespace spk::bench

#define SPK_BENCH_CAT2(a, b) a##b
#define SPK_BENCH_CAT(a, b) SPK_BENCH_CAT2(a, b)

// Defines a function that registers entries and runs it before main().
#define SPK_BENCH_ENTRIES(fn)                                                                 \
  static void fn();                                                                          \
  static const bool SPK_BENCH_CAT(spk_bench_registered_, fn) = (fn(), true);                 \
  static void fn()
