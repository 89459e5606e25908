//===- Calibrator.cpp - run a model on calibration data, record statistics ===//
#include "qopt/Calibration/Calibrator.h"

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
/// How each model input is fed: the token window, a mask of ones, or positions.
enum class Feed { Tokens, Ones, Positions };

struct ObservedTensor {
  unsigned result;
  std::vector<std::string> layers;
  int64_t channels;
};

/// The C ABI of a loaded model library.
struct LoadedModel {
  void *library = nullptr;
  qopt_model *model = nullptr;
  decltype(&qopt_model_run) run = nullptr;
  decltype(&qopt_model_error) error = nullptr;
  decltype(&qopt_model_destroy) destroy = nullptr;
  ~LoadedModel() {
    if (model && destroy)
      destroy(model);
    if (library)
      dlclose(library);
  }
};

/// A temporary folder removed with everything in it.
struct TemporaryDirectory {
  SmallString<256> path;
  ~TemporaryDirectory() {
    if (!path.empty())
      llvm::sys::fs::remove_directories(path);
  }
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
  func::FuncOp main;
  for (auto f : module.getOps<func::FuncOp>())
    if (!f.isExternal()) {
      main = f;
      break;
    }
  if (!main)
    return module.emitError() << "calibration: the module has no function to run";

  // The inputs: token ids first, then what can be made from a window (mask, positions).
  std::vector<Feed> feeds;
  for (unsigned i = 0; i < main.getNumArguments(); ++i) {
    auto type = dyn_cast<RankedTensorType>(main.getArgument(i).getType());
    auto name = main.getArgAttrOfType<StringAttr>(i, "qopt.name");
    std::string argName = name ? name.getValue().str() : "input" + std::to_string(i);
    bool integer2d = type && type.getRank() == 2 &&
                     (type.getElementType().isInteger(64) || type.getElementType().isInteger(32));
    if (!integer2d)
      return module.emitError() << "calibration feeds models whose inputs are token ids [batch, "
                                   "seq] (and attention_mask, position_ids); input '"
                                << argName << "' is " << main.getArgument(i).getType();
    if (i == 0)
      feeds.push_back(Feed::Tokens);
    else if (StringRef(argName).contains("mask"))
      feeds.push_back(Feed::Ones);
    else if (StringRef(argName).contains("position"))
      feeds.push_back(Feed::Positions);
    else
      return module.emitError() << "calibration cannot make a value for input '" << argName
                                << "': only token ids, attention_mask and position_ids";
  }
  auto tokenType = cast<RankedTensorType>(main.getArgument(0).getType());
  int64_t staticSeq = tokenType.isDynamicDim(1) ? 0 : tokenType.getDimSize(1);
  // The vocabulary: rows of the table the token ids index.
  int64_t vocabulary = 0;
  main.walk([&](QOpt::GatherOp g) {
    Value indices = g.getIndices();
    // Through the casts and reshapes an exporter puts between the input and the lookup.
    while (Operation *def = indices.getDefiningOp())
      if (isa<QOpt::CastOp, QOpt::ReshapeOp, QOpt::SqueezeOp, QOpt::UnsqueezeOp>(def))
        indices = def->getOperand(0);
      else
        break;
    auto table = dyn_cast<RankedTensorType>(g.getData().getType());
    if (indices == main.getArgument(0) && table && table.getRank() == 2 && !vocabulary)
      vocabulary = table.getDimSize(0);
  });

  // The windows.
  int64_t seq = options.sequenceLength ? options.sequenceLength : staticSeq ? staticSeq : 256;
  if (staticSeq && seq != staticSeq)
    return dataError() << "windows of " << seq << " tokens, but the model takes " << staticSeq;
  std::vector<std::vector<int64_t>> windows;
  if (StringRef(options.dataPath).ends_with(".npy")) {
    npy::Array array;
    if (std::string error = npy::read(options.dataPath, array); !error.empty())
      return dataError() << error;
    if (array.dtype != QOPT_INT64 && array.dtype != QOPT_INT32)
      return dataError() << "an .npy of token ids must hold int64 or int32";
    if (array.shape.size() != 2 || array.shape[0] < 1 || array.shape[1] < 1)
      return dataError() << "an .npy of token ids must have shape [windows, seq]";
    if (staticSeq && array.shape[1] != staticSeq)
      return dataError() << "windows of " << array.shape[1] << " tokens, but the model takes "
                         << staticSeq;
    if (options.sequenceLength && array.shape[1] != options.sequenceLength)
      return dataError() << "windows of " << array.shape[1]
                         << " tokens, but --calibration-seq is " << options.sequenceLength;
    seq = array.shape[1];
    int64_t count = std::min(array.shape[0], options.samples);
    for (int64_t w = 0; w < count; ++w) {
      std::vector<int64_t> ids(seq);
      for (int64_t t = 0; t < seq; ++t) {
        int64_t at = w * seq + t;
        if (array.dtype == QOPT_INT64)
          std::memcpy(&ids[t], array.data.data() + at * 8, 8);
        else {
          int32_t v;
          std::memcpy(&v, array.data.data() + at * 4, 4);
          ids[t] = v;
        }
      }
      windows.push_back(std::move(ids));
    }
  } else {
    std::ifstream in(options.dataPath, std::ios::binary);
    if (!in)
      return dataError() << "cannot read the file";
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.empty())
      return dataError() << "the file is empty";
    if (static_cast<int64_t>(bytes.size()) < seq)
      return dataError() << "the text has " << bytes.size() << " bytes, fewer than one window of "
                         << seq;
    // Windows at evenly spaced offsets over the whole text.
    int64_t count = options.samples, span = static_cast<int64_t>(bytes.size()) - seq;
    for (int64_t w = 0; w < count; ++w) {
      int64_t offset = count > 1 ? w * span / (count - 1) : 0;
      windows.emplace_back(bytes.begin() + offset, bytes.begin() + offset + seq);
    }
  }
  if (windows.empty())
    return dataError() << "no calibration windows (--calibration-samples is 0)";
  for (const auto &w : windows)
    for (int64_t id : w)
      if (id < 0 || (vocabulary && id >= vocabulary))
        return dataError() << "token id " << id << " is outside the model's vocabulary of "
                           << vocabulary;

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
  func::FuncOp imain;
  for (auto f : instrumented->getOps<func::FuncOp>())
    if (!f.isExternal()) {
      imain = f;
      break;
    }
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

  TemporaryDirectory dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("qopt-calibration", dir.path))
    return module.emitError() << "calibration: cannot make a temporary folder: " << ec.message();
  SmallString<256> libraryPath(dir.path), weightsPath(dir.path);
  llvm::sys::path::append(libraryPath, "model.so");
  llvm::sys::path::append(weightsPath, "model.weights");
  if (failed(options.buildLibrary(*instrumented, libraryPath.str().str())))
    return failure();

  LoadedModel loaded;
  loaded.library = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!loaded.library)
    return module.emitError() << "calibration: cannot load the instrumented model: " << dlerror();
  auto create = reinterpret_cast<decltype(&qopt_model_create)>(
      dlsym(loaded.library, "qopt_model_create"));
  auto lastError =
      reinterpret_cast<decltype(&qopt_last_error)>(dlsym(loaded.library, "qopt_last_error"));
  loaded.run = reinterpret_cast<decltype(&qopt_model_run)>(dlsym(loaded.library, "qopt_model_run"));
  loaded.error =
      reinterpret_cast<decltype(&qopt_model_error)>(dlsym(loaded.library, "qopt_model_error"));
  loaded.destroy =
      reinterpret_cast<decltype(&qopt_model_destroy)>(dlsym(loaded.library, "qopt_model_destroy"));
  if (!create || !lastError || !loaded.run || !loaded.error || !loaded.destroy)
    return module.emitError() << "calibration: the instrumented model lacks the qopt ABI";
  loaded.model = create(weightsPath.c_str(), options.threads);
  if (!loaded.model)
    return module.emitError() << "calibration: " << lastError();

  stats = quant::CalibrationStats();
  for (const ObservedTensor &o : observed) {
    for (const std::string &layer : o.layers)
      stats.layerInput[layer] = static_cast<int64_t>(stats.tensors.size());
    stats.tensors.emplace_back(o.channels);
  }
  std::vector<std::vector<int64_t>> inputData(feeds.size(), std::vector<int64_t>(seq));
  std::vector<std::vector<int32_t>> inputData32(feeds.size(), std::vector<int32_t>(seq));
  std::vector<qopt_tensor> inputs(feeds.size());
  std::vector<qopt_tensor> outputs(numResults);
  auto start = std::chrono::steady_clock::now();
  for (size_t w = 0; w < windows.size(); ++w) {
    for (size_t i = 0; i < feeds.size(); ++i) {
      for (int64_t t = 0; t < seq; ++t)
        inputData[i][t] = feeds[i] == Feed::Tokens ? windows[w][t] : feeds[i] == Feed::Ones ? 1 : t;
      bool wide = cast<RankedTensorType>(main.getArgument(i).getType()).getElementType().isInteger(64);
      qopt_tensor &in = inputs[i];
      in.dtype = wide ? QOPT_INT64 : QOPT_INT32;
      in.rank = 2;
      in.dims[0] = 1;
      in.dims[1] = seq;
      if (wide) {
        in.data = inputData[i].data();
      } else {
        for (int64_t t = 0; t < seq; ++t)
          inputData32[i][t] = static_cast<int32_t>(inputData[i][t]);
        in.data = inputData32[i].data();
      }
    }
    if (loaded.run(loaded.model, inputs.data(), static_cast<int>(inputs.size()), outputs.data(),
                   static_cast<int>(outputs.size())) != 0)
      return dataError() << "window " << w << ": the model failed: " << loaded.error(loaded.model);
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
