//===- InstrumentCalibration.cpp - layer inputs as extra results ----------===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "llvm/ADT/MapVector.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_INSTRUMENTCALIBRATIONPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
struct InstrumentCalibrationPass
    : public qopt::QOpt::impl::InstrumentCalibrationPassBase<InstrumentCalibrationPass> {
  using Base::Base;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal())
        instrument(func);
  }

private:
  void instrument(func::FuncOp func) {
    llvm::MapVector<Value, SmallVector<Attribute>> inputs;
    llvm::DenseMap<Value, int64_t> channels;
    func.walk([&](Operation *op) {
      std::optional<WeightLayer> layer = matchWeightLayer(op);
      if (!layer || layer->isEmbedding)
        return;
      std::string name = layerDisplayName(*layer);
      if (!layers.empty() && !llvm::is_contained(layers, name))
        return;
      inputs[op->getOperand(0)].push_back(StringAttr::get(&getContext(), name));
      channels[op->getOperand(0)] = layer->k;
    });
    if (inputs.empty())
      return;
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    SmallVector<Value> results;
    if (!observedOnly) {
      results.assign(ret.getOperands().begin(), ret.getOperands().end());
    }
    SmallVector<Type> resultTypes;
    for (Value v : results)
      resultTypes.push_back(v.getType());
    unsigned first = results.size();
    for (auto &[value, names] : inputs) {
      results.push_back(value);
      resultTypes.push_back(value.getType());
    }
    OpBuilder b(ret);
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    // The result attributes: the old ones, then a name and the readers of each observed tensor.
    SmallVector<DictionaryAttr> attrs;
    for (unsigned i = 0; i < first; ++i)
      attrs.push_back(func.getResultAttrDict(i) ? func.getResultAttrDict(i)
                                                : b.getDictionaryAttr({}));
    unsigned point = 0;
    for (auto &[value, names] : inputs) {
      attrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("qopt.name",
                          b.getStringAttr("qopt.calibration." + std::to_string(point++))),
           b.getNamedAttr("qopt.calibration_layers", b.getArrayAttr(names)),
           b.getNamedAttr("qopt.calibration_channels", b.getI64IntegerAttr(channels[value]))}));
      ++numObserved;
    }
    func.setFunctionType(FunctionType::get(&getContext(), func.getArgumentTypes(), resultTypes));
    func.setAllResultAttrs(attrs);
  }
};
} // namespace
