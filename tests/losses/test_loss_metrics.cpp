// Training metrics (top-1 accuracy, voxceleb_trainer's EER) and the one-hot / mask building blocks.
#include <cmath>
#include <limits>

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"
#include "ref.h"

using namespace spk;

TEST_CASE("vt_eer: sklearn roc_curve with drop_intermediate, nearest point, no interpolation") {
  // Separable: 0 %.
  CHECK(vt_eer({0.9, 0.8, 0.7, 0.1, 0.2, 0.3}, {1, 1, 1, 0, 0, 0}).eer == 0.0);
  // The full ROC passes through (fpr 0.5, fnr 0.5), but that point lies inside a vertical segment and
  // drop_intermediate removes it; the nearest remaining point is (0.5, 1.0): EER 100, not 50 (worked by hand,
  // and what sklearn 1.9 + tuneThresholdfromScore print).
  CHECK(vt_eer({8, 7, 6, 5, 4, 3, 2, 1}, {0, 0, 1, 1, 1, 1, 0, 0}).eer == doctest::Approx(100.0));
  // A crossing at a kept corner: (fpr 0.75, fnr 0.75).
  CHECK(vt_eer({8, 7, 6, 5, 4, 3, 2, 1}, {1, 0, 0, 0, 1, 1, 1, 0}).eer == doctest::Approx(75.0));
  // Tied scores form one ROC point; the floating-point tie |2/3 − 1/3| vs |0 − 1/3| goes to the second (sklearn: 33.3).
  CHECK(vt_eer({3, 3, 2, 2, 1, 1}, {1, 0, 1, 1, 0, 0}).eer == doctest::Approx(100.0 / 3));
  CHECK_THROWS_WITH_AS(vt_eer({1, 2}, {1, 1}), doctest::Contains("no non-target trials"), Error);
}

TEST_CASE("top1_accuracy: argmax vs labels in percent, first maximum on ties") {
  Tensor z = Tensor::from_vector(std::vector<double>{1, 3, 2, 5, 5, 0, 0, 0, -1}, {3, 3}, DType::f64);
  CHECK(top1_accuracy(z, ref::labels({1, 0, 2})) == doctest::Approx(200.0 / 3));
  CHECK(top1_accuracy(z, ref::labels({1, 1, 0})) == doctest::Approx(200.0 / 3));
}

TEST_CASE("one_hot and positive_mask are exact") {
  Tensor oh = loss_util::one_hot(ref::labels({2, 0, 4}), 5, DType::f32);
  test::expect_close(oh, {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0, 0, "one_hot");
  const double tiny32 = std::numeric_limits<float>::denorm_min(), tiny64 = std::numeric_limits<double>::denorm_min();
  test::expect_close(loss_util::positive_mask(Tensor::from_vector(std::vector<double>{-1, 0, tiny32, 1e-30, 3e38, -3e38}, {6},
                                                                  DType::f32)),
                     {0, 0, 1, 1, 1, 0}, 0, 0, "f32 mask");
  test::expect_close(loss_util::positive_mask(Tensor::from_vector(std::vector<double>{-1e-300, 0, tiny64, 1e-200, 1e308}, {5},
                                                                  DType::f64)),
                     {0, 0, 1, 1, 1}, 0, 0, "f64 mask");
}
