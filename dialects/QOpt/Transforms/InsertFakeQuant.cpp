//===- InsertFakeQuant.cpp - layers with a scheme into fake-quant form (QAT) -===//
//
// The inverse view of qopt-quantize-weights: the packed codes become a latent f32 weight that
// fake-quant rounds back onto the same codes, so a trainer can move weights and scales and the
// compiler can pack what comes back.
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SetVector.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_INSERTFAKEQUANTPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
/// The name the packed constants were given after their weight (`<weight>.codes`).
std::string weightBaseName(Value codes) {
  if (auto cst = codes.getDefiningOp<arith::ConstantOp>())
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
      StringRef key = res.getRawHandle().getKey();
      key.consume_back(".codes");
      return key.str();
    }
  return "weight";
}

Value transpose2D(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  auto swapped = RankedTensorType::get({type.getDimSize(1), type.getDimSize(0)},
                                       type.getElementType());
  return TransposeOp::create(b, loc, swapped, v, b.getDenseI64ArrayAttr({1, 0}));
}

struct InsertFakeQuantPass
    : public qopt::QOpt::impl::InsertFakeQuantPassBase<InsertFakeQuantPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> packed, marked;
    getOperation().walk([&](Operation *op) {
      if (isa<QuantizedMatMulOp, QuantizedGatherOp>(op))
        packed.push_back(op);
      else if (isa_and_nonnull<SchemeAttr>(op->getAttr("qopt.scheme")) && matchWeightLayer(op))
        marked.push_back(op);
    });
    for (Operation *op : packed)
      if (failed(rewritePacked(op)))
        return signalPassFailure();
    for (Operation *op : marked)
      // A weight read through a transpose that an earlier layer shares is fake-quantized once.
      if (std::optional<WeightLayer> layer = matchWeightLayer(op))
        rewriteMarked(*layer);
      else
        op->removeAttr("qopt.scheme");
    for (Operation *op : llvm::reverse(deadCandidates))
      if (op->use_empty())
        op->erase();
  }

private:
  /// A quantized op over constants → the same layer over fake-quant(latent, scales).
  LogicalResult rewritePacked(Operation *op) {
    auto mm = dyn_cast<QuantizedMatMulOp>(op);
    auto gather = dyn_cast<QuantizedGatherOp>(op);
    SchemeAttr scheme = mm ? mm.getScheme() : gather.getScheme();
    std::optional<quant::QuantizedWeight> q = readPackedWeight(op);
    if (!q)
      return op->emitOpError() << "has packed weights that are not constants";
    std::vector<float> latent = quant::dequantizeWeight(*q, toQuantScheme(scheme));
    int64_t n = q->n, k = q->k, groups = q->groups;
    std::string base = weightBaseName(mm ? mm.getCodes() : gather.getCodes());

    OpBuilder b(op);
    Location loc = op->getLoc();
    auto bytesOf = [](const auto &v) {
      return ArrayRef<char>(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(v[0]));
    };
    Type f32 = b.getF32Type();
    Value weight = resourceConstant(b, loc, base + ".latent", {n, k}, f32, bytesOf(latent), 64);
    Value scales = resourceConstant(b, loc, base + ".scales_f32", {n, groups}, f32,
                                    bytesOf(q->scales), 64);
    Value zeros;
    if (!q->zeroPoints.empty())
      zeros = resourceConstant(b, loc, base + ".zero_points", {n, groups},
                               IntegerType::get(&getContext(), 8, IntegerType::Unsigned),
                               bytesOf(q->zeroPoints), 64);
    Value fq = FakeQuantOp::create(b, loc, weight.getType(), weight, scales, zeros, scheme,
                                   UnitAttr());
    Value result;
    if (mm) {
      Value input = activationFakeQuant(b, mm);
      result = MatMulOp::create(b, loc, mm.getType(), input, transpose2D(b, loc, fq));
    } else {
      result = GatherOp::create(b, loc, gather.getType(), fq, gather.getIndices(),
                                b.getI64IntegerAttr(0));
    }
    for (Value v : op->getOperands())
      if (Operation *def = v.getDefiningOp(); def && isa<arith::ConstantOp>(def))
        deadCandidates.insert(def);
    op->getResult(0).replaceAllUsesWith(result);
    op->erase();
    ++numLayers;
    return success();
  }

  /// The input of a matmul with int8 activations, fake-quantized the way its kernel quantizes.
  Value activationFakeQuant(OpBuilder &b, QuantizedMatMulOp mm) {
    Value x = mm.getInput();
    if (!mm.getInt8Activations())
      return x;
    ++numActivations;
    Location loc = mm.getLoc();
    MLIRContext *ctx = &getContext();
    auto xType = cast<RankedTensorType>(x.getType());
    if (std::optional<APFloat> scale = mm.getActivationScale()) {
      Type i8 = IntegerType::get(ctx, 8);
      auto scalarF32 = RankedTensorType::get({}, b.getF32Type());
      auto scalarI8 = RankedTensorType::get({}, i8);
      Value s = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(scalarF32, scale->convertToFloat()));
      Value z = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(scalarI8, APInt(8, 0)));
      Value q = QuantizeOp::create(b, loc, RankedTensorType::get(xType.getShape(), i8), x, s, z,
                                   b.getI64IntegerAttr(1), b.getI64IntegerAttr(0),
                                   b.getBoolAttr(true), TypeAttr::get(i8));
      return DequantizeOp::create(b, loc, xType, q, s, z, b.getI64IntegerAttr(1),
                                  b.getI64IntegerAttr(0));
    }
    // Run-time scales per group of the weight's scheme along K.
    SchemeAttr w = mm.getScheme();
    auto scheme = SchemeAttr::get(ctx, Codebook::Int, 8, w.getGroupSize(), /*symmetric=*/true,
                                  b.getF32Type(), 0);
    return FakeQuantOp::create(b, loc, xType, x, Value(), Value(), scheme, b.getUnitAttr());
  }

  /// An f32 layer that only carries its scheme: fake-quant with round-to-nearest's grid.
  void rewriteMarked(const WeightLayer &layer) {
    Operation *op = layer.op;
    auto scheme = cast<SchemeAttr>(op->getAttr("qopt.scheme"));
    // The weight operand: the constant itself, or the transpose that reads it.
    unsigned index = isa<GatherOp>(op) ? 0 : 1;
    Value operand = op->getOperand(index);
    arith::ConstantOp weightOp = layer.weight;
    Value weight = weightOp.getResult();
    // Built where the weight is read: before the transpose when there is one (which other
    // layers may share).
    OpBuilder b(operand != weight ? operand.getDefiningOp() : op);
    Location loc = op->getLoc();
    // Fake-quant rounds [N, K] rows; the layer reads the layout it had.
    Value rows = layer.rowsAreOutputs ? weight : transpose2D(b, loc, weight);
    Value fq = FakeQuantOp::create(b, loc, rows.getType(), rows, Value(), Value(), scheme,
                                   UnitAttr());
    if (operand != weight) {
      // matmul(x, transpose(W[N, K])): the transpose now reads the fake-quant rows.
      operand.getDefiningOp()->setOperand(0, fq);
    } else {
      op->setOperand(index, layer.rowsAreOutputs ? fq : transpose2D(b, loc, fq));
    }
    op->removeAttr("qopt.scheme");
    op->removeAttr("qopt.pinned");
    ++numLayers;
  }

  llvm::SetVector<Operation *> deadCandidates;
};
} // namespace
