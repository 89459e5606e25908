//===- ActivationRangeTest.cpp - static int8 ranges from calibration ------===//
#include "qopt/Quant/ActivationRange.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qopt::quant;

namespace {
/// Laplace activations (scale 1): heavy tails, as transformer activations have.
struct Sample {
  std::vector<float> x;
  ActivationStats stats{4};
};

Sample makeSample() {
  Sample s;
  std::mt19937 rng(3);
  std::exponential_distribution<float> magnitude(1.0f);
  std::bernoulli_distribution sign(0.5);
  s.x.resize(4 * 50000);
  for (float &v : s.x)
    v = sign(rng) ? magnitude(rng) : -magnitude(rng);
  // In parts, so that the histogram has to widen on the way.
  s.stats.addRows(s.x.data(), 100);
  s.stats.addRows(s.x.data() + 400, 49900);
  s.stats.flush();
  return s;
}

/// Mean squared error of symmetric int8 quantization of the samples with `range`.
double measuredError(const std::vector<float> &x, double range) {
  double step = range / 127.0, total = 0.0;
  for (float v : x) {
    double q = std::clamp(std::nearbyint(v / step), -127.0, 127.0) * step;
    total += (v - q) * (v - q);
  }
  return total / static_cast<double>(x.size());
}
} // namespace

TEST(ActivationRange, CalibratorsOrderAsExpected) {
  Sample s = makeSample();
  double minmax = activationRange(s.stats, RangeCalibrator::MinMax);
  float largest = 0.0f;
  for (float v : s.x)
    largest = std::max(largest, std::fabs(v));
  EXPECT_FLOAT_EQ(minmax, largest);
  // |x| is exponential: its p-quantile is -ln(1 - p); the bins are largest / 2048 wide.
  double p99 = activationRange(s.stats, RangeCalibrator::Percentile, 99.0);
  double p9999 = activationRange(s.stats, RangeCalibrator::Percentile, 99.99);
  EXPECT_NEAR(p99, std::log(100.0), 0.05);
  EXPECT_NEAR(p9999, std::log(10000.0), 0.4);
  // Clipping the tail pays for int8 on a Laplace distribution (the optimum is near 10 scales).
  double mse = activationRange(s.stats, RangeCalibrator::MSE);
  double entropy = activationRange(s.stats, RangeCalibrator::Entropy);
  EXPECT_LT(mse, minmax);
  EXPECT_GT(mse, 5.0);
  EXPECT_LT(entropy, minmax);
  EXPECT_GT(entropy, 2.0);
  EXPECT_LE(measuredError(s.x, mse), measuredError(s.x, minmax));
}

TEST(ActivationRange, ParsesNamesAndHandlesEmptyTensors) {
  EXPECT_EQ(parseRangeCalibrator("entropy"), RangeCalibrator::Entropy);
  EXPECT_FALSE(parseRangeCalibrator("kl").has_value());
  ActivationStats zeros(2);
  std::vector<float> x(8, 0.0f);
  zeros.addRows(x.data(), 4);
  for (RangeCalibrator c : {RangeCalibrator::MinMax, RangeCalibrator::Percentile,
                            RangeCalibrator::MSE, RangeCalibrator::Entropy})
    EXPECT_EQ(activationRange(zeros, c), 0.0);
}

TEST(ActivationRange, HistogramsSurviveSavingAndRescaling) {
  Sample s = makeSample();
  CalibrationStats stats;
  stats.tensors.push_back(s.stats);
  stats.layerInput["fc"] = 0;
  std::string path = ::testing::TempDir() + "/range.qcal", error;
  ASSERT_TRUE(stats.save(path, error)) << error;
  CalibrationStats loaded;
  ASSERT_TRUE(loaded.load(path, error)) << error;
  EXPECT_EQ(loaded.tensors[0].histogram, s.stats.histogram);
  EXPECT_DOUBLE_EQ(activationRange(loaded.tensors[0], RangeCalibrator::Entropy),
                   activationRange(s.stats, RangeCalibrator::Entropy));
  // Dividing channels out makes the histogram stale; minmax follows the per-channel maxima.
  loaded.tensors[0].divideChannels({2.0, 2.0, 4.0, 1.0});
  EXPECT_TRUE(loaded.tensors[0].histogramStale);
  float largest = 0.0f;
  for (int c = 0; c < 4; ++c)
    largest = std::max(largest, s.stats.absMax[c] / float(c == 2 ? 4.0 : c == 3 ? 1.0 : 2.0));
  EXPECT_FLOAT_EQ(activationRange(loaded.tensors[0], RangeCalibrator::MinMax), largest);
}
