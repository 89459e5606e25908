//===- ONNXExport.h - quantized models back to ONNX ------------*- C++ -*-===//
//
// Writes what the quantization stage decided into a copy of the ONNX model it started from, so
// that the trainers and runtimes people already use take qopt's results:
// - QAT: every quantized weight behind QuantizeLinear → DequantizeLinear (opset 21, blocked),
//   its latent values, scales and zero points as initializers a trainer can learn;
// - Deploy: ONNX Runtime's MatMulNBits where it expresses the scheme, DequantizeLinear of the
//   constant codes where it does not.
// The exporter's graph is the exporter's own graph with edits around the quantized weights:
// node and initializer names, and so the parameter names of the model that was exported, stay.
//
#ifndef QOPT_EXPORT_ONNXEXPORT_H
#define QOPT_EXPORT_ONNXEXPORT_H

#include "dialects/QOpt/Transforms/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace qopt::onnx_export {

enum class ExportKind { QAT, Deploy };

struct ExportOptions {
  ExportKind kind = ExportKind::QAT;
  /// MatMulNBits' accuracy_level; negative: 4 for layers whose activations qopt quantizes to
  /// int8 (the same arithmetic), 0 (f32) for the others.
  int64_t accuracyLevel = -1;
};

/// Writes `module`'s quantized layers (after qopt-quantize-weights) into the ONNX model
/// `modelBuffer` (read from `modelPath`) and saves it to `outputPath`. `layers` is the
/// quantization report, which names every layer's weight initializer and its layout. Problems
/// are reported as diagnostics on the module; nothing is written then.
mlir::LogicalResult exportQuantizedModel(mlir::ModuleOp module, llvm::StringRef modelBuffer,
                                         llvm::StringRef modelPath,
                                         const std::vector<QOpt::LayerQuantReport> &layers,
                                         const ExportOptions &options,
                                         llvm::StringRef outputPath);

} // namespace qopt::onnx_export

#endif // QOPT_EXPORT_ONNXEXPORT_H
