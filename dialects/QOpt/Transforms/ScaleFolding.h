//===- ScaleFolding.h - per-channel factors folded into producers -*- C++ -*-===//
//
// AWQ and SmoothQuant multiply the input channels of the layers that read one tensor by factors
// s and divide the tensor by s, so that the function stays the same and no op is added. The
// division goes into the op that produces the tensor: a norm's weight (and bias), or the output
// channels (and bias) of a linear layer whose output is multiplied elementwise into it (the up
// projection of a gated MLP). Every rewritten constant is a new one used by the rewritten op
// alone: constants are shared after CSE (norms with equal weights) and by tied layers.
//
#ifndef QOPT_DIALECTS_QOPT_TRANSFORMS_SCALEFOLDING_H
#define QOPT_DIALECTS_QOPT_TRANSFORMS_SCALEFOLDING_H

#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/IR/Value.h"

#include <optional>
#include <string>
#include <vector>

namespace qopt::QOpt {

/// What can absorb a per-channel division of a tensor.
struct ScaleAbsorber {
  mlir::Operation *norm = nullptr;   ///< rms_norm / layer_norm: scale (and bias) divided
  std::optional<WeightLayer> linear; ///< a linear layer: output channels (and bias) divided
};

/// The op that can take the division of `input` (k channels), when every reader of `input` is
/// one of `readers` (else a reader outside the group would see the divided tensor).
/// `allowLinear` admits the gated-MLP form besides norms.
std::optional<ScaleAbsorber> findScaleAbsorber(mlir::Value input,
                                               llvm::ArrayRef<mlir::Operation *> readers,
                                               int64_t k, bool allowLinear = true);

/// Multiplies the input channels of `layers` (whose [N, K] weights are `weights`) by `s` and
/// divides `absorber` by `s`; new constants are named with `suffix`.
void foldInputScales(llvm::MutableArrayRef<WeightLayer> layers,
                     const std::vector<std::vector<float>> &weights, const ScaleAbsorber &absorber,
                     const std::vector<double> &s, llvm::StringRef suffix);

/// Replaces the layer's weight by `rows` ([N, K]) in a constant of its own, in the same layout.
void replaceWeight(WeightLayer &layer, const std::vector<float> &rows, llvm::StringRef suffix);

} // namespace qopt::QOpt

#endif // QOPT_DIALECTS_QOPT_TRANSFORMS_SCALEFOLDING_H
