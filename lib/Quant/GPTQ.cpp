//===- GPTQ.cpp - Hessian-aware weight quantization (GPTQ) ----------------===//
//
// The weight is held transposed (one row per input column, in processing order) in double, so
// that quantizing a column and updating the columns after it are contiguous loops over the
// output channels, and the lazy batch update of the remaining columns is one GEMM.
//
#include "qopt/Quant/GPTQ.h"

#include "qopt/Quant/Codebooks.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <numeric>

using namespace qopt::quant;

extern "C" {
// LAPACK (OpenBLAS ships it): Cholesky factorization and the inverse from it.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);
}

bool qopt::quant::upperCholeskyOfInverse(std::vector<double> &h, int64_t k) {
  // The matrix is symmetric, so the row-major buffer is also the same matrix column-major.
  // LAPACK's lower factor L (column-major) read row-major is U = L^T.
  int n = static_cast<int>(k), info = 0;
  const char lower = 'L';
  dpotrf_(&lower, &n, h.data(), &n, &info);
  if (info != 0)
    return false;
  dpotri_(&lower, &n, h.data(), &n, &info);
  if (info != 0)
    return false;
  // dpotri leaves the inverse in the lower triangle (column-major): mirror it.
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = j + 1; i < k; ++i)
      h[i * k + j] = h[j * k + i];
  dpotrf_(&lower, &n, h.data(), &n, &info);
  if (info != 0)
    return false;
  // Keep U alone: clear what lies below its diagonal (row-major).
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < i; ++j)
      h[i * k + j] = 0.0;
  for (double v : h)
    if (!std::isfinite(v))
      return false;
  return true;
}

namespace {
/// Columns per lazy block. Grids fitted at a group boundary must see every update of the columns
/// before it, so blocks end on group boundaries.
int64_t blockColumns(int64_t requested, int64_t group, int64_t k) {
  requested = std::max<int64_t>(1, requested);
  if (group >= k)
    return requested; // one grid per row, fitted before any update
  if (group <= requested)
    return (requested / group) * group;
  return group % requested == 0 ? requested : group;
}
} // namespace

GPTQResult qopt::quant::gptqQuantize(const float *w, int64_t n, int64_t k, const double *hessian,
                                     const Scheme &scheme, const GPTQOptions &options) {
  GPTQResult result;
  std::vector<double> h(hessian, hessian + k * k);
  std::vector<float> weight(w, w + n * k);
  // Input channels that never fired carry no information: their weights are zero.
  for (int64_t i = 0; i < k; ++i)
    if (!(h[i * k + i] > 0.0)) {
      h[i * k + i] = 1.0;
      for (int64_t r = 0; r < n; ++r)
        weight[r * k + i] = 0.0f;
    }
  GridFitter fitter(scheme, weight.data(), n, k);
  int64_t groups = fitter.numGroups(), group = fitter.groupLength();

  std::vector<int64_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  if (options.actOrder)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return h[a * k + a] > h[b * k + b];
    });

  // The Hessian in processing order, dampened; more dampening if it is not positive definite.
  double meanDiagonal = 0.0;
  for (int64_t i = 0; i < k; ++i)
    meanDiagonal += h[i * k + i];
  meanDiagonal /= static_cast<double>(k);
  std::vector<double> u;
  double damp = options.dampening;
  bool factored = false;
  for (int attempt = 0; attempt < 6 && !factored; ++attempt, damp *= 10.0) {
    u.assign(k * k, 0.0);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        u[i * k + j] = h[order[i] * k + order[j]];
    for (int64_t i = 0; i < k; ++i)
      u[i * k + i] += damp * meanDiagonal;
    factored = upperCholeskyOfInverse(u, k);
    if (factored)
      result.dampening = damp;
  }
  if (!factored) {
    result.fellBackToRTN = true;
    result.weight = quantizeWeight(weight.data(), n, k, scheme);
    std::vector<double> diagonal(k);
    for (int64_t i = 0; i < k; ++i)
      diagonal[i] = h[i * k + i];
    result.outliers = extractOutliers(weight.data(), result.weight, scheme, diagonal.data(),
                                      options.outlierFraction);
    return result;
  }

  std::vector<GroupGrid> grids(n * groups);
  auto fitGroup = [&](int64_t g, auto valueAt) {
    int64_t begin = g * group, count = std::min(group, k - begin);
    std::vector<float> values(count);
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t t = 0; t < count; ++t)
        values[t] = valueAt(r, begin + t);
      grids[r * groups + g] = fitter.fit(r, g, values.data(), count);
    }
  };
  // With act-order the groups keep their natural columns, fitted before any update.
  if (options.actOrder)
    for (int64_t g = 0; g < groups; ++g)
      fitGroup(g, [&](int64_t r, int64_t c) { return weight[r * k + c]; });

  std::vector<double> wt(k * n); // row i: column order[i] of the weight
  std::vector<int64_t> position(k);
  for (int64_t i = 0; i < k; ++i) {
    position[order[i]] = i;
    for (int64_t r = 0; r < n; ++r)
      wt[i * n + r] = weight[r * k + order[i]];
  }
  std::vector<uint8_t> codes(n * k);
  std::vector<std::tuple<int64_t, int64_t, float>> outlierEntries;
  int64_t block = blockColumns(options.blockSize, group, k);
  std::vector<double> errors(block * n);
  for (int64_t i1 = 0; i1 < k; i1 += block) {
    int64_t i2 = std::min(k, i1 + block);
    for (int64_t i = i1; i < i2; ++i) {
      int64_t column = order[i];
      if (!options.actOrder && column % group == 0)
        fitGroup(column / group,
                 [&](int64_t r, int64_t c) { return static_cast<float>(wt[position[c] * n + r]); });
      double d = u[i * k + i];
      double *row = &wt[i * n];
      double *err = &errors[(i - i1) * n];
      for (int64_t r = 0; r < n; ++r) {
        const GroupGrid &grid = grids[r * groups + column / group];
        unsigned code = encodeWeight(static_cast<float>(row[r]), grid, scheme);
        codes[r * k + column] = static_cast<uint8_t>(code);
        err[r] = row[r] - static_cast<double>(decodeWeight(code, grid, scheme));
      }
      // This column's share of the outliers: the rows whose error weighs most stay exact (in
      // f16), their codes standing for zero.
      int64_t take = static_cast<int64_t>(options.outlierFraction * double(n) * double(i + 1)) -
                     static_cast<int64_t>(options.outlierFraction * double(n) * double(i));
      if (take > 0) {
        std::vector<int64_t> rows(n);
        std::iota(rows.begin(), rows.end(), 0);
        take = std::min(take, n);
        std::nth_element(rows.begin(), rows.begin() + (take - 1), rows.end(),
                         [&](int64_t a, int64_t b) { return std::fabs(err[a]) > std::fabs(err[b]); });
        for (int64_t j = 0; j < take; ++j) {
          int64_t r = rows[j];
          float kept = static_cast<float>(row[r]);
          codes[r * k + column] =
              static_cast<uint8_t>(zeroCode(scheme, grids[r * groups + column / group]));
          outlierEntries.emplace_back(r, column, kept);
          err[r] = row[r] - static_cast<double>(halfToFloat(floatToHalf(kept)));
        }
      }
      for (int64_t r = 0; r < n; ++r) {
        result.loss += err[r] * err[r] / (d * d);
        err[r] /= d;
      }
      for (int64_t j = i + 1; j < i2; ++j) {
        double f = u[i * k + j];
        double *target = &wt[j * n];
        for (int64_t r = 0; r < n; ++r)
          target[r] -= err[r] * f;
      }
    }
    if (i2 < k)
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(k - i2),
                  static_cast<int>(n), static_cast<int>(i2 - i1), -1.0, &u[i1 * k + i2],
                  static_cast<int>(k), errors.data(), static_cast<int>(n), 1.0, &wt[i2 * n],
                  static_cast<int>(n));
  }
  result.weight = packWeight(n, k, scheme, grids, codes, fitter.secondLevelScales());
  result.outliers = makeOutliers(n, std::move(outlierEntries));
  return result;
}
