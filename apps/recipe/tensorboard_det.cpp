// DET curve raster (tensorboard_det.h): lines drawn by stepping at most half a pixel at a time, 2 pixels wide.
#include "apps/recipe/tensorboard_det.h"

#include <algorithm>
#include <cmath>

#include "apps/recipe/png.h"
#include "engine/check.h"

namespace spk::recipe {

namespace {

struct Rgb {
  uint8_t r, g, b;
};

struct Canvas {
  int n;
  std::vector<uint8_t> px;
  explicit Canvas(int size) : n(size), px(size_t(size) * size * 3, 255) {}
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= n || y >= n) return;
    uint8_t* p = &px[(size_t(y) * n + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  // From (x0, y0) to (x1, y1); `dash` > 0: on and off every dash pixels; width 1 or 2.
  void line(double x0, double y0, double x1, double y1, Rgb c, int width = 1, int dash = 0) {
    const double len = std::hypot(x1 - x0, y1 - y0);
    const int steps = std::max(1, int(std::ceil(len * 2)));
    for (int i = 0; i <= steps; ++i) {
      const double t = double(i) / steps;
      if (dash > 0 && int(t * len / dash) % 2 == 1) continue;
      const int x = int(std::lround(x0 + t * (x1 - x0))), y = int(std::lround(y0 + t * (y1 - y0)));
      for (int dx = 0; dx < width; ++dx)
        for (int dy = 0; dy < width; ++dy) set(x + dx, y + dy, c);
    }
  }
};

}  // namespace

std::string det_png(const std::vector<DetPoint>& points, double eer_percent, int size) {
  SPK_CHECK(size >= 64, "det_png: size ", size, " is under 64 pixels");
  Canvas cv(size);
  const double m = std::round(size * 0.06);   // margin around the plot area
  const double lo = m, hi = size - 1 - m;
  const double umin = probit(0.0005), umax = probit(0.5);
  auto px = [&](double u) { return lo + (std::clamp(u, umin - 1, umax + 1) - umin) / (umax - umin) * (hi - lo); };
  auto py = [&](double v) { return hi - (std::clamp(v, umin - 1, umax + 1) - umin) / (umax - umin) * (hi - lo); };
  for (double t : {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0}) {
    const double u = probit(t / 100);
    const Rgb c = (t == 1.0 || t == 10.0) ? Rgb{170, 170, 170} : Rgb{220, 220, 220};
    cv.line(px(u), lo, px(u), hi, c);
    cv.line(lo, py(u), hi, py(u), c);
  }
  cv.line(px(umin), py(umin), px(umax), py(umax), {140, 140, 140}, 1, 4);
  // The curve, clipped to the plot area: points beyond it are pulled one deviate outside and the frame drawn over.
  for (size_t i = 1; i < points.size(); ++i) {
    const double x0 = px(points[i - 1].x), y0 = py(points[i - 1].y), x1 = px(points[i].x), y1 = py(points[i].y);
    const double len = std::hypot(x1 - x0, y1 - y0);
    const int steps = std::max(1, int(std::ceil(len * 2)));
    for (int k = 0; k <= steps; ++k) {
      const double x = x0 + (x1 - x0) * k / steps, y = y0 + (y1 - y0) * k / steps;
      if (x >= lo && x <= hi - 1 && y >= lo && y <= hi - 1) cv.line(x, y, x, y, {31, 119, 180}, 2);
    }
  }
  if (eer_percent > 0 && eer_percent < 100) {
    const double u = probit(eer_percent / 100);
    if (u >= umin && u <= umax) {
      const double x = px(u), y = py(u);
      for (double d : {-4.0, 4.0}) {
        cv.line(x - 4, y + d, x + 4, y + d, {214, 39, 40}, 2);
        cv.line(x + d, y - 4, x + d, y + 4, {214, 39, 40}, 2);
      }
    }
  }
  cv.line(lo, lo, hi, lo, {0, 0, 0});
  cv.line(hi, lo, hi, hi, {0, 0, 0});
  cv.line(hi, hi, lo, hi, {0, 0, 0});
  cv.line(lo, hi, lo, lo, {0, 0, 0});
  return encode_png_rgb(size, size, cv.px);
}

}  // namespace spk::recipe
