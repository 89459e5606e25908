//===- ApplyAWQ.cpp - AWQ scales folded into the ops that produce inputs --===//
//
// The numerical searches are lib/Quant/AWQ.cpp's; this pass finds the layers that share an
// input and lets ScaleFolding fold the factors into the op that produces it.
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/CalibrationInput.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/ScaleFolding.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/AWQ.h"
#include "qopt/Quant/CalibrationStats.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Regex.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_APPLYAWQPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
struct ApplyAWQPass : public qopt::QOpt::impl::ApplyAWQPassBase<ApplyAWQPass> {
  using Base::Base;
  ApplyAWQPass(const ApplyAWQPassOptions &options, std::shared_ptr<quant::CalibrationStats> stats)
      : Base(options), stats(std::move(stats)) {}

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(loadCalibrationInput(stats, calibration, module, "AWQ")))
      return signalPassFailure();
    // Layers with a scheme, grouped by the tensor they read, in program order.
    llvm::MapVector<Value, SmallVector<Operation *>> groups;
    module.walk([&](Operation *op) {
      if (!op->hasAttr("qopt.scheme") || !isa<SchemeAttr>(op->getAttr("qopt.scheme")))
        return;
      std::optional<WeightLayer> layer = matchWeightLayer(op);
      if (layer && !layer->isEmbedding)
        groups[op->getOperand(0)].push_back(op);
    });
    for (auto &[input, ops] : groups)
      if (failed(scaleGroup(input, ops)))
        return signalPassFailure();
    if (clip)
      for (auto &[input, ops] : groups)
        for (Operation *op : ops)
          if (failed(clipLayer(op)))
            return signalPassFailure();
  }

private:
  FailureOr<quant::ActivationStats *> statsOf(const WeightLayer &layer) {
    return layerStatistics(*stats, layer);
  }

  LogicalResult scaleGroup(Value input, ArrayRef<Operation *> ops) {
    SmallVector<WeightLayer> layers;
    for (Operation *op : ops)
      layers.push_back(*matchWeightLayer(op));
    int64_t k = layers.front().k;
    FailureOr<quant::ActivationStats *> st = statsOf(layers.front());
    if (failed(st))
      return failure();
    for (const WeightLayer &l : layers) {
      FailureOr<quant::ActivationStats *> own = statsOf(l);
      if (failed(own))
        return failure();
      if (*own != *st)
        return l.op->emitOpError() << "reads the same tensor as '" << layerDisplayName(layers[0])
                                   << "' but has other calibration statistics";
    }
    std::optional<ScaleAbsorber> absorber = findScaleAbsorber(input, ops, k);
    if (!absorber)
      return success(); // nothing can take the factors: the layers keep their scale (clip only)

    std::vector<std::vector<float>> weights;
    std::vector<quant::ScaledLayer> scaled;
    for (const WeightLayer &l : layers) {
      std::optional<std::vector<float>> rows = readWeightRows(l);
      if (!rows)
        return l.op->emitOpError() << "has a weight whose data cannot be read";
      weights.push_back(std::move(*rows));
    }
    // The reference measures the attention block's output, where the query and key errors only
    // reach through the softmax: with a value projection in the group, its error alone counts
    // (on qlm_llama w4g128: ppl 3.2569 against 3.2649 with all three).
    bool hasValue = llvm::any_of(layers, [](const WeightLayer &l) {
      return !isQueryOrKey({layerDisplayName(l)});
    });
    for (size_t i = 0; i < layers.size(); ++i)
      if (!valueErrorOnly || !hasValue || !isQueryOrKey({layerDisplayName(layers[i])}))
        scaled.push_back({weights[i].data(), layers[i].n, layers[i].k,
                          toQuantScheme(cast<SchemeAttr>(layers[i].op->getAttr("qopt.scheme")))});
    quant::AWQScaleSearch search =
        quant::searchAWQScales(scaled, (*st)->gram, (*st)->meanAbs(), grid);
    if (search.exponent == 0.0)
      return success(); // plain rounding was best: leave the graph as it is
    const std::vector<double> &s = search.scales;

    foldInputScales(layers, weights, *absorber, s, ".awq");
    (*st)->divideChannels(s);
    ++numScaled;
    return success();
  }

  /// The reference implementation leaves the query and key projections unclipped: their errors
  /// meet in the attention scores, which a layer-output error does not see.
  static bool isQueryOrKey(const std::vector<std::string> &names) {
    static llvm::Regex pattern("(^|[./_])(q|k|wq|wk|q_proj|k_proj|query|key)([./_]|$)");
    for (const std::string &name : names)
      if (pattern.match(name))
        return true;
    return false;
  }

  LogicalResult clipLayer(Operation *op) {
    WeightLayer layer = *matchWeightLayer(op);
    if (isQueryOrKey({layerDisplayName(layer)}))
      return success();
    FailureOr<quant::ActivationStats *> st = statsOf(layer);
    if (failed(st))
      return failure();
    std::optional<std::vector<float>> rows = readWeightRows(layer);
    if (!rows)
      return op->emitOpError() << "has a weight whose data cannot be read";
    quant::Scheme scheme = toQuantScheme(cast<SchemeAttr>(op->getAttr("qopt.scheme")));
    std::vector<float> ratios = quant::searchClipRatios(rows->data(), layer.n, layer.k, scheme,
                                                        (*st)->gram, grid, maxShrink);
    if (llvm::all_of(ratios, [](float r) { return r >= 1.0f; }))
      return success();
    quant::clipWeight(rows->data(), layer.n, layer.k, scheme, ratios);
    replaceWeight(layer, *rows, ".awq");
    ++numClipped;
    return success();
  }

  std::shared_ptr<quant::CalibrationStats> stats;
};
} // namespace

std::unique_ptr<Pass>
qopt::QOpt::createApplyAWQPass(const ApplyAWQPassOptions &options,
                               std::shared_ptr<quant::CalibrationStats> stats) {
  return std::make_unique<ApplyAWQPass>(options, std::move(stats));
}
