//===- GPTQTest.cpp - GPTQ against a direct implementation of the paper ---===//
//
// The reference below follows the published algorithm literally: the full inverse Hessian,
// one column at a time, the error spread over the later columns, and the quantized column's
// row and column removed from the inverse (the OBS update), with no Cholesky factor and no lazy
// batching. The library's GPTQ must give the same weights.
//
#include "qopt/Quant/GPTQ.h"

#include "qopt/Quant/Codebooks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qopt::quant;

namespace {
float halfToFloatForTest(uint16_t h) { return qopt::quant::halfToFloat(h); }

struct Layer {
  int64_t n, k;
  std::vector<float> w;
  std::vector<double> h;
};

/// A layer and a Hessian from correlated activations with a few dominant channels.
Layer makeLayer(int64_t n, int64_t k, int64_t rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Layer l{n, k, std::vector<float>(n * k), std::vector<double>(k * k, 0.0)};
  for (float &v : l.w)
    v = normal(rng) * 0.05f;
  std::vector<float> x(k);
  for (int64_t r = 0; r < rows; ++r) {
    float common = normal(rng);
    for (int64_t c = 0; c < k; ++c)
      x[c] = normal(rng) * (c % 7 == 0 ? 4.0f : 1.0f) + 0.5f * common;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        l.h[i * k + j] += static_cast<double>(x[i]) * x[j];
  }
  return l;
}

/// Gauss-Jordan inverse of a symmetric positive definite matrix.
std::vector<double> invert(std::vector<double> a, int64_t k) {
  std::vector<double> inv(k * k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    inv[i * k + i] = 1.0;
  for (int64_t p = 0; p < k; ++p) {
    double pivot = a[p * k + p];
    for (int64_t j = 0; j < k; ++j) {
      a[p * k + j] /= pivot;
      inv[p * k + j] /= pivot;
    }
    for (int64_t r = 0; r < k; ++r) {
      if (r == p)
        continue;
      double f = a[r * k + p];
      for (int64_t j = 0; j < k; ++j) {
        a[r * k + j] -= f * a[p * k + j];
        inv[r * k + j] -= f * inv[p * k + j];
      }
    }
  }
  return inv;
}

/// The paper's algorithm, written out directly; returns the dequantized weights.
std::vector<float> referenceGPTQ(const Layer &l, const Scheme &scheme, double dampening) {
  int64_t n = l.n, k = l.k;
  std::vector<double> h = l.h;
  double mean = 0.0;
  for (int64_t i = 0; i < k; ++i)
    mean += h[i * k + i];
  mean /= static_cast<double>(k);
  for (int64_t i = 0; i < k; ++i)
    h[i * k + i] += dampening * mean;
  std::vector<double> hinv = invert(h, k);
  std::vector<double> w(l.w.begin(), l.w.end());
  std::vector<float> out(n * k);
  GridFitter fitter(scheme, l.w.data(), n, k);
  int64_t group = fitter.groupLength();
  std::vector<GroupGrid> grids(n);
  for (int64_t i = 0; i < k; ++i) {
    if (i % group == 0)
      for (int64_t r = 0; r < n; ++r) {
        std::vector<float> values;
        for (int64_t c = i; c < std::min(k, i + group); ++c)
          values.push_back(static_cast<float>(w[r * k + c]));
        grids[r] = fitter.fit(r, i / group, values.data(), static_cast<int64_t>(values.size()));
      }
    double d = hinv[i * k + i];
    for (int64_t r = 0; r < n; ++r) {
      float q = decodeWeight(encodeWeight(static_cast<float>(w[r * k + i]), grids[r], scheme),
                             grids[r], scheme);
      out[r * k + i] = q;
      double err = (w[r * k + i] - q) / d;
      for (int64_t j = i + 1; j < k; ++j)
        w[r * k + j] -= err * hinv[i * k + j];
    }
    // Remove column i from the inverse Hessian of the remaining columns.
    for (int64_t a = i + 1; a < k; ++a)
      for (int64_t b = i + 1; b < k; ++b)
        hinv[a * k + b] -= hinv[a * k + i] * hinv[i * k + b] / d;
  }
  return out;
}

double outputError(const Layer &l, const std::vector<float> &q) {
  double total = 0.0;
  for (int64_t r = 0; r < l.n; ++r)
    for (int64_t i = 0; i < l.k; ++i)
      for (int64_t j = 0; j < l.k; ++j)
        total += (l.w[r * l.k + i] - q[r * l.k + i]) * l.h[i * l.k + j] *
                 (l.w[r * l.k + j] - q[r * l.k + j]);
  return total;
}

Scheme scheme(unsigned bits, int64_t group, bool symmetric, ScaleType scaleType) {
  Scheme s;
  s.bits = bits;
  s.groupSize = group;
  s.symmetric = symmetric;
  s.scaleType = scaleType;
  return s;
}
} // namespace

TEST(GPTQ, MatchesTheDirectAlgorithm) {
  Layer l = makeLayer(24, 96, 400, 1);
  for (const Scheme &s : {scheme(4, 32, true, ScaleType::F32), scheme(3, 32, false, ScaleType::F32),
                          scheme(4, 0, true, ScaleType::F16), scheme(2, 16, true, ScaleType::F32)}) {
    GPTQOptions options;
    options.blockSize = 32; // several lazy blocks
    GPTQResult result = gptqQuantize(l.w.data(), l.n, l.k, l.h.data(), s, options);
    ASSERT_FALSE(result.fellBackToRTN);
    std::vector<float> got = dequantizeWeight(result.weight, s);
    std::vector<float> want = referenceGPTQ(l, s, options.dampening);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5) << "weight " << i << " bits " << s.bits;
  }
}

TEST(GPTQ, LowersTheOutputErrorBelowRoundToNearest) {
  Layer l = makeLayer(32, 128, 600, 2);
  for (unsigned bits : {2u, 3u, 4u}) {
    Scheme s = scheme(bits, 32, true, ScaleType::F16);
    std::vector<float> rtn = dequantizeWeight(quantizeWeight(l.w.data(), l.n, l.k, s), s);
    for (bool actOrder : {false, true}) {
      GPTQOptions options;
      options.actOrder = actOrder;
      std::vector<float> gptq =
          dequantizeWeight(gptqQuantize(l.w.data(), l.n, l.k, l.h.data(), s, options).weight, s);
      EXPECT_LT(outputError(l, gptq), 0.9 * outputError(l, rtn))
          << "bits " << bits << " act-order " << actOrder;
    }
  }
}

TEST(GPTQ, CodebooksAndDoubleQuantizationKeepTheirFormat) {
  Layer l = makeLayer(8, 64, 200, 3);
  Scheme nf4 = scheme(4, 32, true, ScaleType::F16);
  nf4.codebook = Codebook::NF4;
  Scheme dq = scheme(4, 16, true, ScaleType::F32);
  dq.doubleQuantBlock = 8;
  for (const Scheme &s : {nf4, dq}) {
    GPTQResult r = gptqQuantize(l.w.data(), l.n, l.k, l.h.data(), s, GPTQOptions());
    std::vector<float> rtn = dequantizeWeight(quantizeWeight(l.w.data(), l.n, l.k, s), s);
    EXPECT_LT(outputError(l, dequantizeWeight(r.weight, s)), outputError(l, rtn));
    if (s.doubleQuantBlock) {
      EXPECT_EQ(r.weight.scaleCodes.size(), static_cast<size_t>(l.n * 4));
      EXPECT_EQ(r.weight.scaleScales.size(), static_cast<size_t>(4));
    }
  }
}

TEST(GPTQ, DeadChannelsAndSingularHessiansNeverGiveNaN) {
  Layer l = makeLayer(8, 32, 100, 4);
  // Channel 5 never fires; channels 10 and 11 are copies of each other (singular Hessian).
  for (int64_t i = 0; i < l.k; ++i) {
    l.h[5 * l.k + i] = l.h[i * l.k + 5] = 0.0;
    l.h[11 * l.k + i] = l.h[10 * l.k + i];
  }
  for (int64_t i = 0; i < l.k; ++i)
    l.h[i * l.k + 11] = l.h[i * l.k + 10];
  Scheme s = scheme(4, 16, true, ScaleType::F16);
  GPTQResult r = gptqQuantize(l.w.data(), l.n, l.k, l.h.data(), s, GPTQOptions());
  std::vector<float> q = dequantizeWeight(r.weight, s);
  for (int64_t row = 0; row < l.n; ++row)
    EXPECT_EQ(q[row * l.k + 5], 0.0f);
  for (float v : q)
    ASSERT_TRUE(std::isfinite(v));
  // An indefinite Hessian (a 2x2 block with eigenvalue -1): more dampening, or rounding to
  // nearest, but finite weights.
  std::vector<double> indefinite(l.k * l.k, 0.0);
  for (int64_t i = 0; i < l.k; ++i)
    indefinite[i * l.k + i] = 1.0;
  indefinite[3 * l.k + 4] = indefinite[4 * l.k + 3] = 2.0;
  GPTQResult other = gptqQuantize(l.w.data(), l.n, l.k, indefinite.data(), s, GPTQOptions());
  EXPECT_TRUE(other.fellBackToRTN || other.dampening > 0.01);
  for (float v : dequantizeWeight(other.weight, s))
    ASSERT_TRUE(std::isfinite(v));
}

TEST(Outliers, KeptExactlyAndCodedAsZero) {
  Layer l = makeLayer(16, 64, 300, 5);
  Scheme s = scheme(3, 16, false, ScaleType::F16);
  QuantizedWeight q = quantizeWeight(l.w.data(), l.n, l.k, s);
  double before = outputError(l, dequantizeWeight(q, s));
  std::vector<double> diagonal(l.k);
  for (int64_t i = 0; i < l.k; ++i)
    diagonal[i] = l.h[i * l.k + i];
  SparseOutliers o = extractOutliers(l.w.data(), q, s, diagonal.data(), 0.05);
  ASSERT_EQ(o.count(), 51); // round(0.05 * 1024)
  ASSERT_EQ(o.rowOffsets.size(), static_cast<size_t>(l.n + 1));
  std::vector<float> dense = dequantizeWeight(q, s), restored = dense;
  for (int64_t r = 0; r < l.n; ++r)
    for (int32_t j = o.rowOffsets[r]; j < o.rowOffsets[r + 1]; ++j) {
      EXPECT_EQ(dense[r * l.k + o.columns[j]], 0.0f); // the packed code stands for zero
      restored[r * l.k + o.columns[j]] += halfToFloatForTest(o.values[j]);
      EXPECT_NEAR(restored[r * l.k + o.columns[j]], l.w[r * l.k + o.columns[j]], 1e-3);
    }
  EXPECT_LT(outputError(l, restored), 0.8 * before);
}

TEST(Outliers, GPTQKeepsAFractionPerColumn) {
  Layer l = makeLayer(32, 64, 300, 6);
  Scheme s = scheme(3, 32, true, ScaleType::F16);
  GPTQOptions plain, sparse;
  sparse.outlierFraction = 0.0625; // 2 of 32 rows in every column
  GPTQResult a = gptqQuantize(l.w.data(), l.n, l.k, l.h.data(), s, plain);
  GPTQResult b = gptqQuantize(l.w.data(), l.n, l.k, l.h.data(), s, sparse);
  EXPECT_EQ(a.outliers.count(), 0);
  EXPECT_EQ(b.outliers.count(), 2 * l.k);
  std::vector<float> restored = dequantizeWeight(b.weight, s);
  for (int64_t r = 0; r < l.n; ++r)
    for (int32_t j = b.outliers.rowOffsets[r]; j < b.outliers.rowOffsets[r + 1]; ++j)
      restored[r * l.k + b.outliers.columns[j]] += halfToFloatForTest(b.outliers.values[j]);
  EXPECT_LT(outputError(l, restored), 0.8 * outputError(l, dequantizeWeight(a.weight, s)));
}
