// A one-line progress display for long loops: on a terminal the line is redrawn in place (at most ~10 times a
// second); otherwise (a log file, CI) a line is printed every `interval_s` seconds and at the end, so logs
// stay short.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace spk::recipe {

class ProgressLine {
 public:
  explicit ProgressLine(std::FILE* out = stderr, double interval_s = 30);
  // Shows `text`; `last` forces it out and ends the line.
  void update(const std::string& text, bool last = false);
  // Ends a redrawn line before other output.
  void finish();

 private:
  std::FILE* out_;
  bool tty_;
  double interval_s_;
  bool open_ = false;
  size_t width_ = 0;
  std::chrono::steady_clock::time_point last_{};
  bool shown_ = false;
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace spk::recipe
