//===- DecomposeToKernelForms.cpp - ops onto the forms kernels are made for -===//
//
// The code generator has kernels for a product by a packed weight with an epilogue, products of
// two activations, elementwise chains, last-axis softmax and strided copies. Two ops that ONNX
// models carry fall between those: Gemm in its general form and a softmax over a middle axis.
// Rewritten into the ops those kernels compute, they need no kernels of their own: a transposed
// A becomes a copy, alpha and beta multiplies that fuse into the product's epilogue, and a
// middle-axis softmax two transposes around a last-axis one (as ONNX Runtime computes it).
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_DECOMPOSETOKERNELFORMSPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
bool isF32Tensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isF32();
}

Value transposed(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  return TransposeOp::create(b, loc, RankedTensorType::get(shape, type.getElementType()), v,
                             b.getDenseI64ArrayAttr(perm));
}

/// A softmax's axis counted from the front (I64Attr reads back unsigned, so a negative axis needs
/// the signed value).
int64_t normalizedAxis(SoftmaxOp s) {
  int64_t rank = cast<RankedTensorType>(s.getType()).getRank();
  int64_t axis = static_cast<int64_t>(s.getAxis());
  return axis < 0 ? axis + rank : axis;
}

Value scalar(OpBuilder &b, Location loc, float v) {
  auto type = RankedTensorType::get({}, b.getF32Type());
  return arith::ConstantOp::create(b, loc, type, DenseElementsAttr::get(type, v));
}

struct DecomposeToKernelFormsPass
    : public qopt::QOpt::impl::DecomposeToKernelFormsPassBase<DecomposeToKernelFormsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<GemmOp> gemms;
    SmallVector<SoftmaxOp> softmaxes;
    getOperation().walk([&](Operation *op) {
      if (auto g = dyn_cast<GemmOp>(op); g && gemm && decomposable(g))
        gemms.push_back(g);
      if (auto s = dyn_cast<SoftmaxOp>(op); s && softmax && isF32Tensor(s.getInput())) {
        int64_t rank = cast<RankedTensorType>(s.getType()).getRank();
        int64_t axis = normalizedAxis(s);
        if (rank > 1 && axis >= 0 && axis < rank - 1)
          softmaxes.push_back(s);
      }
    });
    for (GemmOp g : gemms)
      decompose(g);
    for (SoftmaxOp s : softmaxes)
      decompose(s);
  }

private:
  /// A gemm of f32 matrices that the packed-weight path does not take whole (a plain gemm by a
  /// constant weight keeps its form for it).
  bool decomposable(GemmOp g) {
    if (!isF32Tensor(g.getA()) || !isF32Tensor(g.getB()) || (g.getC() && !isF32Tensor(g.getC())))
      return false;
    if (cast<RankedTensorType>(g.getA().getType()).getRank() != 2 ||
        cast<RankedTensorType>(g.getB().getType()).getRank() != 2)
      return false;
    std::optional<WeightLayer> layer = matchWeightLayer(g);
    if (!layer)
      return true;
    // The packed path takes a bias only along the output columns.
    Value c = g.getC();
    if (!c)
      return false;
    auto bias = cast<RankedTensorType>(c.getType());
    return bias.getRank() < 1 || bias.getShape().back() != layer->n;
  }

  /// alpha * op(A) op(B) + beta * C as transposes, a matmul, and multiplies and an add.
  void decompose(GemmOp g) {
    OpBuilder b(g);
    Location loc = g.getLoc();
    auto resultType = cast<RankedTensorType>(g.getType());
    Value a = g.getTransA() ? transposed(b, loc, g.getA(), {1, 0}) : g.getA();
    Value rhs = g.getTransB() ? transposed(b, loc, g.getB(), {1, 0}) : g.getB();
    Value y = MatMulOp::create(b, loc, resultType, a, rhs);
    float alpha = g.getAlpha().convertToFloat(), beta = g.getBeta().convertToFloat();
    if (alpha != 1.0f)
      y = MulOp::create(b, loc, resultType, y, scalar(b, loc, alpha));
    if (Value c = g.getC(); c && beta != 0.0f) {
      if (beta != 1.0f)
        c = MulOp::create(b, loc, c.getType(), c, scalar(b, loc, beta));
      y = AddOp::create(b, loc, resultType, y, c);
    }
    g.getResult().replaceAllUsesWith(y);
    g.erase();
    ++numGemms;
  }

  /// A softmax over axis a: swap a with the last axis, softmax over the last, swap back.
  void decompose(SoftmaxOp s) {
    OpBuilder b(s);
    Location loc = s.getLoc();
    int64_t rank = cast<RankedTensorType>(s.getType()).getRank();
    int64_t axis = normalizedAxis(s);
    SmallVector<int64_t> perm;
    for (int64_t d = 0; d < rank; ++d)
      perm.push_back(d);
    std::swap(perm[axis], perm[rank - 1]);
    Value t = transposed(b, loc, s.getInput(), perm);
    Value inner = SoftmaxOp::create(b, loc, t.getType(), t, b.getI64IntegerAttr(-1));
    s.getResult().replaceAllUsesWith(transposed(b, loc, inner, perm));
    s.erase();
    ++numSoftmaxes;
  }
};
} // namespace
