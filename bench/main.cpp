// spk_bench: runs the entries registered by bench/*.cpp (bench/bench.h) and prints one line per entry,
//   op(params) variant | time us | GFLOP/s | GB/s | device | commit [| ratio to a reference rate] [| note]
// with the time the median of repeated runs after a warm-up. --json PATH also writes every result with the
// device, date and commit. Usage: spk_bench [--filter SUBSTR]... [--budget SECONDS] [--threads N]
// [--json PATH] [--list] [--check_ops]. See bench/README.md.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.h"
#include "engine/cpu_threads.h"
#include "engine/op_table.h"

#include "bench_git_sha.h"   // SPK_BENCH_GIT_SHA, written at build time by bench/git_sha.cmake

namespace spk::bench {

static std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}
void add(Entry e) { registry().push_back(std::move(e)); }
const std::vector<Entry>& entries() { return registry(); }

static std::vector<Suite>& suite_registry() {
  static std::vector<Suite> r;
  return r;
}
void add_suite(Suite s) { suite_registry().push_back(std::move(s)); }
const std::vector<Suite>& suites() { return suite_registry(); }

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(gen);
  return v;
}

}  // namespace spk::bench

namespace {
bool g_cpu_clock = false;
}  // namespace

// Wall time, or with --clock cpu the process's CPU time divided by the thread count: on a machine shared
// with other jobs that estimates the time the run would take alone, as long as our threads do not spin.
double spk::bench::now_s() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec)) / spk::cpu_threads();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {
using spk::bench::now_s;

using spk::bench::Entry;

struct Options {
  std::vector<std::string> filters;
  std::string json_path;
  double budget_s = 0.3;
  int threads = 0;   // 0: leave the engine's (engine/cpu_threads.h) and OpenBLAS's defaults
  bool cpu_clock = false;
  bool list = false;
  bool check_ops = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--filter") o.filters.push_back(value());
    else if (a == "--json") o.json_path = value();
    else if (a == "--budget") o.budget_s = std::stod(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--list") o.list = true;
    else if (a == "--check_ops") o.check_ops = true;
    else if (a == "--clock") {
      const std::string c = value();
      if (c != "wall" && c != "cpu") throw std::runtime_error("--clock takes wall or cpu");
      o.cpu_clock = c == "cpu";
    }
    else if (a == "--help" || a == "-h") {
      std::printf("usage: spk_bench [--filter SUBSTR]... [--budget SECONDS (0.3)] [--threads N] [--clock wall|cpu]\n"
                  "                 [--json PATH] [--list] [--check_ops]\n");
      std::exit(0);
    } else throw std::runtime_error("unknown argument " + a + " (try --help)");
  }
  if (!(o.budget_s > 0)) throw std::runtime_error("--budget must be positive");
  return o;
}

struct Timing {
  double median_s = 0, min_s = 0;
  int reps = 0;
};

// Warm up for ~10% of the budget (at least one run), then time single runs until the budget is spent and
// at least three were taken; the median resists the other tenants of a shared machine.
Timing time_runs(const std::function<void()>& run, double budget_s) {
  const double w0 = now_s();
  int warm = 0;
  do { run(); ++warm; } while (now_s() - w0 < 0.1 * budget_s && warm < 1000);
  std::vector<double> ts;
  const double start = now_s();
  while (ts.size() < 3 || (now_s() - start < budget_s && ts.size() < 1000000)) {
    const double a = now_s();
    run();
    ts.push_back(now_s() - a);
  }
  std::sort(ts.begin(), ts.end());
  Timing t;
  t.reps = int(ts.size());
  t.min_s = ts.front();
  t.median_s = ts.size() % 2 ? ts[ts.size() / 2] : 0.5 * (ts[ts.size() / 2 - 1] + ts[ts.size() / 2]);
  return t;
}

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      std::string s = p == std::string::npos ? line : line.substr(p + 1);
      s.erase(0, s.find_first_not_of(' '));
      return s;
    }
  return "unknown cpu";
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bool selected(const std::string& name, const Options& o) {
  if (o.filters.empty()) return true;
  for (const auto& f : o.filters)
    if (name.find(f) != std::string::npos) return true;
  return false;
}
bool selected(const Entry& e, const Options& o) { return selected(e.name(), o); }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// --check_ops: every row of engine/ops.def that names a bench entry (the `bench` column) must find it
// registered: an entry whose op is "<bench>(...)" or a suite named <bench>. A suite named *_cuda lives in a
// bench/*_cuda.cpp file, which only CUDA builds compile: a CPU-only build reports it as not built rather than
// missing. Returns the number of rows whose entry is missing; each is named on stderr.
int check_ops() {
  int missing = 0, checked = 0;
  for (int i = 0; i < spk::kOpCount; ++i) {
    const spk::OpInfo& op = spk::kOpTable[i];
    if (!op.is_benched()) continue;
    ++checked;
    const std::string key = op.bench;
    bool found = false;
    for (const auto& e : spk::bench::entries()) found = found || e.op.rfind(key + "(", 0) == 0;
    for (const auto& su : spk::bench::suites()) found = found || su.name == key;
    const bool cuda_only = key.size() > 5 && key.compare(key.size() - 5, 5, "_cuda") == 0;
    if (found) {
      std::printf("ok           %-20s bench %s\n", op.name, key.c_str());
    } else if (cuda_only && !SPK_HAVE_CUDA) {
      std::printf("not built    %-20s bench %s: a CUDA-only suite, absent from this CPU-only build\n", op.name,
                  key.c_str());
    } else {
      std::fprintf(stderr, "missing      %-20s bench %s: no entry \"%s(...)\" and no suite \"%s\" is registered\n",
                   op.name, key.c_str(), key.c_str(), key.c_str());
      ++missing;
    }
  }
  std::printf("spk_bench --check_ops: %d ops name a bench entry, %d missing\n", checked, missing);
  return missing;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options opt = parse(argc, argv);
    g_cpu_clock = opt.cpu_clock;
    if (opt.threads > 0) spk::set_cpu_threads(opt.threads);   // OpenBLAS runs on one thread (kernels/gemm/gemm.h)
    if (opt.check_ops) return check_ops() == 0 ? 0 : 1;
    const auto& all = spk::bench::entries();
    if (opt.list) {
      for (const auto& e : all) std::printf("%s\n", e.name().c_str());
      for (const auto& su : spk::bench::suites()) std::printf("%s (suite)\n", su.name.c_str());
      return 0;
    }
    // Selected entries, with the providers of any reference they compare to run first.
    std::vector<const Entry*> run;
    for (const auto& e : all)
      if (!e.provides.empty()) {
        bool needed = selected(e, opt);
        for (const auto& f : all) needed = needed || (selected(f, opt) && f.compare_to == e.provides);
        if (needed) run.push_back(&e);
      }
    for (const auto& e : all)
      if (e.provides.empty() && selected(e, opt)) run.push_back(&e);
    std::vector<const spk::bench::Suite*> run_suites;
    for (const auto& su : spk::bench::suites())
      if (selected(su.name, opt)) run_suites.push_back(&su);
    if (run.empty() && run_suites.empty()) {
      std::fprintf(stderr, "spk_bench: no entry matches the filter (try --list)\n");
      return 1;
    }

    const int threads = spk::cpu_threads();
    const std::string cpu = cpu_name();
    const std::string device = "cpu " + cpu + " x" + std::to_string(threads);
    const std::string commit = SPK_BENCH_GIT_SHA;
    size_t width = 0;
    for (const Entry* e : run) width = std::max(width, e->name().size());
    std::printf("# spk_bench  %s  commit %s  %s  OpenBLAS %s  budget %.2f s/entry  %s clock\n", utc_now().c_str(),
                commit.c_str(), device.c_str(), openblas_get_corename(), opt.budget_s, opt.cpu_clock ? "cpu" : "wall");

    std::map<std::string, double> reference;   // key -> best GFLOP/s published so far
    nlohmann::json results = nlohmann::json::array();
    for (const Entry* e : run) {
      std::function<void()> fn = e->setup();
      Timing t = time_runs(fn, opt.budget_s);
      const double gflops = e->flops > 0 ? e->flops / t.median_s * 1e-9 : 0;
      const double gbs = e->bytes > 0 ? e->bytes / t.median_s * 1e-9 : 0;
      if (!e->provides.empty()) reference[e->provides] = std::max(reference[e->provides], gflops);
      double ratio = 0;
      if (!e->compare_to.empty() && reference.count(e->compare_to) && reference[e->compare_to] > 0)
        ratio = gflops / reference[e->compare_to];
      const std::string dev = e->device == "cpu" ? device : e->device;
      std::string line = e->name();
      line.resize(width, ' ');
      line += " | " + fmt("%10.1f us", t.median_s * 1e6) + " | " +
              (gflops > 0 ? fmt("%7.1f GFLOP/s", gflops) : std::string("      - GFLOP/s")) + " | " +
              (gbs > 0 ? fmt("%6.1f GB/s", gbs) : std::string("     - GB/s")) + " | " + dev + " | " + commit;
      if (ratio > 0) line += " | " + fmt("%.2fx ", ratio) + e->compare_to;
      if (!e->note.empty()) line += " | " + e->note;
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      nlohmann::json r = {{"op", e->op}, {"variant", e->variant}, {"device", dev}, {"time_us", t.median_s * 1e6},
                          {"min_time_us", t.min_s * 1e6}, {"reps", t.reps}, {"flops", e->flops}, {"bytes", e->bytes},
                          {"gflops", gflops}, {"gbs", gbs}, {"note", e->note}};
      if (!e->provides.empty()) r["provides"] = e->provides;
      if (ratio > 0) { r["compare_to"] = e->compare_to; r["ratio"] = ratio; }
      results.push_back(r);
    }
    for (const auto* su : run_suites) {
      nlohmann::json rows = nlohmann::json::array();
      su->run(opt.budget_s, rows);
      for (auto& r : rows) { r["suite"] = su->name; results.push_back(r); }
    }

    if (!opt.json_path.empty()) {
      nlohmann::json doc = {{"tool", "spk_bench"},          {"date", utc_now()},
                            {"commit", commit},             {"device", device},
                            {"cpu", cpu},                   {"threads", threads},
                            {"blas", openblas_get_config()}, {"budget_s", opt.budget_s},
                            {"clock", opt.cpu_clock ? "cpu" : "wall"},
                            {"reference_gflops", reference}, {"results", results}};
      std::ofstream out(opt.json_path);
      if (!out) throw std::runtime_error("cannot write " + opt.json_path);
      out << doc.dump(2) << "\n";
    }
    return 0;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "spk_bench: %s\n", ex.what());
    return 1;
  }
}
