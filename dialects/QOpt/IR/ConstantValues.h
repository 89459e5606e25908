//===- ConstantValues.h - reading constant and partly known tensors -*- C++ -*-===//
//
// Shape arithmetic needs the values of small integer tensors: the `shape` operand of a reshape, the
// bounds of a range. These helpers read them from constants (dense or resource blobs) and, where a
// tensor is assembled from pieces, element by element with unknown elements marked.
//
#ifndef QOPT_DIALECTS_QOPT_IR_CONSTANTVALUES_H
#define QOPT_DIALECTS_QOPT_IR_CONSTANTVALUES_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"
#include <optional>

namespace qopt::QOpt {

/// Marks an element whose value is not known at compile time.
constexpr int64_t kUnknownValue = INT64_MIN;

/// The elements of a constant integer (or i1) tensor attribute, dense or resource-backed.
std::optional<llvm::SmallVector<int64_t>> getIntValues(mlir::Attribute attr);
/// The elements of a constant float tensor attribute, dense or resource-backed, widened to double.
std::optional<llvm::SmallVector<double>> getFloatValues(mlir::Attribute attr);

/// The elements of `value` when it is produced by a constant.
std::optional<llvm::SmallVector<int64_t>> getConstantInts(mlir::Value value);

/// The elements of a small 0-D or 1-D integer tensor, each known or `kUnknownValue`; looks through
/// concat, shape, cast, squeeze/unsqueeze/reshape and constant-index gather. Empty optional when not
/// even the element count is known.
std::optional<llvm::SmallVector<int64_t>> getKnownInts(mlir::Value value);

/// The constant attribute producing `value`, or null.
mlir::ElementsAttr getConstantAttr(mlir::Value value);

} // namespace qopt::QOpt

#endif // QOPT_DIALECTS_QOPT_IR_CONSTANTVALUES_H
