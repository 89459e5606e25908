//===- NNHandlers.cpp - ONNX matmul, norm, softmax and reduction ops ------===//
#include "NodeContext.h"

using namespace mlir;
using namespace qopt::onnx_importer;
namespace Q = qopt::QOpt;

namespace {
HandlerResult importGemm(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3)))
    return failure();
  Builder &b = ctx.builder;
  return single(ctx.make<Q::GemmOp>(ctx.input(0), ctx.input(1), ctx.input(2),
                                    b.getF32FloatAttr(ctx.floatAttr("alpha", 1.0f)),
                                    b.getF32FloatAttr(ctx.floatAttr("beta", 1.0f)),
                                    b.getBoolAttr(ctx.intAttr("transA", 0) != 0),
                                    b.getBoolAttr(ctx.intAttr("transB", 0) != 0)));
}

HandlerResult importSoftmax(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  int64_t axis = ctx.intAttr("axis", ctx.opset >= 13 ? -1 : 1);
  if (ctx.opset < 13) {
    // Softmax-1/11 normalizes over all dims from `axis` on (the input flattened to 2-D); that is
    // the one-axis softmax only when `axis` is the last dim.
    int64_t rank = cast<RankedTensorType>(ctx.input(0).getType()).getRank();
    if (axis != -1 && axis != rank - 1)
      return ctx.emitError() << "before opset 13 Softmax normalizes over dims [" << axis
                             << ", " << rank << "); only the last dim is supported";
  }
  return single(ctx.make<Q::SoftmaxOp>(ctx.input(0), axis));
}

HandlerResult importLayerNorm(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3)))
    return failure();
  Builder &b = ctx.builder;
  return single(ctx.make<Q::LayerNormOp>(ctx.input(0), ctx.input(1), ctx.input(2),
                                         b.getI64IntegerAttr(ctx.intAttr("axis", -1)),
                                         b.getF32FloatAttr(ctx.floatAttr("epsilon", 1e-5f))));
}

/// Reductions: axes move from an attribute to an optional input at `axesInputSince`.
template <typename OpTy>
Handler reduce(int64_t axesInputSince) {
  return [axesInputSince](NodeContext &ctx) -> HandlerResult {
    if (failed(ctx.checkArity(1, 2)))
      return failure();
    SmallVector<int64_t> axes;
    if (ctx.opset >= axesInputSince) {
      if (ctx.input(1)) {
        auto values = ctx.constantInts(1, "axes");
        if (failed(values))
          return failure();
        axes = *values;
      }
    } else if (auto given = ctx.intsAttr("axes")) {
      axes = *given;
    }
    if (axes.empty() && ctx.intAttr("noop_with_empty_axes", 0) != 0)
      return SmallVector<Value>{ctx.input(0)};
    return single(ctx.make<OpTy>(ctx.input(0), axes, ctx.intAttr("keepdims", 1) != 0));
  };
}
} // namespace

void qopt::onnx_importer::registerNNHandlers() {
  registerHandler("", "MatMul", 1, direct<Q::MatMulOp, 2>());
  registerHandler("", "Gemm", 11, importGemm);
  registerHandler("", "Softmax", 1, importSoftmax);
  registerHandler("", "LayerNormalization", 17, importLayerNorm);
  registerHandler("", "ReduceMean", 1, reduce<Q::ReduceMeanOp>(18));
  registerHandler("", "ReduceSum", 1, reduce<Q::ReduceSumOp>(13));
  registerHandler("", "ReduceMax", 1, reduce<Q::ReduceMaxOp>(18));
  registerHandler("", "ReduceMin", 1, reduce<Q::ReduceMinOp>(18));
  registerHandler("", "ReduceProd", 1, reduce<Q::ReduceProdOp>(18));
}
