//===- ModelRunner.cpp - a graph compiled, loaded and fed calibration windows ===//
#include "qopt/Calibration/ModelRunner.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "qopt/Support/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <iterator>

using namespace mlir;
using namespace qopt;

func::FuncOp qopt::mainFunction(ModuleOp module) {
  for (auto f : module.getOps<func::FuncOp>())
    if (!f.isExternal())
      return f;
  return {};
}

namespace {/// How each input of `main` is made from a window: token ids first, then what can be made from
/// a window (mask, positions).
LogicalResult describeFeeds(ModuleOp module, func::FuncOp main, CalibrationWindows &result) {
  using Feed = CalibrationWindows::Feed;
  std::vector<Feed> &feeds = result.feeds;
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
    result.wide.push_back(type.getElementType().isInteger(64));
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
  return success();
}
} // namespace

FailureOr<CalibrationWindows> qopt::oneTokenWindow(ModuleOp module) {
  func::FuncOp main = mainFunction(module);
  if (!main)
    return module.emitError() << "the module has no function to run";
  CalibrationWindows result;
  if (failed(describeFeeds(module, main, result)))
    return failure();
  result.sequenceLength = 1;
  result.windows.push_back({0});
  return result;
}

FailureOr<CalibrationWindows> qopt::readCalibrationWindows(ModuleOp module,
                                                           const CalibrationOptions &options) {
  MLIRContext *ctx = module.getContext();
  auto dataError = [&]() -> InFlightDiagnostic {
    return emitError(FileLineColLoc::get(ctx, options.dataPath, 0, 0)) << "calibration data: ";
  };
  func::FuncOp main = mainFunction(module);
  if (!main)
    return module.emitError() << "calibration: the module has no function to run";
  CalibrationWindows result;
  std::vector<std::vector<int64_t>> &windows = result.windows;
  if (failed(describeFeeds(module, main, result)))
    return failure();
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
  // A stream of tokens (text as bytes, or a tokenizer's ids as [n] or [1, n]) is cut into
  // windows at evenly spaced offsets; a [windows, seq] array gives its windows as they are.
  std::vector<int64_t> stream;
  bool isStream = true;
  if (StringRef(options.dataPath).ends_with(".npy")) {
    npy::Array array;
    if (std::string error = npy::read(options.dataPath, array); !error.empty())
      return dataError() << error;
    if (array.dtype != QOPT_INT64 && array.dtype != QOPT_INT32)
      return dataError() << "an .npy of token ids must hold int64 or int32";
    if (array.shape.empty() || array.shape.size() > 2 ||
        llvm::any_of(array.shape, [](int64_t d) { return d < 1; }))
      return dataError() << "an .npy of token ids must have shape [tokens], [1, tokens] or "
                            "[windows, seq]";
    int64_t total = 1;
    for (int64_t d : array.shape)
      total *= d;
    std::vector<int64_t> ids(total);
    for (int64_t at = 0; at < total; ++at) {
      if (array.dtype == QOPT_INT64) {
        std::memcpy(&ids[at], array.data.data() + at * 8, 8);
      } else {
        int32_t v;
        std::memcpy(&v, array.data.data() + at * 4, 4);
        ids[at] = v;
      }
    }
    isStream = array.shape.size() == 1 || array.shape[0] == 1;
    if (!isStream) {
      int64_t width = array.shape[1];
      if (staticSeq && width != staticSeq)
        return dataError() << "windows of " << width << " tokens, but the model takes "
                           << staticSeq;
      if (options.sequenceLength && width != options.sequenceLength)
        return dataError() << "windows of " << width << " tokens, but --calibration-seq is "
                           << options.sequenceLength;
      seq = width;
      int64_t count = std::min(array.shape[0], options.samples);
      for (int64_t w = 0; w < count; ++w)
        windows.emplace_back(ids.begin() + w * seq, ids.begin() + (w + 1) * seq);
    } else {
      stream = std::move(ids);
    }
  } else {
    std::ifstream in(options.dataPath, std::ios::binary);
    if (!in)
      return dataError() << "cannot read the file";
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.empty())
      return dataError() << "the file is empty";
    stream.assign(bytes.begin(), bytes.end());
  }
  if (isStream) {
    if (static_cast<int64_t>(stream.size()) < seq)
      return dataError() << "the data has " << stream.size() << " tokens, fewer than one window of "
                         << seq;
    int64_t count = options.samples, span = static_cast<int64_t>(stream.size()) - seq;
    for (int64_t w = 0; w < count; ++w) {
      int64_t offset = count > 1 ? w * span / (count - 1) : 0;
      windows.emplace_back(stream.begin() + offset, stream.begin() + offset + seq);
    }
  }
  if (windows.empty())
    return dataError() << "no calibration windows (--calibration-samples is 0)";
  for (const auto &w : windows)
    for (int64_t id : w)
      if (id < 0 || (vocabulary && id >= vocabulary))
        return dataError() << "token id " << id << " is outside the model's vocabulary of "
                           << vocabulary;

  result.sequenceLength = seq;
  result.vocabulary = vocabulary;
  return result;
}

CompiledModel::~CompiledModel() {
  if (model && destroyFn)
    destroyFn(model);
  if (library)
    dlclose(library);
  if (!directory.empty())
    llvm::sys::fs::remove_directories(directory);
}

FailureOr<std::unique_ptr<CompiledModel>>
CompiledModel::build(ModuleOp module, const CalibrationOptions &options, Operation *anchor) {
  std::unique_ptr<CompiledModel> m(new CompiledModel());
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("qopt-calibration", m->directory))
    return anchor->emitError() << "calibration: cannot make a temporary folder: " << ec.message();
  SmallString<256> libraryPath(m->directory), weightsPath(m->directory);
  llvm::sys::path::append(libraryPath, "model.so");
  llvm::sys::path::append(weightsPath, "model.weights");
  m->weights = weightsPath.str().str();
  if (failed(options.buildLibrary(module, libraryPath.str().str())))
    return failure();
  FailureOr<std::unique_ptr<CompiledModel>> loaded =
      load(libraryPath.str().str(), m->weights, options.threads, anchor);
  if (failed(loaded))
    return failure();
  // The loaded object takes over the folder.
  (*loaded)->directory = m->directory;
  m->directory.clear();
  return loaded;
}

FailureOr<std::unique_ptr<CompiledModel>> CompiledModel::load(const std::string &libraryPath,
                                                             const std::string &weightsPath,
                                                             int threads, Operation *anchor) {
  std::unique_ptr<CompiledModel> m(new CompiledModel());
  m->weights = weightsPath;
  m->library = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->library)
    return anchor->emitError() << "calibration: cannot load the compiled model: " << dlerror();
  auto create =
      reinterpret_cast<decltype(&qopt_model_create)>(dlsym(m->library, "qopt_model_create"));
  auto lastError =
      reinterpret_cast<decltype(&qopt_last_error)>(dlsym(m->library, "qopt_last_error"));
  m->runFn = reinterpret_cast<decltype(&qopt_model_run)>(dlsym(m->library, "qopt_model_run"));
  m->errorFn =
      reinterpret_cast<decltype(&qopt_model_error)>(dlsym(m->library, "qopt_model_error"));
  m->destroyFn =
      reinterpret_cast<decltype(&qopt_model_destroy)>(dlsym(m->library, "qopt_model_destroy"));
  if (!create || !lastError || !m->runFn || !m->errorFn || !m->destroyFn)
    return anchor->emitError() << "calibration: the compiled model lacks the qopt ABI";
  m->model = create(weightsPath.c_str(), threads);
  if (!m->model)
    return anchor->emitError() << "calibration: " << lastError();
  return m;
}

bool CompiledModel::run(std::vector<qopt_tensor> &inputs, std::vector<qopt_tensor> &outputs,
                        std::string &error) {
  if (runFn(model, inputs.data(), static_cast<int>(inputs.size()), outputs.data(),
            static_cast<int>(outputs.size())) != 0) {
    error = errorFn(model);
    return false;
  }
  return true;
}

bool CompiledModel::run(const CalibrationWindows &data, size_t w,
                        std::vector<qopt_tensor> &outputs, std::string &error) {
  using Feed = CalibrationWindows::Feed;
  size_t count = data.feeds.size();
  int64_t seq = data.sequenceLength;
  inputs64.resize(count);
  inputs32.resize(count);
  std::vector<qopt_tensor> inputs(count);
  for (size_t i = 0; i < count; ++i) {
    inputs64[i].resize(seq);
    for (int64_t t = 0; t < seq; ++t)
      inputs64[i][t] = data.feeds[i] == Feed::Tokens ? data.windows[w][t]
                       : data.feeds[i] == Feed::Ones ? 1
                                                     : t;
    qopt_tensor &in = inputs[i];
    in.dtype = data.wide[i] ? QOPT_INT64 : QOPT_INT32;
    in.rank = 2;
    in.dims[0] = 1;
    in.dims[1] = seq;
    if (data.wide[i]) {
      in.data = inputs64[i].data();
    } else {
      inputs32[i].assign(inputs64[i].begin(), inputs64[i].end());
      in.data = inputs32[i].data();
    }
  }
  return run(inputs, outputs, error);
}
