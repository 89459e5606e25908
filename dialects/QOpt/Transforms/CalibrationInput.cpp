//===- CalibrationInput.cpp - the statistics a data-aware pass reads ------===//
#include "dialects/QOpt/Transforms/CalibrationInput.h"

#include "mlir/IR/Diagnostics.h"

using namespace mlir;

LogicalResult qopt::QOpt::loadCalibrationInput(std::shared_ptr<quant::CalibrationStats> &stats,
                                               StringRef file, Operation *anchor,
                                               StringRef what) {
  if (!stats)
    stats = std::make_shared<quant::CalibrationStats>();
  if (!stats->layerInput.empty())
    return success();
  if (file.empty())
    return anchor->emitError() << what << " needs calibration statistics";
  std::string error;
  if (!stats->load(file.str(), error))
    return anchor->emitError() << error;
  return success();
}

FailureOr<qopt::quant::ActivationStats *>
qopt::QOpt::layerStatistics(quant::CalibrationStats &stats, const WeightLayer &layer) {
  std::string name = layerDisplayName(layer);
  quant::ActivationStats *input = stats.forLayer(name);
  if (!input)
    return layer.op->emitOpError() << "has no calibration statistics for layer '" << name
                                   << "' (made for another model?)";
  if (input->channels != layer.k)
    return layer.op->emitOpError() << "calibration statistics of layer '" << name << "' have "
                                   << input->channels << " input channels, the layer has "
                                   << layer.k;
  return input;
}
