// DET plot writer: maps (p_fa, p_miss) through probit onto a square plot area and emits plain SVG 1.1.
// Numbers go through std::to_chars so the output does not depend on the C locale's decimal separator.
#include "apps/recipe/det_plot.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/check.h"

namespace spk::recipe {

namespace {

// Fixed-point with `decimals` digits, '.' as separator whatever the locale.
std::string num(double v, int decimals = 2) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, decimals);
  return std::string(buf, r.ptr);
}

// Shortest text of a tick value: 0.1, 0.2, 0.5, 1, 2, ..., 40.
std::string tick_text(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

// The plot area in pixels and the probit range of the axes: where a (p_fa, p_miss) deviate pair lands.
struct DetFrame {
  double x0, x1, y0, y1;   // the plot area
  double umin, umax;       // probit(min_percent / 100), probit(max_percent / 100)
  explicit DetFrame(const DetPlotOptions& o) {
    const double left = 70, right = 20, top = 40, bottom = 55;
    x0 = left, x1 = o.width - right, y0 = top, y1 = o.height - bottom;
    umin = probit(o.min_percent / 100), umax = probit(o.max_percent / 100);
  }
  double px(double u) const { return x0 + (u - umin) / (umax - umin) * (x1 - x0); }
  double py(double v) const { return y1 - (v - umin) / (umax - umin) * (y1 - y0); }
  // Infinite deviates (rates 0 and 1) and far-out points are pulled just outside the clip rectangle.
  double clampdev(double u) const { return std::clamp(u, umin - 1.0, umax + 1.0); }
};

void write_header(std::ostringstream& s, const DetFrame& f, const DetPlotOptions& o) {
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << o.width << "\" height=\"" << o.height
    << "\" viewBox=\"0 0 " << o.width << " " << o.height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<title>" << xml_escape(o.title) << "</title>\n"
    << "<defs><clipPath id=\"plot-area\"><rect x=\"" << num(f.x0) << "\" y=\"" << num(f.y0) << "\" width=\""
    << num(f.x1 - f.x0) << "\" height=\"" << num(f.y1 - f.y0) << "\"/></clipPath></defs>\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << num((f.x0 + f.x1) / 2) << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
    << xml_escape(o.title) << "</text>\n";
}

// Grid lines and tick labels at the standard rates inside the limits, the axis titles, the frame and the
// p_miss = p_fa (EER) diagonal.
void write_axes(std::ostringstream& s, const DetFrame& f, const DetPlotOptions& o) {
  s << "<g stroke=\"#d0d0d0\" stroke-width=\"1\">\n";
  std::vector<double> ticks;
  for (double t : {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0})
    if (t >= o.min_percent && t <= o.max_percent) ticks.push_back(t);
  for (double t : ticks) {
    const double u = probit(t / 100);
    s << "<line x1=\"" << num(f.px(u)) << "\" y1=\"" << num(f.y0) << "\" x2=\"" << num(f.px(u)) << "\" y2=\""
      << num(f.y1) << "\"/>\n<line x1=\"" << num(f.x0) << "\" y1=\"" << num(f.py(u)) << "\" x2=\"" << num(f.x1)
      << "\" y2=\"" << num(f.py(u)) << "\"/>\n";
  }
  s << "</g>\n<g fill=\"black\">\n";
  for (double t : ticks) {
    const double u = probit(t / 100);
    s << "<text x=\"" << num(f.px(u)) << "\" y=\"" << num(f.y1 + 16) << "\" text-anchor=\"middle\">" << tick_text(t)
      << "</text>\n<text x=\"" << num(f.x0 - 6) << "\" y=\"" << num(f.py(u) + 4) << "\" text-anchor=\"end\">"
      << tick_text(t) << "</text>\n";
  }
  s << "<text x=\"" << num((f.x0 + f.x1) / 2) << "\" y=\"" << num(f.y1 + 38)
    << "\" text-anchor=\"middle\">False alarm rate (%)</text>\n"
    << "<text transform=\"translate(" << num(f.x0 - 44) << " " << num((f.y0 + f.y1) / 2)
    << ") rotate(-90)\" text-anchor=\"middle\">Miss rate (%)</text>\n</g>\n";
  s << "<rect x=\"" << num(f.x0) << "\" y=\"" << num(f.y0) << "\" width=\"" << num(f.x1 - f.x0) << "\" height=\""
    << num(f.y1 - f.y0) << "\" fill=\"none\" stroke=\"black\"/>\n";
  s << "<line x1=\"" << num(f.px(f.umin)) << "\" y1=\"" << num(f.py(f.umin)) << "\" x2=\"" << num(f.px(f.umax))
    << "\" y2=\"" << num(f.py(f.umax)) << "\" stroke=\"#909090\" stroke-dasharray=\"4 4\"/>\n";
}

// Curves, thinned to points at least half a pixel apart (the last point is always kept).
void write_curves(std::ostringstream& s, const DetFrame& f, const std::vector<DetSeries>& series) {
  s << "<g clip-path=\"url(#plot-area)\" fill=\"none\" stroke-width=\"1.6\">\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& pts = series[k].points;
    if (pts.empty()) continue;
    s << "<polyline class=\"det\" stroke=\"" << kColours[k % 8] << "\" points=\"";
    double lx = 0, ly = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      const double X = f.px(f.clampdev(pts[i].x)), Y = f.py(f.clampdev(pts[i].y));
      if (i > 0 && i + 1 < pts.size() && std::fabs(X - lx) < 0.5 && std::fabs(Y - ly) < 0.5) continue;
      s << (i ? " " : "") << num(X) << "," << num(Y);
      lx = X;
      ly = Y;
    }
    s << "\"/>\n";
  }
  s << "</g>\n";
}

// EER markers and the legend.
void write_eer_marks_and_legend(std::ostringstream& s, const DetFrame& f, const std::vector<DetSeries>& series) {
  for (size_t k = 0; k < series.size(); ++k) {
    const double eer = series[k].eer_percent;
    if (!(eer > 0 && eer < 100)) continue;
    const double u = probit(eer / 100);
    if (u < f.umin || u > f.umax) continue;
    s << "<circle class=\"eer\" cx=\"" << num(f.px(u)) << "\" cy=\"" << num(f.py(u))
      << "\" r=\"4\" fill=\"none\" stroke=\"" << kColours[k % 8] << "\" stroke-width=\"1.6\"/>\n";
  }
  double ly = f.y0 + 16;
  for (size_t k = 0; k < series.size(); ++k, ly += 16) {
    std::string text = series[k].label;
    if (series[k].eer_percent >= 0) text += " (EER " + num(series[k].eer_percent, 3) + " %)";
    // Right-aligned against the colour swatch, so a long label grows into the plot, never off the image.
    s << "<line x1=\"" << num(f.x1 - 30) << "\" y1=\"" << num(ly - 4) << "\" x2=\"" << num(f.x1 - 10) << "\" y2=\""
      << num(ly - 4) << "\" stroke=\"" << kColours[k % 8] << "\" stroke-width=\"2\"/>\n"
      << "<text x=\"" << num(f.x1 - 35) << "\" y=\"" << num(ly) << "\" text-anchor=\"end\">" << xml_escape(text)
      << "</text>\n";
  }
}

}  // namespace

std::string det_svg(const std::vector<DetSeries>& series, const DetPlotOptions& o) {
  SPK_CHECK(o.min_percent > 0 && o.max_percent < 100 && o.min_percent < o.max_percent, "det_svg: axis limits ",
            o.min_percent, " % .. ", o.max_percent, " % must satisfy 0 < min < max < 100");
  SPK_CHECK(o.width >= 200 && o.height >= 200, "det_svg: image ", o.width, "x", o.height, " is smaller than 200x200");
  const DetFrame frame(o);
  std::ostringstream s;
  write_header(s, frame, o);
  write_axes(s, frame, o);
  write_curves(s, frame, series);
  write_eer_marks_and_legend(s, frame, series);
  s << "</svg>\n";
  return s.str();
}

void write_det_svg(const std::string& path, const std::vector<DetSeries>& series, const DetPlotOptions& options) {
  const std::string text = det_svg(series, options);
  std::ofstream f(path, std::ios::binary);
  SPK_CHECK(f.good(), "write_det_svg: cannot open ", path, " for writing");
  f << text;
  f.close();
  SPK_CHECK(!f.fail(), "write_det_svg: writing ", path, " failed");
}

}  // namespace spk::recipe
