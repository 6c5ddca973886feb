// SPK_FAULT: parsing, hit counting and the kill / throw actions (see fault.h).
#include "engine/fault.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "engine/check.h"

namespace spk::fault {

namespace {

constexpr int kPoints = int(Point::count);

struct PointInfo {
  const char* name;
  bool can_fail;   // whether `fail` means something there
};
constexpr std::array<PointInfo, kPoints> kInfo = {{
    {"atomic.write", true},
    {"atomic.fsync", true},
    {"atomic.rename", true},
    {"atomic.dir_fsync", true},
    {"atomic.committed", false},
    {"alloc", true},
    {"train.loss", true},
    {"train.grad", true},
    {"train.step", false},
    {"dist.init", true},
    {"dist.collective", true},
}};

std::string point_list() {
  std::string s;
  for (const auto& p : kInfo) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

struct State {
  std::vector<Rule> rules;
  std::array<std::atomic<bool>, kPoints> armed{};
  std::array<std::atomic<uint64_t>, kPoints> hits{};
};

State& state() {
  static State s;
  return s;
}

void install(std::vector<Rule> rules) {
  State& s = state();
  for (int i = 0; i < kPoints; ++i) {
    s.armed[size_t(i)].store(false, std::memory_order_relaxed);
    s.hits[size_t(i)].store(0, std::memory_order_relaxed);
  }
  s.rules = std::move(rules);
  for (const Rule& r : s.rules) s.armed[size_t(r.point)].store(true, std::memory_order_release);
}

std::atomic<bool> g_loaded{false};
std::once_flag g_env_once;

// Reads SPK_FAULT once. A parse error leaves the flag unset, so every later hit reports it again.
void load_env() {
  std::call_once(g_env_once, [] {
    const char* v = std::getenv("SPK_FAULT");
    const std::string spec = v ? v : "";
    install(parse(spec));
    if (!spec.empty())
      std::fprintf(stderr, "spk: SPK_FAULT=%s is set: faults will be injected (docs/reliability.md)\n", spec.c_str());
  });
  g_loaded.store(true, std::memory_order_release);
}

bool parse_count(const std::string& text, uint64_t& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 1;
}

[[noreturn]] void bad_rule(const std::string& spec, const std::string& item, const std::string& what) {
  throw Error("SPK_FAULT='" + spec + "': rule '" + item + "': " + what +
              " (expected <point>:<kill|throw|fail>[@N|@N-M|@N+]; see docs/reliability.md)");
}

Rule parse_rule(const std::string& spec, const std::string& item) {
  auto fail = [&](const std::string& what) { bad_rule(spec, item, what); };
  const size_t colon = item.find(':');
  if (colon == std::string::npos) fail("no ':' between point and action");
  const std::string point = item.substr(0, colon);
  const size_t at = item.find('@', colon);
  const std::string action = item.substr(colon + 1, at == std::string::npos ? std::string::npos : at - colon - 1);
  Rule r;
  int pi = 0;
  while (pi < kPoints && point != kInfo[size_t(pi)].name) ++pi;
  if (pi == kPoints) fail("unknown point '" + point + "' (points: " + point_list() + ")");
  r.point = Point(pi);
  if (action == "kill") r.action = Action::kill;
  else if (action == "throw") r.action = Action::throw_error;
  else if (action == "fail") r.action = Action::fail;
  else fail("unknown action '" + action + "' (kill, throw, fail)");
  if (r.action == Action::fail && !kInfo[size_t(pi)].can_fail)
    fail("point " + point + " has no failure to simulate (use kill or throw)");
  if (at == std::string::npos) return r;
  std::string range = item.substr(at + 1);
  const std::string bad_range = "hit range '@" + range + "' is not N, N-M or N+ with 1 <= N <= M";
  if (!range.empty() && range.back() == '+') {
    if (!parse_count(range.substr(0, range.size() - 1), r.first)) fail(bad_range);
    return r;
  }
  const size_t dash = range.find('-');
  if (dash == std::string::npos) {
    if (!parse_count(range, r.first)) fail(bad_range);
    r.last = r.first;
    return r;
  }
  if (!parse_count(range.substr(0, dash), r.first) || !parse_count(range.substr(dash + 1), r.last) ||
      r.last < r.first)
    fail(bad_range);
  return r;
}

[[noreturn]] void act(const Rule& r, uint64_t n) {
  const char* name = kInfo[size_t(r.point)].name;
  if (r.action == Action::kill) {
    std::fprintf(stderr, "spk: SPK_FAULT: kill at %s (hit %llu)\n", name, static_cast<unsigned long long>(n));
    std::fflush(stderr);
    ::kill(::getpid(), SIGKILL);
    std::abort();   // not reached: SIGKILL cannot be caught
  }
  std::fprintf(stderr, "spk: SPK_FAULT: throw at %s (hit %llu)\n", name, static_cast<unsigned long long>(n));
  throw Error("SPK_FAULT: injected error at " + std::string(name) + " (hit " + std::to_string(n) + ")");
}

}  // namespace

const char* point_name(Point p) { return kInfo[size_t(p)].name; }

std::vector<Rule> parse(const std::string& spec) {
  std::vector<Rule> rules;
  if (spec.empty()) return rules;
  size_t start = 0;
  while (true) {
    const size_t comma = spec.find(',', start);
    const std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw Error("SPK_FAULT='" + spec + "': an empty rule (a stray comma?)");
    rules.push_back(parse_rule(spec, item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return rules;
}

void check_env() {
  if (!g_loaded.load(std::memory_order_acquire)) load_env();
}

bool armed(Point p) {
  if (!g_loaded.load(std::memory_order_acquire)) load_env();
  return state().armed[size_t(p)].load(std::memory_order_relaxed);
}

bool hit(Point p) {
  if (!g_loaded.load(std::memory_order_acquire)) load_env();
  State& s = state();
  if (!s.armed[size_t(p)].load(std::memory_order_relaxed)) return false;
  const uint64_t n = s.hits[size_t(p)].fetch_add(1, std::memory_order_relaxed) + 1;
  for (const Rule& r : s.rules) {
    if (r.point != p || n < r.first || n > r.last) continue;
    if (r.action != Action::fail) act(r, n);
    std::fprintf(stderr, "spk: SPK_FAULT: fail at %s (hit %llu)\n", point_name(p), static_cast<unsigned long long>(n));
    return true;
  }
  return false;
}

ScopedFaults::ScopedFaults(const std::string& spec) {
  check_env();
  install(parse(spec));
}

ScopedFaults::~ScopedFaults() {
  const char* v = std::getenv("SPK_FAULT");
  try {
    install(parse(v ? v : ""));
  } catch (const std::exception&) {
    install({});   // it parsed at start-up, so this cannot happen; destructors only print or recover
  }
}

}  // namespace spk::fault
