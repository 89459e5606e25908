//===- AWQTest.cpp - AWQ's scale and clipping searches --------------------===//
#include "qopt/Quant/AWQ.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qopt::quant;

namespace {
/// Activations with a few outlier channels, as transformer inputs have.
struct Data {
  int64_t n = 48, k = 64;
  std::vector<float> w;
  std::vector<double> gram, meanAbs;
};

Data makeData(unsigned seed) {
  Data d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  d.w.resize(d.n * d.k);
  for (float &v : d.w)
    v = normal(rng) * 0.05f;
  d.gram.assign(d.k * d.k, 0.0);
  d.meanAbs.assign(d.k, 0.0);
  std::vector<float> x(d.k);
  int64_t rows = 500;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < d.k; ++c) {
      x[c] = normal(rng) * (c % 16 == 3 ? 20.0f : 1.0f);
      d.meanAbs[c] += std::fabs(x[c]) / rows;
    }
    for (int64_t i = 0; i < d.k; ++i)
      for (int64_t j = 0; j < d.k; ++j)
        d.gram[i * d.k + j] += static_cast<double>(x[i]) * x[j];
  }
  return d;
}

double error(const Data &d, const std::vector<float> &q) {
  double total = 0.0;
  for (int64_t r = 0; r < d.n; ++r)
    for (int64_t i = 0; i < d.k; ++i)
      for (int64_t j = 0; j < d.k; ++j)
        total += (d.w[r * d.k + i] - q[r * d.k + i]) * d.gram[i * d.k + j] *
                 (d.w[r * d.k + j] - q[r * d.k + j]);
  return total;
}

Scheme int3() {
  Scheme s;
  s.bits = 3;
  s.groupSize = 32;
  return s;
}
} // namespace

TEST(AWQ, ScalesLowerTheOutputErrorAndKeepTheFunction) {
  Data d = makeData(1);
  Scheme s = int3();
  std::vector<ScaledLayer> layers{{d.w.data(), d.n, d.k, s}};
  AWQScaleSearch search = searchAWQScales(layers, d.gram, d.meanAbs, 20);
  EXPECT_GT(search.exponent, 0.0);
  EXPECT_LT(search.error, search.rtnError);
  // Folded: W diag(s) applied to x / s is W x, before rounding.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<double> x(d.k);
    for (double &v : x)
      v = normal(rng);
    for (int64_t r = 0; r < d.n; ++r) {
      double plain = 0.0, folded = 0.0;
      for (int64_t c = 0; c < d.k; ++c) {
        plain += d.w[r * d.k + c] * x[c];
        float scaledWeight = static_cast<float>(d.w[r * d.k + c] * search.scales[c]);
        folded += scaledWeight * static_cast<float>(x[c] / search.scales[c]);
      }
      EXPECT_NEAR(folded, plain, 1e-6 * (1.0 + std::fabs(plain)));
    }
  }
  // The searched error is what rounding the scaled weight then unscaling gives.
  std::vector<float> scaled(d.w.size());
  for (int64_t r = 0; r < d.n; ++r)
    for (int64_t c = 0; c < d.k; ++c)
      scaled[r * d.k + c] = static_cast<float>(d.w[r * d.k + c] * search.scales[c]);
  std::vector<float> q = roundTripWeight(scaled.data(), d.n, d.k, s);
  for (int64_t r = 0; r < d.n; ++r)
    for (int64_t c = 0; c < d.k; ++c)
      q[r * d.k + c] = static_cast<float>(q[r * d.k + c] / search.scales[c]);
  std::vector<float> rtn = roundTripWeight(d.w.data(), d.n, d.k, s);
  EXPECT_LT(error(d, q), error(d, rtn));
}

TEST(AWQ, ClippingNeverRaisesAGroupsError) {
  Data d = makeData(2);
  // A few large weights that are worth clipping.
  for (int64_t r = 0; r < d.n; r += 5)
    d.w[r * d.k + (r % d.k)] = 0.6f;
  Scheme s = int3();
  std::vector<float> ratios = searchClipRatios(d.w.data(), d.n, d.k, s, d.gram, 20, 0.5);
  ASSERT_EQ(ratios.size(), static_cast<size_t>(d.n * 2));
  int clipped = 0;
  for (float r : ratios) {
    EXPECT_GE(r, 0.5f);
    EXPECT_LE(r, 1.0f);
    clipped += r < 1.0f;
  }
  EXPECT_GT(clipped, 0);
  std::vector<float> w = d.w;
  clipWeight(w.data(), d.n, d.k, s, ratios);
  std::vector<float> withClip = roundTripWeight(w.data(), d.n, d.k, s);
  std::vector<float> without = roundTripWeight(d.w.data(), d.n, d.k, s);
  EXPECT_LT(error(d, withClip), error(d, without));
}
