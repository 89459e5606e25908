//===- ActivationRange.h - static int8 activation ranges from calibration -*- C++ -*-===//
//
// Static activation quantization fixes one scale per tensor at compile time: int8 codes
// round(x / s) with s = range / 127. The range comes from the calibration statistics by one of
// the usual calibrators: the largest magnitude seen (minmax), a percentile of the magnitudes,
// the range that minimizes the mean squared quantization error (mse), or the one whose int8
// distribution is closest to the observed one in KL divergence (entropy, TensorRT's method).
//
#ifndef QOPT_QUANT_ACTIVATIONRANGE_H
#define QOPT_QUANT_ACTIVATIONRANGE_H

#include "qopt/Quant/CalibrationStats.h"

#include <optional>
#include <string>

namespace qopt::quant {

enum class RangeCalibrator { MinMax, Percentile, MSE, Entropy };

std::optional<RangeCalibrator> parseRangeCalibrator(const std::string &name);

/// The magnitude the int8 codes span. `percentile` (in (0, 100]) is used by Percentile.
/// Histogram-based calibrators need a histogram that is not stale.
double activationRange(const ActivationStats &stats, RangeCalibrator calibrator,
                       double percentile = 99.99);

} // namespace qopt::quant

#endif // QOPT_QUANT_ACTIVATIONRANGE_H
