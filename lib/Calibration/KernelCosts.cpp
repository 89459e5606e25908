//===- KernelCosts.cpp - what each candidate's kernel costs on this machine ===//
#include "qopt/Calibration/KernelCosts.h"

#include "qopt/Calibration/ModelRunner.h"
#include "qopt/Quant/PrecisionCandidates.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <map>

using namespace mlir;
using namespace qopt;
using namespace qopt::QOpt;

namespace {
/// Copies of a layer in one timing library are capped: beyond this the library takes long to
/// build and the time per copy no longer changes.
constexpr int64_t kMaxCopies = 32;

/// Median seconds of `run` after a warm-up, repeated for about a quarter of a second.
template <typename Fn> FailureOr<double> medianSeconds(Fn run) {
  for (int i = 0; i < 3; ++i)
    if (!run())
      return failure();
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 15 ||
         (times.size() < 2000 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 0.25)) {
    auto t0 = std::chrono::steady_clock::now();
    if (!run())
      return failure();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

/// The cost table: microseconds by "cpu/threads/NxK/candidate".
class CostTable {
public:
  void read(const std::string &path) {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer)
      return;
    llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
    if (!json) {
      llvm::consumeError(json.takeError());
      return;
    }
    if (const llvm::json::Object *root = json->getAsObject())
      if (const llvm::json::Object *entries = root->getObject("kernels_us"))
        for (const auto &[key, value] : *entries)
          if (auto us = value.getAsNumber(); us && *us >= 0.0)
            costs[key.str()] = *us;
  }
  bool write(const std::string &path) const {
    llvm::json::Object entries;
    for (const auto &[key, us] : costs)
      entries[key] = us;
    llvm::json::Object root{{"format", "qopt kernel costs 1"}, {"kernels_us", std::move(entries)}};
    SmallString<256> dir(path);
    llvm::sys::path::remove_filename(dir);
    if (!dir.empty())
      llvm::sys::fs::create_directories(dir);
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return false;
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
    return true;
  }
  std::map<std::string, double> costs;
};

/// The module holding `copies` [k, n] layers in `candidate`, all reading one [1, 1, k] input,
/// their outputs summed.
OwningOpRef<ModuleOp> timingModule(MLIRContext *ctx, int64_t n, int64_t k, int64_t copies,
                                   const quant::PrecisionCandidate &candidate) {
  OpBuilder b(ctx);
  Location loc = NameLoc::get(StringAttr::get(ctx, "kernel_cost"));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type f32 = b.getF32Type();
  auto inType = RankedTensorType::get({1, 1, k}, f32);
  auto outType = RankedTensorType::get({1, 1, n}, f32);
  auto fn = func::FuncOp::create(b, loc, "main", b.getFunctionType({inType}, {outType}));
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  // Weights of a plausible spread (deterministic); their values do not change the kernels' time.
  std::vector<float> weights(k * n);
  uint32_t state = 12345;
  Value sum;
  for (int64_t c = 0; c < copies; ++c) {
    for (float &w : weights) {
      state = state * 1664525u + 1013904223u;
      w = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 0.1f;
    }
    Value w = resourceConstant(b, loc, "w" + std::to_string(c), {k, n}, f32,
                               ArrayRef<char>(reinterpret_cast<const char *>(weights.data()),
                                              weights.size() * sizeof(float)),
                               64);
    auto mm = MatMulOp::create(b, loc, outType, body->getArgument(0), w);
    if (!candidate.keepFloat)
      mm->setAttr("qopt.scheme", toSchemeAttr(ctx, candidate.scheme));
    sum = sum ? Value(AddOp::create(b, loc, outType, sum, mm.getResult())) : mm.getResult();
  }
  func::ReturnOp::create(b, loc, ValueRange{sum});
  return module;
}

/// Median milliseconds of one-token runs of `model`, compiled from `module` (whose inputs say how
/// to feed it).
FailureOr<double> timeOneToken(ModuleOp module, CompiledModel &model) {
  FailureOr<CalibrationWindows> window = oneTokenWindow(module);
  if (failed(window))
    return failure();
  func::FuncOp main = mainFunction(module);
  std::vector<qopt_tensor> outputs(main ? main.getNumResults() : 1);
  std::string error;
  FailureOr<double> seconds = medianSeconds([&]() { return model.run(*window, 0, outputs, error); });
  if (failed(seconds))
    return module.emitError() << "latency: the model failed at one token: " << error;
  return *seconds * 1000.0;
}
} // namespace

FailureOr<double> qopt::measureTokenLatency(ModuleOp module, const std::string &libraryPath,
                                            int threads) {
  SmallString<256> weights(libraryPath);
  llvm::sys::path::replace_extension(weights, "weights");
  auto loaded = CompiledModel::load(libraryPath, weights.str().str(), threads, module);
  if (failed(loaded))
    return failure();
  return timeOneToken(module, **loaded);
}

LogicalResult qopt::attachLatencies(ModuleOp module, const LatencyOptions &options) {
  MLIRContext *ctx = module.getContext();
  std::vector<WeightLayer> layers = decidedLayers(module);
  if (layers.empty())
    return success();
  quant::Scheme base = toQuantScheme(cast<SchemeAttr>(layers.front().op->getAttr("qopt.scheme")));
  std::string error;
  auto parsed = candidatesFor(layers.front(), options.candidates, error);
  if (!parsed)
    return module.emitError() << "mixed precision: " << error;
  // The reference plan, every layer at the flags' scheme, is timed as a whole model too.
  std::vector<quant::PrecisionCandidate> timed = *parsed;
  quant::PrecisionCandidate reference;
  reference.scheme = base;
  reference.name = quant::candidateName(base);
  size_t referenceIndex = timed.size();
  for (size_t c = 0; c < timed.size(); ++c)
    if (timed[c].name == reference.name)
      referenceIndex = c;
  if (referenceIndex == timed.size())
    timed.push_back(reference);

  CostTable table;
  if (!options.costTablePath.empty())
    table.read(options.costTablePath);
  CalibrationOptions build;
  build.buildLibrary = options.buildLibrary;
  build.threads = options.threads;
  std::string prefix = options.cpu + "/t" + std::to_string(options.threads) + "/";
  // Per candidate, the bytes all decided layers would take: the footprint each timing mimics.
  std::vector<int64_t> footprint(timed.size(), 0);
  for (size_t c = 0; c < timed.size(); ++c)
    for (const WeightLayer &l : layers)
      footprint[c] += timed[c].bytes(l.n, l.k);
  std::map<std::pair<int64_t, int64_t>, std::vector<double>> costs; // (n, k) -> us per candidate
  for (const WeightLayer &l : layers)
    costs[{l.n, l.k}];
  size_t measured = 0, total = costs.size() * timed.size();
  auto start = std::chrono::steady_clock::now();
  for (auto &[shape, us] : costs) {
    auto [n, k] = shape;
    for (size_t c = 0; c < timed.size(); ++c) {
      int64_t copies = std::clamp<int64_t>(
          (footprint[c] + timed[c].bytes(n, k) / 2) / std::max<int64_t>(1, timed[c].bytes(n, k)), 1,
          kMaxCopies);
      std::string key = prefix + std::to_string(n) + "x" + std::to_string(k) + "/" +
                        timed[c].name + "/x" + std::to_string(copies);
      auto it = table.costs.find(key);
      if (it == table.costs.end()) {
        OwningOpRef<ModuleOp> timing = timingModule(ctx, n, k, copies, timed[c]);
        auto compiled = CompiledModel::build(*timing, build, module);
        if (failed(compiled))
          return failure();
        std::vector<float> x(k, 0.01f);
        qopt_tensor in{QOPT_FLOAT32, 3, {1, 1, k}, x.data()};
        std::vector<qopt_tensor> inputs{in}, outputs(1);
        FailureOr<double> seconds =
            medianSeconds([&]() { return (*compiled)->run(inputs, outputs, error); });
        if (failed(seconds))
          return module.emitError() << "latency: a timing library failed: " << error;
        it = table.costs.emplace(key, *seconds * 1e6 / double(copies)).first;
        ++measured;
      }
      us.push_back(it->second);
      if (options.progress) {
        double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        llvm::errs() << "\rlatency: kernel " << us.size() << "/" << timed.size() << " of "
                     << n << "x" << k << ", " << measured << " measured of " << total << ", "
                     << llvm::format("%.0f", elapsed) << "s   ";
      }
    }
  }
  if (options.progress)
    llvm::errs() << "\n";
  if (!options.costTablePath.empty() && measured && !table.write(options.costTablePath))
    module.emitWarning() << "latency: cannot write the cost table " << options.costTablePath;

  // Everything but the decided layers, from the reference plan's measured time.
  OwningOpRef<ModuleOp> referenceModel = module.clone();
  auto compiled = CompiledModel::build(*referenceModel, build, module);
  if (failed(compiled))
    return failure();
  FailureOr<double> referenceMs = timeOneToken(module, **compiled);
  if (failed(referenceMs))
    return failure();
  double layersUs = 0.0;
  for (const WeightLayer &l : layers)
    layersUs += costs[{l.n, l.k}][referenceIndex];
  double fixedUs = *referenceMs * 1000.0 - layersUs;
  if (fixedUs < 0.0)
    fixedUs = 0.0; // the layers' isolated times overestimate: nothing else is left to count
  module->setAttr("qopt.fixed_latency_us", FloatAttr::get(Float64Type::get(ctx), fixedUs));
  for (const WeightLayer &l : layers) {
    SmallVector<NamedAttribute> entries;
    const std::vector<double> &us = costs[{l.n, l.k}];
    for (size_t c = 0; c < parsed->size(); ++c)
      entries.emplace_back(StringAttr::get(ctx, (*parsed)[c].name),
                           FloatAttr::get(Float64Type::get(ctx), us[c]));
    l.op->setAttr("qopt.latency", DictionaryAttr::get(ctx, entries));
  }
  return success();
}
