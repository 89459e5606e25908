//===- Calibrator.h - run a model on calibration data, record statistics -*- C++ -*-===//
//
// Calibration sees the model's activations through the model's own compiled CPU code: the
// graph (with quantization schemes selected) is instrumented so that the inputs of the layers to
// quantize are extra results (qopt-instrument-calibration), compiled to a temporary library,
// loaded, and run on windows of calibration data; the statistics are accumulated per tensor.
//
#ifndef QOPT_CALIBRATION_CALIBRATOR_H
#define QOPT_CALIBRATION_CALIBRATOR_H

#include "dialects/QOpt/Transforms/Passes.h"
#include "qopt/Quant/CalibrationStats.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>

namespace qopt {

struct CalibrationOptions {
  /// A text file read as bytes (byte-level models), or an .npy of int64/int32 token windows
  /// [N, seq] (any tokenizer).
  std::string dataPath;
  int64_t samples = 128;
  /// Tokens per window; 0: the model's static sequence length, else 256.
  int64_t sequenceLength = 0;
  int threads = 0;
  /// Progress on standard error (windows, elapsed and remaining time).
  bool progress = false;
  /// Lowers an instrumented graph-level module to a shared library at the given path (with its
  /// weights file beside it), as the driver lowers any model.
  std::function<mlir::LogicalResult(mlir::ModuleOp, const std::string &libraryPath)> buildLibrary;
  /// The layers (display names) whose inputs to record, all when empty. When given, the model
  /// is compiled to compute those inputs alone (what only feeds its outputs is dropped).
  std::vector<std::string> onlyLayers;
};

/// Calibrates a clone of `module` (left unchanged). Every problem with the data (missing, empty,
/// wrong type or rank, token ids outside the vocabulary, windows longer than the model takes) is
/// one error on the module's context naming the file; the statistics' stamp is filled in except
/// for the model digest.
mlir::LogicalResult calibrate(mlir::ModuleOp module, const CalibrationOptions &options,
                              quant::CalibrationStats &stats);

/// The blocks of a transformer in execution order: the layers (by display name) carrying a
/// `qopt.scheme`, grouped by the block index in their names (`layers.3`, `h.3`, `layer.3`,
/// `block.3`, `l3`). A layer without one joins the block before it.
std::vector<std::vector<std::string>> layerBlocks(mlir::ModuleOp module);

/// GPTQ's sequential mode: the statistics of each block's layers are measured on the model with
/// every earlier block already quantized (with `quantize`'s options and the statistics measured
/// so far), as the published algorithm runs block by block. `module` carries the schemes (and
/// any AWQ scaling); `first` are its own statistics, which serve the first block. Fills `stats`.
mlir::LogicalResult calibrateSequentially(mlir::ModuleOp module, const CalibrationOptions &options,
                                          const QOpt::QuantizeWeightsPassOptions &quantize,
                                          const quant::CalibrationStats &first,
                                          quant::CalibrationStats &stats);

} // namespace qopt

#endif // QOPT_CALIBRATION_CALIBRATOR_H
