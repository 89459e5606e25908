//===- CalibrationInput.h - the statistics a data-aware pass reads -*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_TRANSFORMS_CALIBRATIONINPUT_H
#define QOPT_DIALECTS_QOPT_TRANSFORMS_CALIBRATIONINPUT_H

#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/CalibrationStats.h"

#include "mlir/IR/Operation.h"

#include <memory>

namespace qopt::QOpt {

/// The statistics handed over in `stats`, or else those of `file`, loaded into the object that
/// the passes of one pipeline share (AWQ and SmoothQuant rescale them for the passes after).
/// Without either, an error on `anchor` saying that `what` needs calibration statistics.
mlir::LogicalResult loadCalibrationInput(std::shared_ptr<quant::CalibrationStats> &stats,
                                         llvm::StringRef file, mlir::Operation *anchor,
                                         llvm::StringRef what);

/// The statistics of `layer`'s input, or an error on the layer when there are none or they have
/// another number of channels (statistics made for another model).
mlir::FailureOr<quant::ActivationStats *> layerStatistics(quant::CalibrationStats &stats,
                                                         const WeightLayer &layer);

} // namespace qopt::QOpt

#endif // QOPT_DIALECTS_QOPT_TRANSFORMS_CALIBRATIONINPUT_H
