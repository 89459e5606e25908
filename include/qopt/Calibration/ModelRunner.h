//===- ModelRunner.h - a graph compiled, loaded and fed calibration windows -*- C++ -*-===//
//
// What calibration and sensitivity measurement share: the windows read from the calibration data
// (with the masks and positions a model's other inputs need), and a graph-level module compiled to
// a temporary library that is loaded in this process and run window by window.
//
#ifndef QOPT_CALIBRATION_MODELRUNNER_H
#define QOPT_CALIBRATION_MODELRUNNER_H

#include "qopt/Calibration/Calibrator.h"
#include "qopt/Runtime/qopt_model.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"

#include <memory>
#include <string>
#include <vector>

namespace qopt {

/// The function a module's library runs: its first with a body, or null.
mlir::func::FuncOp mainFunction(mlir::ModuleOp module);

/// Token windows and how each model input is made from one.
struct CalibrationWindows {
  enum class Feed { Tokens, Ones, Positions };
  std::vector<Feed> feeds;
  /// Per input: int64 (else int32).
  std::vector<bool> wide;
  int64_t sequenceLength = 0;
  std::vector<std::vector<int64_t>> windows;
  /// Rows of the table the token ids index (0: unknown).
  int64_t vocabulary = 0;
};

/// The windows of `options.dataPath` for `module`'s inputs; every problem with the data is one
/// error naming the file.
mlir::FailureOr<CalibrationWindows> readCalibrationWindows(mlir::ModuleOp module,
                                                           const CalibrationOptions &options);

/// One window of one token (id 0): the inputs of a decode-sized run, for timing.
mlir::FailureOr<CalibrationWindows> oneTokenWindow(mlir::ModuleOp module);

/// A module compiled by `options.buildLibrary` into a temporary folder and loaded; both go away
/// with the object.
class CompiledModel {
public:
  ~CompiledModel();
  /// Compiles `module` (consumed by the lowering) and loads it. Errors go to `anchor`'s context.
  static mlir::FailureOr<std::unique_ptr<CompiledModel>>
  build(mlir::ModuleOp module, const CalibrationOptions &options, mlir::Operation *anchor);
  /// Loads a library already built (nothing is removed afterwards).
  static mlir::FailureOr<std::unique_ptr<CompiledModel>>
  load(const std::string &libraryPath, const std::string &weightsPath, int threads,
       mlir::Operation *anchor);
  /// Runs window `w`; `outputs` (one per model result) hold memory owned by the model until the
  /// next run. False with `error` set when the model fails.
  bool run(const CalibrationWindows &data, size_t w, std::vector<qopt_tensor> &outputs,
           std::string &error);
  /// Runs the model on `inputs` as they are.
  bool run(std::vector<qopt_tensor> &inputs, std::vector<qopt_tensor> &outputs,
           std::string &error);
  const std::string &weightsPath() const { return weights; }

private:
  CompiledModel() = default;
  llvm::SmallString<256> directory;
  std::string weights;
  void *library = nullptr;
  qopt_model *model = nullptr;
  decltype(&qopt_model_run) runFn = nullptr;
  decltype(&qopt_model_error) errorFn = nullptr;
  decltype(&qopt_model_destroy) destroyFn = nullptr;
  std::vector<std::vector<int64_t>> inputs64;
  std::vector<std::vector<int32_t>> inputs32;
};

} // namespace qopt

#endif // QOPT_CALIBRATION_MODELRUNNER_H
