// Per-epoch CSV log (see epoch_log.h).
#include "apps/recipe/epoch_log.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "engine/check.h"

namespace spk::recipe {

namespace {

constexpr const char* kHeader =
    "epoch,steps,lr,loss,train_metric,train_metric_kind,samples_per_s,seconds,bad_files,vt_eer,interp_eer,min_dcf,"
    "min_dcf_p01,time";

std::string eval_field(const nlohmann::json& eval, const char* key) {
  if (!eval.is_object() || !eval.contains(key) || !eval[key].is_number()) return "";
  std::ostringstream s;
  s.precision(8);
  s << eval[key].get<double>();
  return s.str();
}

std::string now_iso() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

EpochLog::EpochLog(std::string path, int64_t keep_upto_epoch) : path_(std::move(path)) {
  std::vector<std::string> kept;
  if (std::ifstream in{path_}) {
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (first) {
        first = false;
        if (line != kHeader) SPK_FAIL("train log ", path_, ": unexpected header (not written by this spk version?)");
        continue;
      }
      if (line.empty()) continue;
      const long long e = std::atoll(line.c_str());
      if (e >= 1 && e <= keep_upto_epoch) kept.push_back(line);
    }
  }
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) SPK_FAIL("train log ", path_, ": cannot write ", tmp);
    out << kHeader << "\n";
    for (const auto& l : kept) out << l << "\n";
    if (!out.flush()) SPK_FAIL("train log ", path_, ": write failed: ", std::strerror(errno));
  }
  std::filesystem::rename(tmp, path_);
}

void EpochLog::append(const EpochSummary& s) {
  std::ofstream out(path_, std::ios::app);
  if (!out) SPK_FAIL("train log ", path_, ": cannot append");
  out.precision(8);
  const char* kind = s.metric_kind == MetricKind::accuracy ? "acc" : s.metric_kind == MetricKind::eer ? "eer" : "none";
  out << s.epoch << "," << s.steps << "," << s.lr << "," << s.loss << "," << s.metric << "," << kind << ","
      << s.samples_per_s << "," << s.seconds << "," << s.bad_files << "," << eval_field(s.eval, "vt_eer") << ","
      << eval_field(s.eval, "interp_eer") << "," << eval_field(s.eval, "min_dcf") << ","
      << eval_field(s.eval, "min_dcf_p01") << "," << now_iso() << "\n";
  if (!out.flush()) SPK_FAIL("train log ", path_, ": write failed: ", std::strerror(errno));
}

}  // namespace spk::recipe
