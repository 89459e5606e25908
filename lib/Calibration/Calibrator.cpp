//===- Calibrator.cpp - run a model on calibration data, record statistics ===//
#include "qopt/Calibration/Calibrator.h"
#include "qopt/Calibration/ModelRunner.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "qopt/Runtime/qopt_model.h"
#include "qopt/Support/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <dlfcn.h>
#include <fstream>
#include <iterator>

using namespace mlir;
using namespace qopt;

namespace {
struct ObservedTensor {
  unsigned result;
  std::vector<std::string> layers;
  int64_t channels;
};

std::string formatSeconds(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.0fs", s);
  return buffer;
}
} // namespace

LogicalResult qopt::calibrate(ModuleOp module, const CalibrationOptions &options,
                              quant::CalibrationStats &stats) {
  MLIRContext *ctx = module.getContext();
  std::string dataName = llvm::sys::path::filename(options.dataPath).str();
  auto dataError = [&]() -> InFlightDiagnostic {
    return emitError(FileLineColLoc::get(ctx, options.dataPath, 0, 0)) << "calibration data: ";
  };
  FailureOr<CalibrationWindows> data = readCalibrationWindows(module, options);
  if (failed(data))
    return failure();
  const std::vector<std::vector<int64_t>> &windows = data->windows;
  int64_t seq = data->sequenceLength;

  // The instrumented model, compiled.
  OwningOpRef<ModuleOp> instrumented = module.clone();
  {
    PassManager pm(ctx);
    QOpt::InstrumentCalibrationPassOptions instrument;
    instrument.layers.assign(options.onlyLayers.begin(), options.onlyLayers.end());
    instrument.observedOnly = !options.onlyLayers.empty();
    pm.addPass(QOpt::createInstrumentCalibrationPass(instrument));
    if (instrument.observedOnly)
      pm.addPass(createCanonicalizerPass());
    if (failed(pm.run(*instrumented)))
      return failure();
  }
  func::FuncOp imain = mainFunction(*instrumented);
  std::vector<ObservedTensor> observed;
  for (unsigned i = 0; i < imain.getNumResults(); ++i)
    if (auto layers = imain.getResultAttrOfType<ArrayAttr>(i, "qopt.calibration_layers")) {
      auto channels = imain.getResultAttrOfType<IntegerAttr>(i, "qopt.calibration_channels");
      if (!channels || channels.getInt() <= 0)
        return module.emitError() << "calibration: observed tensor " << i
                                  << " does not say its channels";
      ObservedTensor o{i, {}, channels.getInt()};
      for (Attribute a : layers)
        o.layers.push_back(cast<StringAttr>(a).getValue().str());
      observed.push_back(std::move(o));
    }
  if (observed.empty())
    return module.emitError() << "calibration: no layer to quantize reads an activation";
  // Lowering replaces the function: what is needed of it is read now.
  unsigned numResults = imain.getNumResults();

  FailureOr<std::unique_ptr<CompiledModel>> compiled =
      CompiledModel::build(*instrumented, options, module);
  if (failed(compiled))
    return failure();

  stats = quant::CalibrationStats();
  for (const ObservedTensor &o : observed) {
    for (const std::string &layer : o.layers)
      stats.layerInput[layer] = static_cast<int64_t>(stats.tensors.size());
    stats.tensors.emplace_back(o.channels);
  }
  std::vector<qopt_tensor> outputs(numResults);
  auto start = std::chrono::steady_clock::now();
  for (size_t w = 0; w < windows.size(); ++w) {
    std::string error;
    if (!(*compiled)->run(*data, w, outputs, error))
      return dataError() << "window " << w << ": the model failed: " << error;
    for (size_t o = 0; o < observed.size(); ++o) {
      const qopt_tensor &out = outputs[observed[o].result];
      int64_t elements = 1;
      for (int d = 0; d < out.rank; ++d)
        elements *= out.dims[d];
      if (out.dtype != QOPT_FLOAT32 || elements % observed[o].channels != 0)
        return module.emitError() << "calibration: an observed tensor is not f32 rows of "
                                  << observed[o].channels;
      stats.tensors[o].addRows(static_cast<const float *>(out.data),
                               elements / observed[o].channels);
    }
    if (options.progress) {
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double remaining = elapsed / double(w + 1) * double(windows.size() - w - 1);
      llvm::errs() << "\rcalibration: window " << (w + 1) << "/" << windows.size() << ", "
                   << observed.size() << " tensors, " << formatSeconds(elapsed) << " elapsed, "
                   << formatSeconds(remaining) << " left   ";
      if (w + 1 == windows.size())
        llvm::errs() << "\n";
    }
  }
  for (quant::ActivationStats &t : stats.tensors)
    t.flush();
  stats.stamp.dataFile = dataName;
  stats.stamp.samples = static_cast<int64_t>(windows.size());
  stats.stamp.sequenceLength = seq;
  return success();
}
