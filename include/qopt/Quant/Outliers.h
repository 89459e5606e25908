//===- Outliers.h - weights kept in f16 beside the packed codes --*- C++ -*-===//
//
// SpQR-style outliers: the few weights whose rounding costs the most (the squared error times
// the Hessian's diagonal, the input's energy) are kept exactly, in f16, as a sparse matrix beside
// the packed codes, whose code at those positions stands for zero. The layer computes the packed
// matmul plus the sparse one.
//
#ifndef QOPT_QUANT_OUTLIERS_H
#define QOPT_QUANT_OUTLIERS_H

#include "qopt/Quant/WeightQuantizer.h"

#include <cstdint>
#include <tuple>
#include <vector>

namespace qopt::quant {

/// A sparse [N, K] matrix in CSR form with f16 values.
struct SparseOutliers {
  std::vector<int32_t> rowOffsets; ///< N + 1
  std::vector<int32_t> columns;
  std::vector<uint16_t> values; ///< f16 bits
  int64_t count() const { return static_cast<int64_t>(columns.size()); }
  int64_t bytes() const {
    return static_cast<int64_t>(rowOffsets.size() * 4 + columns.size() * 4 + values.size() * 2);
  }
};

/// CSR from (row, column, value) entries, any order.
SparseOutliers makeOutliers(int64_t n, std::vector<std::tuple<int64_t, int64_t, float>> entries);

/// The code that decodes to exactly zero on `grid` (an outlier's place in the packed codes).
unsigned zeroCode(const Scheme &scheme, const GroupGrid &grid);

/// Chooses round(fraction * n * k) weights of `w` (n x k) with the largest (w - q)^2 times
/// `hessianDiagonal` (k values; all ones when null), sets their codes in `q` to zero and returns
/// them in f16.
SparseOutliers extractOutliers(const float *w, QuantizedWeight &q, const Scheme &scheme,
                               const double *hessianDiagonal, double fraction);

} // namespace qopt::quant

#endif // QOPT_QUANT_OUTLIERS_H
