//===- ActivationRange.cpp - static int8 activation ranges from calibration -===//
#include "qopt/Quant/ActivationRange.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace qopt::quant;

std::optional<RangeCalibrator> qopt::quant::parseRangeCalibrator(const std::string &name) {
  if (name == "minmax")
    return RangeCalibrator::MinMax;
  if (name == "percentile")
    return RangeCalibrator::Percentile;
  if (name == "mse")
    return RangeCalibrator::MSE;
  if (name == "entropy")
    return RangeCalibrator::Entropy;
  return std::nullopt;
}

namespace {
constexpr double kLevels = 127.0;

double largestMagnitude(const ActivationStats &s) {
  double m = 0.0;
  for (float v : s.absMax)
    m = std::max(m, static_cast<double>(v));
  return m;
}

/// The magnitude below which `percentile` percent of the values lie (end of that bin).
double percentileRange(const ActivationStats &s, double percentile) {
  double total = std::accumulate(s.histogram.begin(), s.histogram.end(), 0.0);
  double target = total * percentile / 100.0, seen = 0.0;
  for (size_t b = 0; b < s.histogram.size(); ++b) {
    seen += s.histogram[b];
    if (seen >= target)
      return static_cast<double>(b + 1) * s.histogramWidth;
  }
  return static_cast<double>(s.histogram.size()) * s.histogramWidth;
}

/// Expected squared error of symmetric int8 quantization with range `range`, the values taken
/// at their bins' centres: rounding inside the range, clipping past it.
double quantizationError(const ActivationStats &s, double range) {
  double step = range / kLevels, error = 0.0;
  for (size_t b = 0; b < s.histogram.size(); ++b) {
    if (s.histogram[b] == 0.0)
      continue;
    double x = (static_cast<double>(b) + 0.5) * s.histogramWidth;
    double q = std::min(std::nearbyint(x / step), kLevels) * step;
    error += s.histogram[b] * (x - q) * (x - q);
  }
  return error;
}

double mseRange(const ActivationStats &s) {
  int64_t bins = static_cast<int64_t>(s.histogram.size());
  double best = static_cast<double>(bins) * s.histogramWidth;
  double bestError = std::numeric_limits<double>::infinity();
  for (int64_t end = bins / 32; end <= bins; end += std::max<int64_t>(1, bins / 512)) {
    double range = static_cast<double>(end) * s.histogramWidth;
    double error = quantizationError(s, range);
    if (error < bestError) {
      bestError = error;
      best = range;
    }
  }
  return best;
}

/// TensorRT's entropy calibration: for each candidate number of bins, the clipped distribution
/// P (outliers folded into its last bin) against Q, P merged into 128 levels and spread back
/// over the bins that were non-empty; the candidate with the least KL(P || Q) wins.
double entropyRange(const ActivationStats &s) {
  const std::vector<double> &h = s.histogram;
  int64_t bins = static_cast<int64_t>(h.size()), levels = 128;
  double bestKL = std::numeric_limits<double>::infinity();
  int64_t bestEnd = bins;
  for (int64_t end = levels; end <= bins; end += std::max<int64_t>(1, bins / 512)) {
    std::vector<double> p(h.begin(), h.begin() + end);
    for (int64_t b = end; b < bins; ++b)
      p[end - 1] += h[b];
    double total = std::accumulate(p.begin(), p.end(), 0.0);
    if (total <= 0.0)
      continue;
    std::vector<double> q(end, 0.0);
    for (int64_t l = 0; l < levels; ++l) {
      int64_t begin = l * end / levels, stop = (l + 1) * end / levels;
      double mass = 0.0;
      int64_t nonzero = 0;
      for (int64_t b = begin; b < stop; ++b) {
        mass += h[b]; // the counts before the outliers were folded in, as the reference does
        nonzero += p[b] > 0.0;
      }
      for (int64_t b = begin; b < stop; ++b)
        if (p[b] > 0.0)
          q[b] = mass / static_cast<double>(nonzero);
    }
    double qTotal = std::accumulate(q.begin(), q.end(), 0.0);
    double kl = 0.0;
    for (int64_t b = 0; b < end; ++b) {
      if (p[b] <= 0.0)
        continue;
      double pp = p[b] / total;
      double qq = q[b] > 0.0 ? q[b] / qTotal : 1e-12;
      kl += pp * std::log(pp / qq);
    }
    if (kl < bestKL) {
      bestKL = kl;
      bestEnd = end;
    }
  }
  return (static_cast<double>(bestEnd) + 0.5) * s.histogramWidth;
}
} // namespace

double qopt::quant::activationRange(const ActivationStats &stats, RangeCalibrator calibrator,
                                    double percentile) {
  double largest = largestMagnitude(stats);
  if (calibrator == RangeCalibrator::MinMax || stats.histogram.empty() || largest == 0.0)
    return largest;
  double range = largest;
  switch (calibrator) {
  case RangeCalibrator::MinMax:
    break;
  case RangeCalibrator::Percentile:
    range = percentileRange(stats, percentile);
    break;
  case RangeCalibrator::MSE:
    range = mseRange(stats);
    break;
  case RangeCalibrator::Entropy:
    range = entropyRange(stats);
    break;
  }
  // A range past what was ever seen only wastes levels.
  return std::min(range, largest);
}
