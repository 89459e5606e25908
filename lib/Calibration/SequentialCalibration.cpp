//===- SequentialCalibration.cpp - statistics measured block by block -----===//
//
// The reference GPTQ runs a transformer block by block: the inputs of block i come from blocks
// 0..i-1 already quantized, so each block corrects the error of those before it. Here a working
// copy of the model has its blocks quantized one after another (and expanded back to f32, so
// that it compiles as any model does); before each block is quantized, the copy is calibrated
// again for that block's layers.
//
#include "qopt/Calibration/Calibrator.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

using namespace mlir;
using namespace qopt;

std::vector<std::vector<std::string>> qopt::layerBlocks(ModuleOp module) {
  static llvm::Regex blockIndex(
      "(^|[./_])(layers|layer|h|blocks|block|l)[./_]?([0-9]+)([./_]|$)");
  std::vector<std::vector<std::string>> blocks;
  std::string previous;
  module.walk([&](Operation *op) {
    if (!op->hasAttr("qopt.scheme"))
      return;
    std::optional<QOpt::WeightLayer> layer = QOpt::matchWeightLayer(op);
    if (!layer || layer->isEmbedding)
      return;
    std::string name = QOpt::layerDisplayName(*layer);
    SmallVector<StringRef> match;
    std::string block = blockIndex.match(name, &match) ? match[3].str() : previous;
    if (blocks.empty() || block != previous)
      blocks.emplace_back();
    blocks.back().push_back(name);
    previous = block;
  });
  return blocks;
}

LogicalResult qopt::calibrateSequentially(ModuleOp module, const CalibrationOptions &options,
                                          const QOpt::QuantizeWeightsPassOptions &quantize,
                                          const quant::CalibrationStats &first,
                                          quant::CalibrationStats &stats) {
  stats = first;
  std::vector<std::vector<std::string>> blocks = layerBlocks(module);
  if (blocks.size() < 2)
    return success();
  OwningOpRef<ModuleOp> working = module.clone();
  MLIRContext *ctx = module.getContext();
  for (size_t b = 1; b < blocks.size(); ++b) {
    // Quantize block b-1 of the working copy, then expand it back to f32.
    llvm::StringSet<> previous;
    for (const std::string &name : blocks[b - 1])
      previous.insert(name);
    std::vector<std::pair<Operation *, Attribute>> held;
    working->walk([&](Operation *op) {
      Attribute scheme = op->getAttr("qopt.scheme");
      if (!scheme)
        return;
      std::optional<QOpt::WeightLayer> layer = QOpt::matchWeightLayer(op);
      if (layer && !layer->isEmbedding && previous.contains(QOpt::layerDisplayName(*layer)))
        return;
      held.emplace_back(op, scheme);
      op->removeAttr("qopt.scheme");
    });
    PassManager pm(ctx);
    pm.addPass(QOpt::createQuantizeWeightsPass(
        quantize, nullptr, std::make_shared<quant::CalibrationStats>(stats)));
    pm.addPass(QOpt::createDequantizeWeightsPass());
    if (failed(pm.run(*working)))
      return failure();
    for (auto &[op, scheme] : held)
      op->setAttr("qopt.scheme", scheme);

    // Calibrate the copy for block b.
    llvm::StringSet<> current;
    for (const std::string &name : blocks[b])
      current.insert(name);
    CalibrationOptions blockOptions = options;
    blockOptions.onlyLayers = blocks[b];
    if (options.progress)
      llvm::errs() << "sequential calibration: block " << (b + 1) << "/" << blocks.size() << "\n";
    quant::CalibrationStats measured;
    if (failed(calibrate(*working, blockOptions, measured)))
      return failure();
    int64_t base = static_cast<int64_t>(stats.tensors.size());
    for (quant::ActivationStats &t : measured.tensors)
      stats.tensors.push_back(std::move(t));
    for (const auto &[layer, index] : measured.layerInput)
      if (current.contains(layer))
        stats.layerInput[layer] = base + index;
  }
  return success();
}
