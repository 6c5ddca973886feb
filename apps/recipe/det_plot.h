// A DET plot as a self-contained SVG file (no fonts, scripts or external references beyond generic families).
//
// Both axes are normal-deviate (probit) scaled and labelled in percent: false-alarm rate on x, miss rate on y,
// ticks at the customary 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40 % (those inside the limits). The p_miss = p_fa
// diagonal is dashed, each curve's EER is marked with a circle on it, and curves are clipped to the plot area
// (a rate of 0 or 1 is an infinite deviate). Points closer than half a pixel to the previous drawn one are
// skipped, so a 580k-trial list still gives a file of a few hundred kilobytes at most.
#pragma once
#include <string>
#include <vector>

#include "losses/verification.h"

namespace spk::recipe {

struct DetSeries {
  std::string label;              // legend text (escaped for XML)
  std::vector<DetPoint> points;   // from det_curve()
  double eer_percent = -1;        // marked on the diagonal; < 0: no mark
};

struct DetPlotOptions {
  std::string title = "DET curve";
  double min_percent = 0.05;      // axis limits (both axes), 0 < min < max < 100
  double max_percent = 50;
  int width = 560, height = 560;  // whole image, pixels
};

std::string det_svg(const std::vector<DetSeries>& series, const DetPlotOptions& options = {});
// Writes det_svg(...) to path; errors name the file.
void write_det_svg(const std::string& path, const std::vector<DetSeries>& series, const DetPlotOptions& options = {});

}  // namespace spk::recipe
