//===- ScalarBodies.h - one element of a qopt elementwise op ----*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_TRANSFORMS_SCALARBODIES_H
#define QOPT_DIALECTS_QOPT_TRANSFORMS_SCALARBODIES_H

#include "mlir/IR/Builders.h"

namespace qopt::QOpt {
/// Whether `op` is an elementwise op that a fused body can compute: float arithmetic and
/// activations on f32, comparisons and NaN tests of f32 giving i1, logic on i1, `where`, integer
/// arithmetic and comparisons on i32 or i64, casts among f32, i1, i32, i64, and between f16 and
/// f32.
bool isFusibleElementwise(mlir::Operation *op);

/// Emits the `arith` / `math` ops computing one element of `op` (isFusibleElementwise) from one
/// element of each operand, with the formulas the runtime's kernels use.
mlir::Value emitScalarElement(mlir::OpBuilder &b, mlir::Operation *op,
                              mlir::ArrayRef<mlir::Value> operands);
} // namespace qopt::QOpt

#endif // QOPT_DIALECTS_QOPT_TRANSFORMS_SCALARBODIES_H
