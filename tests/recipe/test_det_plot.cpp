// DET plot SVG: structure, ticks within the limits, the EER mark where probit puts it, escaping, thinning of
// long curves, file writing and option errors.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "apps/recipe/det_plot.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;

namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Two overlapping Gaussian classes with n trials, 10 % targets.
void synthetic(int64_t n, std::vector<double>& s, std::vector<int>& l) {
  Rng rng(17);
  const std::vector<double> z = Tensor::normal({n}, rng, 0, 1, DType::f64).to_double();
  for (int64_t i = 0; i < n; ++i) {
    l.push_back(i % 10 == 0);
    s.push_back(z[size_t(i)] + (l.back() ? 2.5 : 0.0));
  }
}

}  // namespace

TEST_CASE("det_svg: axes, ticks inside the limits, the diagonal, one curve and one EER mark per series") {
  std::vector<double> s;
  std::vector<int> l;
  synthetic(2000, s, l);
  const double eer = interpolated_eer(s, l).eer;
  DetPlotOptions o;
  o.title = "vox1-O <cleaned> & more";
  const std::string svg = det_svg({{"ResNetSE34L", det_curve(s, l), eer}}, o);
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(svg.size() - svg.rfind("</svg>\n") == 7);
  CHECK(svg.find("<title>vox1-O &lt;cleaned&gt; &amp; more</title>") != std::string::npos);
  for (const char* t : {">0.1<", ">0.2<", ">0.5<", ">1<", ">2<", ">5<", ">10<", ">20<", ">40<"})
    CHECK_MESSAGE(count(svg, t) == 2, t);   // once per axis
  CHECK(count(svg, "<polyline") == 1);
  CHECK(count(svg, "stroke-dasharray") == 1);
  CHECK(svg.find("False alarm rate (%)") != std::string::npos);
  CHECK(svg.find("Miss rate (%)") != std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  // The EER circle: default limits 0.05 %..50 %, plot x from 70 to 540 px, y from 505 up to 40 px.
  const double umin = probit(0.0005), umax = probit(0.5);
  const double u = probit(eer / 100);
  const double cx = 70 + (u - umin) / (umax - umin) * 470, cy = 505 - (u - umin) / (umax - umin) * 465;
  char want[96];
  std::snprintf(want, sizeof(want), "<circle class=\"eer\" cx=\"%.2f\" cy=\"%.2f\"", cx, cy);
  CHECK_MESSAGE(svg.find(want) != std::string::npos, want);
  CHECK(svg.find("ResNetSE34L (EER ") != std::string::npos);
}

TEST_CASE("det_svg: narrower limits drop the outside ticks; two series get two colours; no EER mark when absent") {
  std::vector<double> s;
  std::vector<int> l;
  synthetic(500, s, l);
  DetPlotOptions o;
  o.min_percent = 1;
  o.max_percent = 20;
  const std::string svg = det_svg({{"a", det_curve(s, l), 7.5}, {"b", det_curve(s, l), -1}}, o);
  CHECK(count(svg, ">0.5<") == 0);
  CHECK(count(svg, ">40<") == 0);
  CHECK(count(svg, ">1<") == 2);
  CHECK(count(svg, ">20<") == 2);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, "<circle") == 1);
  CHECK(svg.find("#1f77b4") != std::string::npos);
  CHECK(svg.find("#d62728") != std::string::npos);
}

TEST_CASE("det_svg thins a long curve to about a point per pixel") {
  std::vector<double> s;
  std::vector<int> l;
  synthetic(200000, s, l);
  std::vector<DetPoint> d = det_curve(s, l);
  CHECK(d.size() > 100000);
  const std::string svg = det_svg({{"long", d, -1}});
  const size_t a = svg.find("<polyline"), b = svg.find("/>", a);
  const size_t points = count(svg.substr(a, b - a), ",");
  CHECK(points < 3000);
  CHECK(points > 100);
  CHECK(svg.size() < 100000);
}

TEST_CASE("write_det_svg writes the same text; option and file errors") {
  using doctest::Contains;
  std::vector<double> s;
  std::vector<int> l;
  synthetic(300, s, l);
  std::vector<DetSeries> series{{"x", det_curve(s, l), 10}};
  const std::string path =
      (std::filesystem::temp_directory_path() / ("spk_test_det_" + std::to_string(::getpid()) + ".svg")).string();
  write_det_svg(path, series);
  std::ifstream f(path, std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(f), {}) == det_svg(series));
  std::filesystem::remove(path);
  CHECK_THROWS_WITH_AS(write_det_svg("/nonexistent-dir/det.svg", series), Contains("cannot open /nonexistent-dir/det.svg"),
                       Error);
  DetPlotOptions bad;
  bad.min_percent = 30;
  bad.max_percent = 20;
  CHECK_THROWS_WITH_AS(det_svg(series, bad), Contains("must satisfy 0 < min < max < 100"), Error);
  bad = {};
  bad.width = 50;
  CHECK_THROWS_WITH_AS(det_svg(series, bad), Contains("smaller than 200x200"), Error);
}
