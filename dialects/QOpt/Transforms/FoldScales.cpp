//===- FoldScales.cpp - SmoothQuant's factors folded into the norms -------===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/CalibrationInput.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/ScaleFolding.h"
#include "qopt/Quant/CalibrationStats.h"

#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace qopt::QOpt {
#define GEN_PASS_DEF_FOLDSCALESPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
struct FoldScalesPass : public qopt::QOpt::impl::FoldScalesPassBase<FoldScalesPass> {
  using Base::Base;
  FoldScalesPass(const FoldScalesPassOptions &options,
                 std::shared_ptr<quant::CalibrationStats> stats)
      : Base(options), stats(std::move(stats)) {}

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      module.emitError() << "SmoothQuant's alpha must lie in [0, 1], not " << alpha;
      return signalPassFailure();
    }
    if (failed(loadCalibrationInput(stats, calibration, module, "SmoothQuant")))
      return signalPassFailure();
    llvm::MapVector<Value, SmallVector<Operation *>> groups;
    module.walk([&](Operation *op) {
      if (!isa_and_nonnull<SchemeAttr>(op->getAttr("qopt.scheme")))
        return;
      std::optional<WeightLayer> layer = matchWeightLayer(op);
      if (layer && !layer->isEmbedding)
        groups[op->getOperand(0)].push_back(op);
    });
    for (auto &[input, ops] : groups)
      if (failed(smooth(input, ops)))
        return signalPassFailure();
  }

private:
  LogicalResult smooth(Value input, ArrayRef<Operation *> ops) {
    SmallVector<WeightLayer> layers;
    for (Operation *op : ops)
      layers.push_back(*matchWeightLayer(op));
    int64_t k = layers.front().k;
    std::optional<ScaleAbsorber> absorber =
        findScaleAbsorber(input, ops, k, /*allowLinear=*/false);
    if (!absorber)
      return success();
    FailureOr<quant::ActivationStats *> found = layerStatistics(*stats, layers.front());
    if (failed(found))
      return failure();
    quant::ActivationStats *st = *found;
    std::vector<std::vector<float>> weights;
    std::vector<double> weightMax(k, 0.0);
    for (const WeightLayer &l : layers) {
      std::optional<std::vector<float>> rows = readWeightRows(l);
      if (!rows)
        return l.op->emitOpError() << "has a weight whose data cannot be read";
      for (int64_t r = 0; r < l.n; ++r)
        for (int64_t c = 0; c < k; ++c)
          weightMax[c] = std::max(weightMax[c], std::fabs(static_cast<double>((*rows)[r * k + c])));
      weights.push_back(std::move(*rows));
    }
    std::vector<double> s(k, 1.0);
    for (int64_t c = 0; c < k; ++c) {
      double a = st->absMax[c], w = weightMax[c];
      // A channel that is zero on either side is left alone.
      s[c] = a > 0.0 && w > 0.0 ? std::max(std::pow(a, alpha) / std::pow(w, 1.0 - alpha), 1e-5)
                                : 1.0;
    }
    foldInputScales(layers, weights, *absorber, s, ".smooth");
    st->divideChannels(s);
    ++numSmoothed;
    return success();
  }

  std::shared_ptr<quant::CalibrationStats> stats;
};
} // namespace

std::unique_ptr<Pass>
qopt::QOpt::createFoldScalesPass(const FoldScalesPassOptions &options,
                                 std::shared_ptr<quant::CalibrationStats> stats) {
  return std::make_unique<FoldScalesPass>(options, std::move(stats));
}
