//===- GPTQ.h - Hessian-aware weight quantization (GPTQ) ---------*- C++ -*-===//
//
// GPTQ (Frantar et al., 2022) quantizes a linear layer's weight one input column at a time and
// spreads each column's rounding error over the columns not yet quantized, weighted by the
// inverse Hessian of the layer's reconstruction error, H = sum over calibration rows of x x^T.
//
#ifndef QOPT_QUANT_GPTQ_H
#define QOPT_QUANT_GPTQ_H

#include "qopt/Quant/Outliers.h"
#include "qopt/Quant/WeightQuantizer.h"

#include <cstdint>
#include <vector>

namespace qopt::quant {

struct GPTQOptions {
  /// Added to the Hessian's diagonal, as a fraction of its mean.
  double dampening = 0.01;
  /// Columns whose updates are applied to the rest of the weight together (lazy batch updates).
  int64_t blockSize = 128;
  /// Columns in order of decreasing Hessian diagonal. The groups stay the natural consecutive
  /// ones, with grids fitted before any update (static groups), so the packed format and the
  /// kernels are unchanged.
  bool actOrder = false;
  /// Fraction of the weights kept in f16 (SpQR-style): in each column, the rows whose rounding
  /// error weighs most, (w - q)^2 / [H^-1]_ii^2, are kept exactly, so nothing of them is spread.
  double outlierFraction = 0.0;
};

struct GPTQResult {
  QuantizedWeight weight;
  SparseOutliers outliers;
  /// sum over weights of (w - q)^2 / [H^-1]_ii^2: the algorithm's own estimate of the error.
  double loss = 0.0;
  /// Dampening that was finally used (raised when the Cholesky factorization failed).
  double dampening = 0.0;
  /// No factorization succeeded: the weight was rounded to nearest instead.
  bool fellBackToRTN = false;
};

/// Quantizes `w` (n rows of k: row r holds output channel r) with the Hessian `hessian` (k x k,
/// row-major, symmetric). Input channels that were never active (zero diagonal) get zero weights.
GPTQResult gptqQuantize(const float *w, int64_t n, int64_t k, const double *hessian,
                        const Scheme &scheme, const GPTQOptions &options);

/// The upper Cholesky factor U of the inverse of `h` (k x k), h^-1 = U^T U, row-major in place.
/// False when `h` is not positive definite.
bool upperCholeskyOfInverse(std::vector<double> &h, int64_t k);

} // namespace qopt::quant

#endif // QOPT_QUANT_GPTQ_H
