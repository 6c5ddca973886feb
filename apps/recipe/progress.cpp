// Progress line (see progress.h).
#include "apps/recipe/progress.h"

#include <unistd.h>

namespace spk::recipe {

ProgressLine::ProgressLine(std::FILE* out, double interval_s)
    : out_(out), tty_(isatty(fileno(out)) != 0), interval_s_(interval_s) {}

void ProgressLine::update(const std::string& text, bool last) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (tty_) {
    if (!last && shown_ && since < 0.1) return;
    std::string line = "\r" + text;
    if (text.size() < width_) line += std::string(width_ - text.size(), ' ');
    width_ = text.size();
    std::fputs(line.c_str(), out_);
    open_ = true;
    if (last) finish();
  } else {
    if (!last && shown_ && since < interval_s_) return;
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
  shown_ = true;
  last_ = now;
}

void ProgressLine::finish() {
  if (tty_ && open_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  open_ = false;
  width_ = 0;
}

std::string format_duration(double s) {
  if (!(s >= 0)) return "?";
  const long long t = static_cast<long long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%llds", t);
  return buf;
}

}  // namespace spk::recipe
