//===- QLinearHandlers.cpp - ONNX Runtime's QOperator-format ops ----------===//
//
// ONNX Runtime's static quantizer in QOperator format writes com.microsoft ops that take uint8/int8
// tensors with their scale and zero point and return a requantized result. QLinearAdd and
// QLinearMul become qopt ops of their own, computed as ONNX Runtime's kernels compute them (see
// lib/Runtime/QLinearKernels.cpp), as does QLinearSoftmax. The others (QLinearSigmoid,
// QLinearLeakyRelu, QLinearConcat, QLinearWhere) are defined as "dequantize the inputs, apply the float op, quantize
// the result", and that is how they are imported, so they share the exact QuantizeLinear rounding
// (half to even, saturating) and later passes see ordinary float ops. QGemm's constant weight
// becomes a dequantize feeding a gemm, which the weight-dequantize fold turns into a quantized
// matmul like any QDQ weight. The ops that quantize activations on the fly (DynamicQuantizeMatMul,
// MatMulIntegerToFloat) become DynamicQuantizeLinear / MatMulInteger and a float rescale.
//
#include "NodeContext.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace qopt::onnx_importer;
namespace Q = qopt::QOpt;

namespace {
/// A quantized operand: the tensor, its scale and optional zero point.
struct QTensor {
  Value data, scale, zeroPoint;
};

QTensor operand(NodeContext &ctx, size_t first) {
  return {ctx.input(first), ctx.input(first + 1), ctx.input(first + 2)};
}

/// Checks that the inputs at `required` are present (the contrib definitions require them).
LogicalResult requireInputs(NodeContext &ctx, std::initializer_list<size_t> required) {
  for (size_t i : required)
    if (!ctx.input(i))
      return ctx.emitError() << "input " << i << " is required";
  return success();
}

/// Checks the input count and the inputs at `required`: zero points are optional in the middle
/// of these ops' input lists, so presence is checked by position, not by count.
LogicalResult checkInputs(NodeContext &ctx, size_t min, size_t max,
                          std::initializer_list<size_t> required) {
  // The arity check proper (and the single-output check) with no input required by position.
  if (failed(ctx.checkArity(0, max)))
    return failure();
  if (ctx.node.input_size() < static_cast<int>(min))
    return ctx.emitError() << "takes " << min << " to " << max << " inputs, got "
                           << ctx.node.input_size();
  return requireInputs(ctx, required);
}

FailureOr<Value> dequantize(NodeContext &ctx, const QTensor &q) {
  Builder &b = ctx.builder;
  return ctx.make<Q::DequantizeOp>(q.data, q.scale, q.zeroPoint, b.getI64IntegerAttr(1),
                                   b.getI64IntegerAttr(0));
}

/// Quantizes `value` to the storage type of the zero point (uint8 when there is none).
HandlerResult quantize(NodeContext &ctx, FailureOr<Value> value, Value scale, Value zeroPoint) {
  if (failed(value))
    return failure();
  Builder &b = ctx.builder;
  Type storage = zeroPoint ? cast<RankedTensorType>(zeroPoint.getType()).getElementType()
                           : IntegerType::get(ctx.getContext(), 8, IntegerType::Unsigned);
  return single(ctx.make<Q::QuantizeOp>(*value, scale, zeroPoint, b.getI64IntegerAttr(1),
                                        b.getI64IntegerAttr(0), b.getBoolAttr(true),
                                        TypeAttr::get(storage)));
}

Value f32Scalar(NodeContext &ctx, float v) {
  auto type = RankedTensorType::get({}, ctx.builder.getF32Type());
  return arith::ConstantOp::create(ctx.builder, ctx.loc, DenseElementsAttr::get(type, v));
}

/// The zero point at `i`, or a zero of the storage type of the tensor at `like` when absent.
Value zeroPointOr(NodeContext &ctx, size_t i, size_t like) {
  if (Value zp = ctx.input(i))
    return zp;
  Type t = cast<RankedTensorType>(ctx.input(like).getType()).getElementType();
  auto type = RankedTensorType::get({}, t);
  return arith::ConstantOp::create(ctx.builder, ctx.loc,
                                   DenseElementsAttr::get(type, APInt(8, 0)));
}

/// QLinearAdd / QLinearMul: (A, A_scale, A_zp?, B, B_scale, B_zp?, C_scale, C_zp?). These keep
/// their own op: ONNX Runtime's kernels round differently from dequantize-op-quantize.
template <typename OpTy> HandlerResult importQLinearBinary(NodeContext &ctx) {
  if (failed(checkInputs(ctx, 7, 8, {0, 1, 3, 4, 6})))
    return failure();
  return single(ctx.make<OpTy>(ctx.input(0), ctx.input(1), zeroPointOr(ctx, 2, 0), ctx.input(3),
                               ctx.input(4), zeroPointOr(ctx, 5, 0), ctx.input(6),
                               zeroPointOr(ctx, 7, 0)));
}

/// Unary QLinear ops: (X, X_scale, X_zp?, Y_scale, Y_zp?) around the float op `apply`.
HandlerResult importQLinearUnary(NodeContext &ctx,
                                 function_ref<FailureOr<Value>(Value)> apply) {
  if (failed(checkInputs(ctx, 4, 5, {0, 1, 3})))
    return failure();
  auto x = dequantize(ctx, operand(ctx, 0));
  if (failed(x))
    return failure();
  return quantize(ctx, apply(*x), ctx.input(3), ctx.input(4));
}

FailureOr<Value> leakyRelu(NodeContext &ctx, Value x, float alpha) {
  auto negative = ctx.make<Q::LessOp>(x, f32Scalar(ctx, 0.0f));
  auto scaled = ctx.make<Q::MulOp>(x, f32Scalar(ctx, alpha));
  if (failed(negative) || failed(scaled))
    return failure();
  return ctx.make<Q::WhereOp>(*negative, *scaled, x);
}

/// QLinearSoftmax: (X, X_scale, X_zp?, Y_scale, Y_zp); `opset` below 13 normalizes the tail from
/// `axis` (default 1 there, -1 from 13 on).
HandlerResult importQLinearSoftmax(NodeContext &ctx) {
  if (failed(checkInputs(ctx, 4, 5, {0, 1, 3})))
    return failure();
  bool before13 = ctx.intAttr("opset", 13) < 13;
  int64_t axis = ctx.intAttr("axis", before13 ? 1 : -1);
  return single(ctx.make<Q::QLinearSoftmaxOp>(ctx.input(0), ctx.input(1), ctx.input(3),
                                              zeroPointOr(ctx, 4, 0),
                                              ctx.builder.getI64IntegerAttr(axis),
                                              ctx.builder.getBoolAttr(before13)));
}

/// QLinearConcat: (Y_scale, Y_zp, then (X, X_scale, X_zp) per input).
HandlerResult importQLinearConcat(NodeContext &ctx) {
  if (failed(checkInputs(ctx, 5, 2 + 3 * 256, {0})))
    return failure();
  if ((ctx.inputs.size() - 2) % 3 != 0)
    return ctx.emitError() << "expects (tensor, scale, zero point) triples after Y_scale, Y_zero_point";
  if (!ctx.attr("axis"))
    return ctx.emitError() << "needs an 'axis' attribute";
  SmallVector<Value> parts;
  for (size_t i = 2; i < ctx.inputs.size(); i += 3) {
    if (failed(requireInputs(ctx, {i, i + 1})))
      return failure();
    auto x = dequantize(ctx, operand(ctx, i));
    if (failed(x))
      return failure();
    parts.push_back(*x);
  }
  return quantize(ctx, ctx.make<Q::ConcatOp>(parts, ctx.intAttr("axis", 0)), ctx.input(0),
                  ctx.input(1));
}

HandlerResult importQLinearWhere(NodeContext &ctx) {
  if (failed(checkInputs(ctx, 9, 9, {0, 1, 2, 4, 5, 7})))
    return failure();
  auto x = dequantize(ctx, operand(ctx, 1));
  if (failed(x))
    return failure();
  auto y = dequantize(ctx, operand(ctx, 4));
  if (failed(y))
    return failure();
  return quantize(ctx, ctx.make<Q::WhereOp>(ctx.input(0), *x, *y), ctx.input(7), ctx.input(8));
}

/// QGemm: (A, a_scale, a_zp, B, b_scale, b_zp, C?, y_scale?, y_zp?). C is an int32 bias in the
/// scale a_scale * b_scale with zero point 0; without y_scale the result stays float.
HandlerResult importQGemm(NodeContext &ctx) {
  if (failed(checkInputs(ctx, 6, 9, {0, 1, 3, 4})))
    return failure();
  Builder &b = ctx.builder;
  auto a = dequantize(ctx, operand(ctx, 0));
  if (failed(a))
    return failure();
  auto w = dequantize(ctx, operand(ctx, 3));
  if (failed(w))
    return failure();
  Value bias;
  if (Value c = ctx.input(6)) {
    auto biasScale = ctx.make<Q::MulOp>(ctx.input(1), ctx.input(4));
    if (failed(biasScale))
      return failure();
    auto cf = ctx.make<Q::CastOp>(c, TypeAttr::get(b.getF32Type()));
    if (failed(cf))
      return failure();
    auto scaled = ctx.make<Q::MulOp>(*cf, *biasScale);
    if (failed(scaled))
      return failure();
    bias = *scaled;
  }
  auto y = ctx.make<Q::GemmOp>(*a, *w, bias, b.getF32FloatAttr(ctx.floatAttr("alpha", 1.0f)),
                               b.getF32FloatAttr(1.0f),
                               b.getBoolAttr(ctx.intAttr("transA", 0) != 0),
                               b.getBoolAttr(ctx.intAttr("transB", 0) != 0));
  if (!ctx.input(7))
    return single(y);
  return quantize(ctx, y, ctx.input(7), ctx.input(8));
}

/// (A_int * B_int in int32) * a_scale * b_scale (+ bias), the float result of an integer matmul.
HandlerResult rescaledIntegerMatMul(NodeContext &ctx, Value aq, Value azp, Value ascale, Value b,
                                    Value bscale, Value bzp, Value bias) {
  auto acc = ctx.make<Q::MatMulIntegerOp>(aq, b, azp, bzp);
  if (failed(acc))
    return failure();
  auto accf = ctx.make<Q::CastOp>(*acc, TypeAttr::get(ctx.builder.getF32Type()));
  if (failed(accf))
    return failure();
  auto scale = ctx.make<Q::MulOp>(ascale, bscale);
  if (failed(scale))
    return failure();
  auto y = ctx.make<Q::MulOp>(*accf, *scale);
  if (failed(y) || !bias)
    return single(y);
  return single(ctx.make<Q::AddOp>(*y, bias));
}

/// DynamicQuantizeMatMul: (A, B, b_scale, b_zp?, bias?), A quantized to uint8 on the fly.
HandlerResult importDynamicQuantizeMatMul(NodeContext &ctx) {
  if (failed(checkInputs(ctx, 3, 5, {0, 1, 2})))
    return failure();
  auto q = ctx.makeMulti<Q::DynamicQuantizeOp>(3, ctx.input(0));
  if (failed(q))
    return failure();
  return rescaledIntegerMatMul(ctx, (*q)[0], (*q)[2], (*q)[1], ctx.input(1), ctx.input(2),
                               ctx.input(3), ctx.input(4));
}

/// MatMulIntegerToFloat: (A, B, a_scale, b_scale, a_zp?, b_zp?, bias?).
HandlerResult importMatMulIntegerToFloat(NodeContext &ctx) {
  if (failed(checkInputs(ctx, 4, 7, {0, 1, 2, 3})))
    return failure();
  return rescaledIntegerMatMul(ctx, ctx.input(0), ctx.input(4), ctx.input(2), ctx.input(1),
                               ctx.input(3), ctx.input(5), ctx.input(6));
}
} // namespace

void qopt::onnx_importer::registerQLinearHandlers() {
  const char *ms = "com.microsoft";
  registerHandler(ms, "QLinearAdd", 1, importQLinearBinary<Q::QLinearAddOp>);
  registerHandler(ms, "QLinearMul", 1, importQLinearBinary<Q::QLinearMulOp>);
  registerHandler(ms, "QLinearSigmoid", 1, [](NodeContext &ctx) {
    return importQLinearUnary(ctx, [&](Value x) { return ctx.make<Q::SigmoidOp>(x); });
  });
  registerHandler(ms, "QLinearLeakyRelu", 1, [](NodeContext &ctx) {
    float alpha = ctx.floatAttr("alpha", 0.01f);
    return importQLinearUnary(ctx, [&](Value x) { return leakyRelu(ctx, x, alpha); });
  });
  registerHandler(ms, "QLinearSoftmax", 1, importQLinearSoftmax);
  registerHandler(ms, "QLinearConcat", 1, importQLinearConcat);
  registerHandler(ms, "QLinearWhere", 1, importQLinearWhere);
  registerHandler(ms, "QGemm", 1, importQGemm);
  registerHandler(ms, "DynamicQuantizeMatMul", 1, importDynamicQuantizeMatMul);
  registerHandler(ms, "MatMulIntegerToFloat", 1, importMatMulIntegerToFloat);
  registerHandler("", "LeakyRelu", 6, [](NodeContext &ctx) -> HandlerResult {
    if (failed(ctx.checkArity(1, 1)))
      return failure();
    return single(leakyRelu(ctx, ctx.input(0), ctx.floatAttr("alpha", 0.01f)));
  });
}
