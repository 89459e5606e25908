//===- TensorConversion.h - ONNX tensors and types into MLIR -----*- C++ -*-===//
#ifndef QOPT_LIB_IMPORTER_ONNX_TENSORCONVERSION_H
#define QOPT_LIB_IMPORTER_ONNX_TENSORCONVERSION_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "onnx/onnx_pb.h"
#include <string>

namespace qopt::onnx_importer {

/// The MLIR element type of an ONNX TensorProto data type, or null when qopt has none.
mlir::Type convertElementType(int32_t onnxType, mlir::MLIRContext *ctx);
/// A readable name of an ONNX data type, for diagnostics.
std::string onnxTypeName(int32_t onnxType);

/// Converts `tensor` into a dense resource attribute named after it. External data is read from
/// files inside `modelDir` only. On failure returns null and sets `error`.
mlir::ElementsAttr convertTensor(const onnx::TensorProto &tensor, llvm::StringRef modelDir,
                                 mlir::MLIRContext *ctx, std::string &error);

} // namespace qopt::onnx_importer

#endif // QOPT_LIB_IMPORTER_ONNX_TENSORCONVERSION_H
