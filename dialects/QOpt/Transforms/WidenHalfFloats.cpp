//===- WidenHalfFloats.cpp - f16 graphs computed in f32 -------------------===//
//
// Models exported in half precision keep f16 inputs, outputs and weights, but the kernels compute
// in f32 (as ONNX Runtime's CPU provider does for most ops). So the graph is rewritten to compute
// in f32: f16 inputs are cast to f32 where they enter, f16 weights become f32 weights, every f16
// result becomes f32, and the outputs are cast back to f16 where they leave. The library keeps the
// model's f16 signature. Graphs whose quantization ops read f16 scales keep their types (their
// kernels take f16 scales as they are).
//
#include "dialects/QOpt/IR/ConstantValues.h"
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_WIDENHALFFLOATSPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
bool isHalfTensor(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && r.getElementType().isF16();
}

/// `t` with f32 elements.
RankedTensorType widened(Type t) {
  auto r = cast<RankedTensorType>(t);
  return RankedTensorType::get(r.getShape(), Float32Type::get(t.getContext()));
}

/// Ops whose f16 operands are quantization parameters that their kernels read as stored.
bool readsHalfStorage(Operation *op) {
  return isa<QuantizedMatMulOp, QuantizedGatherOp, QuantizeOp, DequantizeOp, DynamicQuantizeOp,
             MatMulIntegerOp, QLinearMatMulOp, QLinearAddOp, QLinearMulOp, QLinearSoftmaxOp>(op);
}

struct WidenHalfFloatsPass
    : public qopt::QOpt::impl::WidenHalfFloatsPassBase<WidenHalfFloatsPass> {
  // On the module, one function after the other: the f32 copies of weights are named resources,
  // whose names (uniqued by a counter) would depend on the threads' order otherwise.
  void runOnOperation() override {
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>())
      if (failed(widen(func)))
        return signalPassFailure();
  }

  LogicalResult widen(func::FuncOp func) {
    if (func.isExternal())
      return success();
    bool anyHalf = false, storage = false;
    func.walk([&](Operation *op) {
      for (Value v : op->getResults())
        anyHalf |= isHalfTensor(v.getType());
      if (readsHalfStorage(op))
        for (Value v : op->getOperands())
          storage |= isHalfTensor(v.getType());
    });
    for (Type t : func.getArgumentTypes())
      anyHalf |= isHalfTensor(t);
    if (!anyHalf || storage)
      return success();

    Block &body = func.getBody().front();
    OpBuilder b(&getContext());
    // Inputs: cast to f32 where they enter.
    b.setInsertionPointToStart(&body);
    for (BlockArgument arg : body.getArguments()) {
      if (!isHalfTensor(arg.getType()))
        continue;
      auto cast = CastOp::create(b, arg.getLoc(), widened(arg.getType()), arg,
                                 TypeAttr::get(b.getF32Type()));
      arg.replaceAllUsesExcept(cast.getResult(), cast);
    }
    // Every f16 result computes in f32.
    for (Operation &op : llvm::make_early_inc_range(body.without_terminator())) {
      if (auto c = dyn_cast<arith::ConstantOp>(op); c && isHalfTensor(c.getType())) {
        if (failed(widenConstant(b, c)))
          return failure();
        continue;
      }
      if (auto c = dyn_cast<CastOp>(op); c && c.getTo().isF16())
        c.setToAttr(TypeAttr::get(b.getF32Type()));
      if (auto c = dyn_cast<ConstantOfShapeOp>(op); c && isHalfTensor(c.getType())) {
        std::optional<SmallVector<double>> v = getFloatValues(c.getValue());
        if (!v || v->size() != 1) {
          c.emitOpError() << "has a half-precision fill value that cannot be read";
          return failure();
        }
        auto type = RankedTensorType::get({1}, b.getF32Type());
        c.setValueAttr(DenseElementsAttr::get(type, static_cast<float>((*v)[0])));
      }
      for (Value r : op.getResults())
        if (isHalfTensor(r.getType()))
          r.setType(widened(r.getType()));
    }
    // Outputs: cast back to f16 where they leave.
    Operation *ret = body.getTerminator();
    b.setInsertionPoint(ret);
    for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
      Value v = ret->getOperand(i);
      if (!isHalfTensor(type) || v.getType() == type)
        continue;
      auto cast = CastOp::create(b, ret->getLoc(), type, v, TypeAttr::get(b.getF16Type()));
      ret->setOperand(i, cast.getResult());
    }
    ++numWidened;
    return success();
  }

  /// An f16 weight as f32: small ones dense, large ones a resource blob like the importer's.
  LogicalResult widenConstant(OpBuilder &b, arith::ConstantOp c) {
    std::optional<SmallVector<double>> values = getFloatValues(c.getValue());
    if (!values)
      return c.emitOpError() << "holds half-precision data that cannot be read";
    RankedTensorType type = widened(c.getType());
    std::vector<float> floats(values->begin(), values->end());
    b.setInsertionPoint(c);
    Value replacement;
    if (floats.size() <= 16) {
      replacement = arith::ConstantOp::create(
          b, c.getLoc(), type, DenseElementsAttr::get(type, ArrayRef<float>(floats)));
    } else {
      std::string name = "widened";
      if (auto res = dyn_cast<DenseResourceElementsAttr>(c.getValue()))
        name = res.getRawHandle().getKey().str();
      ArrayRef<char> bytes(reinterpret_cast<const char *>(floats.data()),
                           floats.size() * sizeof(float));
      replacement = resourceConstant(b, c.getLoc(), name + ".f32", type.getShape(),
                                     b.getF32Type(), bytes, 64);
    }
    c.getResult().replaceAllUsesWith(replacement);
    c.erase();
    return success();
  }
};
} // namespace
