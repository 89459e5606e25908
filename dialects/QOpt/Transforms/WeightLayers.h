//===- WeightLayers.h - layers whose constant weight can be quantized -*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_TRANSFORMS_WEIGHTLAYERS_H
#define QOPT_DIALECTS_QOPT_TRANSFORMS_WEIGHTLAYERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "dialects/QOpt/IR/QOptAttrs.h"
#include "qopt/Quant/PrecisionCandidates.h"
#include "qopt/Quant/WeightQuantizer.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

#include <optional>
#include <string>
#include <vector>

namespace qopt::QOpt {

/// A linear layer (`qopt.matmul` by a constant [K, N] weight, or by the transpose of a constant
/// [N, K] one) or an embedding lookup (`qopt.gather` along axis 0 of a constant [N, K] table).
struct WeightLayer {
  mlir::Operation *op = nullptr;
  mlir::arith::ConstantOp weight;
  /// The constant holds [N, K] (one output channel per row) rather than [K, N].
  bool rowsAreOutputs = false;
  bool isEmbedding = false;
  int64_t n = 0, k = 0;
};

std::optional<WeightLayer> matchWeightLayer(mlir::Operation *op);

/// Every name the layer is known by: its ONNX node name, its exporter scope (for example
/// `model.layers.0.mlp.down_proj`) and its weight's name.
std::vector<std::string> layerNames(const WeightLayer &layer);
/// The most descriptive of those: the scope where the exporter recorded one.
std::string layerDisplayName(const WeightLayer &layer);

/// The quantizer's description of a scheme attribute.
qopt::quant::Scheme toQuantScheme(SchemeAttr attr);
/// The scheme attribute of a quantizer scheme.
SchemeAttr toSchemeAttr(mlir::MLIRContext *ctx, const qopt::quant::Scheme &scheme);

/// The raw bytes of a constant (dense resource or dense elements), or nothing. Elements narrower
/// than a byte (int4) are held one per byte, as the importer stores them.
std::optional<std::vector<char>> constantData(mlir::Value v);
/// The value of a constant f32 scalar (any shape holding one element, or a splat), or nothing.
std::optional<double> scalarConstant(mlir::Value v);
/// `v` with the single-use multiplications by constant scalars that produce it taken off; their
/// product goes into `scale`, and the multiplications into `ops` when given.
mlir::Value peelScale(mlir::Value v, double &scale,
                      llvm::SmallVectorImpl<mlir::Operation *> *ops = nullptr);

/// A constant holding `data` (row-major, one element after another) as a dense resource blob
/// aligned to `alignment` bytes.
mlir::Value resourceConstant(mlir::OpBuilder &b, mlir::Location loc, llvm::StringRef name,
                             llvm::ArrayRef<int64_t> shape, mlir::Type elementType,
                             llvm::ArrayRef<char> data, size_t alignment);

/// Whether mixed precision decides the layer's scheme: it carries one that no `--layer-bits`
/// rule pinned (`qopt.pinned`).
bool isDecidedLayer(mlir::Operation *op);
/// The layers mixed precision decides, in walk order (the order every mixed-precision step
/// numbers them in).
std::vector<WeightLayer> decidedLayers(mlir::Operation *root);

/// The candidates of `list` (qopt/Quant/PrecisionCandidates.h), taking the widths, groups and
/// scale storage they leave unsaid from `layer`'s scheme; nothing, with `error` set, for a bad
/// list.
std::optional<std::vector<qopt::quant::PrecisionCandidate>>
candidatesFor(const WeightLayer &layer, const std::string &list, std::string &error);

/// The packed weight of a `qopt.quantized_matmul` or `qopt.quantized_gather` read back from its
/// constants, with every scale decoded to f32 (double-quantized ones too), or nothing.
std::optional<qopt::quant::QuantizedWeight> readPackedWeight(mlir::Operation *op);

/// The weight as [N, K] floats, or nothing when its data cannot be read.
std::optional<std::vector<float>> readWeightRows(const WeightLayer &layer);

/// The layer's f32 weight as [N, K] rows without copying it where it is stored that way (a
/// resource blob of rows that are outputs: an embedding table, a Gemm's transposed weight);
/// otherwise `storage` holds the rows and `data` points into it. A large model's weights are
/// then never all in memory twice while they are quantized.
struct WeightRowsView {
  const float *data = nullptr;
  std::vector<float> storage;
};
std::optional<WeightRowsView> viewWeightRows(const WeightLayer &layer);

} // namespace qopt::QOpt

#endif // QOPT_DIALECTS_QOPT_TRANSFORMS_WEIGHTLAYERS_H
