//===- QuantizedLayers.h - what the exporter reads from the IR ---*- C++ -*-===//
#ifndef QOPT_LIB_EXPORT_ONNX_QUANTIZEDLAYERS_H
#define QOPT_LIB_EXPORT_ONNX_QUANTIZEDLAYERS_H

#include "qopt/Quant/WeightQuantizer.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace qopt::onnx_export {

/// One quantized layer of the module, unpacked.
struct ExportedLayer {
  mlir::Operation *op = nullptr;
  std::string displayName;
  /// The name of the weight's constant when it was quantized: the ONNX initializer's, perhaps
  /// with suffixes of passes that rescaled it (`.awq`, `.smooth`).
  std::string weight;
  bool isEmbedding = false;
  quant::Scheme scheme;
  int64_t n = 0, k = 0, groups = 0;
  std::vector<uint8_t> codes;       ///< n x k, one code per weight
  std::vector<float> scales;        ///< n x groups, decoded to f32
  std::vector<uint8_t> zeroPoints;  ///< n x groups, asymmetric int only
  std::vector<float> values;        ///< n x k, what the codes stand for
  /// int8 activations: per group of the scheme at run time, or one static scale (> 0).
  bool int8Activations = false;
  float activationScale = 0.0f;
  /// Inputs rounded to bf16 (exported as MatMulNBits accuracy level 3).
  bool bf16Activations = false;
  /// Per input channel, the factors AWQ or SmoothQuant multiplied the weight by while dividing a
  /// norm (`qopt.input_scale`); empty when none.
  std::vector<float> inputScale;
  /// The rank of the matmul's input.
  int64_t inputRank = 0;

  /// The zero point of a group: stored, or the symmetric int grid's 2^(bits-1).
  int64_t zeroPoint(int64_t row, int64_t group) const;
};

/// The quantized layers of `module`, or nothing after a diagnostic (constants that cannot be
/// read, sparse outliers, which no ONNX form holds).
std::optional<std::vector<ExportedLayer>> collectQuantizedLayers(mlir::ModuleOp module);

/// Constants of linear layers that passes rescaled after import (AWQ's and SmoothQuant's factors
/// folded into the output channels of a gated MLP's up projection): their resource name (the
/// initializer's, plus the pass's suffix) and f32 values. Rescaled norms are left out: exports
/// write those factors beside the layers that read the norm (`ExportedLayer::inputScale`).
std::vector<std::pair<std::string, std::vector<float>>> rescaledConstants(mlir::ModuleOp module);

} // namespace qopt::onnx_export

#endif // QOPT_LIB_EXPORT_ONNX_QUANTIZEDLAYERS_H
