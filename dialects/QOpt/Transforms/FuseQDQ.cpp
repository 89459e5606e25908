//===- FuseQDQ.cpp - dequantize-op-quantize groups into integer ops -------===//
//
// A QDQ-format model spells an integer add as dequantize, float add, quantize. ONNX Runtime runs
// such groups as its integer kernels (QLinearAdd, QLinearMul, QLinearMatMul, QLinearSoftmax), whose rounding
// differs from the float spelling by one step near halves; over a transformer those steps add up
// to about 1e-2 of the output. Fusing the same groups into qopt's integer ops makes a compiled QDQ
// model compute what ONNX Runtime computes, and keeps the tensors 8-bit between the ops.
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_FUSEQDQPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
bool isSingleF32(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return t.getElementType().isF32() && t.hasStaticShape() && t.getNumElements() == 1;
}

bool isByte(Type t) { return t.isInteger(8); }

/// A per-tensor dequantize of 8-bit data, as the fused ops take it.
DequantizeOp perTensorDequantize(Value v) {
  auto dq = v.getDefiningOp<DequantizeOp>();
  if (!dq || dq.getBlockSize() != 0 || !isSingleF32(dq.getScale()) ||
      !isByte(dq.getInput().getType().getElementType()))
    return {};
  return dq;
}

/// The zero point of a dequantize / quantize, or a 0-D zero of `storage`.
Value zeroPointOf(OpBuilder &b, Location loc, Value zp, Type storage) {
  if (zp)
    return zp;
  auto type = RankedTensorType::get({}, storage);
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, APInt(8, 0)));
}

bool isSigned8(Type t) { return t.isSignedInteger(8) || t.isSignlessInteger(8); }

struct FuseQDQPass : public qopt::QOpt::impl::FuseQDQPassBase<FuseQDQPass> {
  using Base::Base;

  /// int8 activations that ONNX Runtime's x86 session turns into uint8 before fusing (a quantize
  /// whose only user is a dequantize whose only user is one op); only groups whose activations
  /// all turn uint8 are fused there, so only those are fused here. Decided on the graph as it
  /// arrives, before any fusion changes the use counts.
  DenseSet<Operation *> unsignedPairs;

  void runOnOperation() override {
    getOperation().walk([&](QuantizeOp q) {
      if (!q.getResult().hasOneUse())
        return;
      auto dq = dyn_cast<DequantizeOp>(*q.getResult().getUsers().begin());
      if (dq && dq.getResult().hasOneUse()) {
        unsignedPairs.insert(q);
        unsignedPairs.insert(dq);
      }
    });
    SmallVector<QuantizeOp> quantizes;
    getOperation().walk([&](QuantizeOp q) { quantizes.push_back(q); });
    for (QuantizeOp q : quantizes)
      if (succeeded(fuse(q)))
        ++numFused;
  }

  /// An int8 activation (not a constant) that would stay int8 in ONNX Runtime.
  bool staysSigned(DequantizeOp dq) {
    if (!isSigned8(dq.getInput().getType().getElementType()))
      return false;
    if (dq.getInput().getDefiningOp<arith::ConstantOp>())
      return false;
    return !unsignedPairs.contains(dq);
  }

  LogicalResult fuse(QuantizeOp q) {
    Type storage = q.getStorageType();
    if (q.getBlockSize() != 0 || !isSingleF32(q.getScale()) || !isByte(storage) ||
        !q.getSaturate())
      return failure();
    Operation *op = q.getInput().getDefiningOp();
    // The float op must feed only this quantize, as in ONNX Runtime's node units.
    if (!op || op->getNumResults() != 1 || !op->getResult(0).hasOneUse() ||
        !isa<AddOp, MulOp, MatMulOp, SoftmaxOp>(op))
      return failure();
    if (isSigned8(storage) && !unsignedPairs.contains(q))
      return failure();
    OpBuilder b(q);
    Location loc = op->getLoc();
    if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
      auto x = perTensorDequantize(softmax.getInput());
      if (!x || x.getInput().getType().getElementType() != storage || staysSigned(x))
        return failure();
      Value result = QLinearSoftmaxOp::create(
          b, loc, q.getType(), x.getInput(), x.getScale(), q.getScale(),
          zeroPointOf(b, loc, q.getZeroPoint(), storage), b.getI64IntegerAttr(softmax.getAxis()),
          b.getBoolAttr(false));
      q.replaceAllUsesWith(result);
      q.erase();
      op->erase();
      if (x.getResult().use_empty())
        x.erase();
      return success();
    }
    auto lhs = perTensorDequantize(op->getOperand(0));
    // QLinearAdd/Mul keep one 8-bit type throughout; QLinearMatMul may mix signedness.
    if (!lhs || (!isa<MatMulOp>(op) && lhs.getInput().getType().getElementType() != storage) ||
        staysSigned(lhs))
      return failure();
    Value lz = zeroPointOf(b, loc, lhs.getZeroPoint(), lhs.getInput().getType().getElementType());
    Value result;
    DequantizeOp rhs;
    if (isa<AddOp, MulOp>(op)) {
      rhs = perTensorDequantize(op->getOperand(1));
      if (!rhs || rhs.getInput().getType().getElementType() != storage || staysSigned(rhs))
        return failure();
      Value rz = zeroPointOf(b, loc, rhs.getZeroPoint(), storage);
      Value qz = zeroPointOf(b, loc, q.getZeroPoint(), storage);
      if (isa<AddOp>(op))
        result = QLinearAddOp::create(b, loc, q.getType(), lhs.getInput(), lhs.getScale(), lz,
                                      rhs.getInput(), rhs.getScale(), rz, q.getScale(), qz);
      else
        result = QLinearMulOp::create(b, loc, q.getType(), lhs.getInput(), lhs.getScale(), lz,
                                      rhs.getInput(), rhs.getScale(), rz, q.getScale(), qz);
      // ONNX Runtime computes these int8 groups after shifting them to uint8; the rounding of
      // its add differs between the two, so the op is told which domain to compute in.
      if (isSigned8(storage))
        result.getDefiningOp()->setAttr("unsigned_domain", b.getUnitAttr());
    } else {
      // The right operand may be quantized per tensor or per output column of a 2-D weight.
      rhs = op->getOperand(1).getDefiningOp<DequantizeOp>();
      if (!rhs || rhs.getBlockSize() != 0 || !isByte(rhs.getInput().getType().getElementType()) ||
          staysSigned(rhs))
        return failure();
      auto wType = rhs.getInput().getType();
      auto sType = rhs.getScale().getType();
      int64_t axis = static_cast<int64_t>(rhs.getAxis()); // the attribute reads back unsigned
      bool perColumn = wType.getRank() == 2 && sType.getRank() == 1 && wType.hasStaticShape() &&
                       (axis == 1 || axis == -1) &&
                       sType.getDimSize(0) == wType.getDimSize(1) && sType.getElementType().isF32();
      if (!isSingleF32(rhs.getScale()) && !perColumn)
        return failure();
      Value rz = zeroPointOf(b, loc, rhs.getZeroPoint(), wType.getElementType());
      Value qz = zeroPointOf(b, loc, q.getZeroPoint(), storage);
      result = QLinearMatMulOp::create(b, loc, q.getType(), lhs.getInput(), lhs.getScale(), lz,
                                       rhs.getInput(), rhs.getScale(), rz, q.getScale(), qz);
    }
    q.replaceAllUsesWith(result);
    q.erase();
    op->erase();
    // A dequantize may feed other ops too; it goes only when the fused op was its last user.
    if (lhs.getResult().use_empty())
      lhs.erase();
    if (rhs != lhs && rhs.getResult().use_empty())
      rhs.erase();
    return success();
  }
};
} // namespace
