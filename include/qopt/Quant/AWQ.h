//===- AWQ.h - activation-aware weight scaling and clipping ------*- C++ -*-===//
//
// AWQ (Lin et al., 2023) protects the input channels that carry large activations by scaling
// them up in the weight (and down in the activation, folded into the op that produces it)
// before rounding, and then shrinks each group's range where that lowers the output error.
// Both searches measure the error of a layer's output, ||(W - W_q) X||^2 = tr(D H D^T) with
// D = W - W_q and H = X^T X from calibration, so no activation is kept.
//
#ifndef QOPT_QUANT_AWQ_H
#define QOPT_QUANT_AWQ_H

#include "qopt/Quant/WeightQuantizer.h"

#include <cstdint>
#include <vector>

namespace qopt::quant {

/// One layer reading the shared input: `weight` is n rows (output channels) of k.
struct ScaledLayer {
  const float *weight = nullptr;
  int64_t n = 0, k = 0;
  Scheme scheme;
};

struct AWQScaleSearch {
  std::vector<double> scales; ///< per input channel; all ones when no exponent beat RTN
  double exponent = 0.0;
  double error = 0.0, rtnError = 0.0;
};

/// Searches s = meanAbs^a / sqrt(max * min) over a = 0, 1/grid, ..., (grid-1)/grid.
AWQScaleSearch searchAWQScales(const std::vector<ScaledLayer> &layers,
                               const std::vector<double> &gram,
                               const std::vector<double> &meanAbs, int64_t grid);

/// Per group of `w` (n x k), the range factor in {1, 1 - 1/grid, ..., 1 - maxShrink} whose
/// quantization gives the least error of the group's part of the output (the group's diagonal
/// block of `gram`). n x groups factors.
std::vector<float> searchClipRatios(const float *w, int64_t n, int64_t k, const Scheme &scheme,
                                    const std::vector<double> &gram, int64_t grid,
                                    double maxShrink);

/// Clamps each group of `w` to its factor times its largest magnitude.
void clipWeight(float *w, int64_t n, int64_t k, const Scheme &scheme,
                const std::vector<float> &ratios);

} // namespace qopt::quant

#endif // QOPT_QUANT_AWQ_H
