// The DET curve of an evaluation as a PNG image, for spk_train's TensorBoard log (the "eval/det" image).
//
// The axes are those of det_plot.h's SVG (probit-scaled false-alarm rate on x, miss rate on y, 0.05 .. 50 %), drawn
// without text, since there is no font: light grid lines at 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40 %, darker ones at 1
// and 10 %, the dashed p_miss = p_fa diagonal, the curve in blue and its EER as a red square on the diagonal.
// spk_eval --det_plot writes the labelled SVG of the same curve.
#pragma once
#include <string>
#include <vector>

#include "losses/verification.h"

namespace spk::recipe {

// size: the image's width and height in pixels, >= 64.
std::string det_png(const std::vector<DetPoint>& points, double eer_percent, int size = 320);

}  // namespace spk::recipe
