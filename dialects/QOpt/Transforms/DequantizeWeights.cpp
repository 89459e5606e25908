//===- DequantizeWeights.cpp - quantized weights back to f32 --------------===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/Codebooks.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SetVector.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_DEQUANTIZEWEIGHTSPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
struct DequantizeWeightsPass
    : public qopt::QOpt::impl::DequantizeWeightsPassBase<DequantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<QuantizedMatMulOp, QuantizedGatherOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (failed(expand(op)))
        return signalPassFailure();
      ++numDequantized;
    }
  }

  LogicalResult expand(Operation *op) {
    auto mm = dyn_cast<QuantizedMatMulOp>(op);
    auto gather = dyn_cast<QuantizedGatherOp>(op);
    SchemeAttr scheme = mm ? mm.getScheme() : gather.getScheme();
    int64_t k = mm ? mm.getInFeatures() : gather.getRowSize();
    std::optional<quant::QuantizedWeight> q = readPackedWeight(op);
    if (!q)
      return op->emitOpError() << "has packed weights that are not constants";
    std::vector<float> rows = quant::dequantizeWeight(*q, toQuantScheme(scheme));
    int64_t n = q->n;
    // A matmul takes the weight as [K, N]; a gather's table is [N, K].
    std::vector<float> data = rows;
    if (mm)
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < k; ++i)
          data[i * n + r] = rows[r * k + i];
    OpBuilder b(op);
    SmallVector<int64_t> shape = mm ? SmallVector<int64_t>{k, n} : SmallVector<int64_t>{n, k};
    Value weight = resourceConstant(
        b, op->getLoc(), "dequantized_weight", shape, b.getF32Type(),
        ArrayRef<char>(reinterpret_cast<const char *>(data.data()), data.size() * sizeof(float)),
        alignof(float));
    Value result;
    if (mm)
      result = MatMulOp::create(b, op->getLoc(), mm.getType(), mm.getInput(), weight);
    else
      result = GatherOp::create(b, op->getLoc(), gather.getType(), weight, gather.getIndices(),
                                b.getI64IntegerAttr(0));
    llvm::SetVector<Operation *> inputs;
    for (Value v : op->getOperands())
      if (Operation *def = v.getDefiningOp())
        inputs.insert(def);
    op->getResult(0).replaceAllUsesWith(result);
    op->erase();
    for (Operation *def : inputs)
      if (def->use_empty() && isa<arith::ConstantOp>(def))
        def->erase();
    return success();
  }
};
} // namespace
