//===- ElementwiseHandlers.cpp - ONNX elementwise ops ---------------------===//
#include "NodeContext.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "TensorConversion.h"

using namespace mlir;
using namespace qopt::onnx_importer;
namespace Q = qopt::QOpt;

namespace {
/// Max, Min and Sum take any number of inputs: a left fold of the binary op.
template <typename OpTy>
Handler variadic() {
  return [](NodeContext &ctx) -> HandlerResult {
    if (failed(ctx.checkArity(1, 64)))
      return failure();
    Value acc = ctx.input(0);
    for (size_t i = 1; i < ctx.inputs.size(); ++i) {
      auto next = ctx.make<OpTy>(acc, ctx.input(i));
      if (failed(next))
        return failure();
      acc = *next;
    }
    return SmallVector<Value>{acc};
  };
}

HandlerResult importIdentity(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  return SmallVector<Value>{ctx.input(0)};
}

/// Inference-time Dropout is the identity; its mask output is not supported.
HandlerResult importDropout(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 3)))
    return failure();
  return SmallVector<Value>{ctx.input(0)};
}

HandlerResult importCast(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  int64_t to = ctx.intAttr("to", 0);
  Type et = convertElementType(to, ctx.getContext());
  if (!et)
    return ctx.emitError() << "cannot cast to " << onnxTypeName(to);
  if (ctx.intAttr("saturate", 1) != 1 && isa<FloatType>(et) && et.getIntOrFloatBitWidth() == 8)
    return ctx.emitError() << "non-saturating casts to 8-bit floats are not supported";
  return single(ctx.make<Q::CastOp>(ctx.input(0), TypeAttr::get(et)));
}

/// CastLike converts to the element type of its second input.
HandlerResult importCastLike(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  Type et = cast<RankedTensorType>(ctx.input(1).getType()).getElementType();
  return single(ctx.make<Q::CastOp>(ctx.input(0), TypeAttr::get(et)));
}

HandlerResult importGelu(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  std::string approximate = ctx.stringAttr("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return ctx.emitError() << "approximate must be 'none' or 'tanh', not '" << approximate << "'";
  return single(ctx.make<Q::GeluOp>(ctx.input(0), ctx.builder.getStringAttr(approximate)));
}

HandlerResult importMod(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  bool isFloat = isa<FloatType>(cast<RankedTensorType>(ctx.input(0).getType()).getElementType());
  if (ctx.intAttr("fmod", 0) != (isFloat ? 1 : 0))
    return ctx.emitError() << "only fmod=1 for floats and fmod=0 for integers are supported";
  return single(ctx.make<Q::ModOp>(ctx.input(0), ctx.input(1)));
}

/// Clip(x, min, max) as max(x, min) then min(., max); bounds are attributes before opset 11 and
/// optional scalar inputs from 11 on.
HandlerResult importClip(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, ctx.opset >= 11 ? 3 : 1)))
    return failure();
  Value lo = ctx.input(1), hi = ctx.input(2);
  if (ctx.opset < 11) {
    auto type = cast<RankedTensorType>(ctx.input(0).getType());
    if (!type.getElementType().isF32())
      return ctx.emitError() << "Clip before opset 11 is supported on float32 only";
    auto scalar = [&](float v) -> Value {
      auto t = RankedTensorType::get({}, ctx.builder.getF32Type());
      return arith::ConstantOp::create(ctx.builder, ctx.loc, DenseElementsAttr::get(t, v));
    };
    if (ctx.attr("min"))
      lo = scalar(ctx.floatAttr("min", 0.0f));
    if (ctx.attr("max"))
      hi = scalar(ctx.floatAttr("max", 0.0f));
  }
  Value y = ctx.input(0);
  if (lo) {
    auto r = ctx.make<Q::MaxOp>(y, lo);
    if (failed(r))
      return failure();
    y = *r;
  }
  if (hi) {
    auto r = ctx.make<Q::MinOp>(y, hi);
    if (failed(r))
      return failure();
    y = *r;
  }
  return SmallVector<Value>{y};
}
} // namespace

void qopt::onnx_importer::registerElementwiseHandlers() {
  registerHandler("", "Neg", 1, direct<Q::NegOp, 1>());
  registerHandler("", "Abs", 1, direct<Q::AbsOp, 1>());
  registerHandler("", "Sqrt", 1, direct<Q::SqrtOp, 1>());
  registerHandler("", "Reciprocal", 1, direct<Q::ReciprocalOp, 1>());
  registerHandler("", "Exp", 1, direct<Q::ExpOp, 1>());
  registerHandler("", "Log", 1, direct<Q::LogOp, 1>());
  registerHandler("", "Tanh", 1, direct<Q::TanhOp, 1>());
  registerHandler("", "Erf", 1, direct<Q::ErfOp, 1>());
  registerHandler("", "Sigmoid", 1, direct<Q::SigmoidOp, 1>());
  registerHandler("", "Sin", 1, direct<Q::SinOp, 1>());
  registerHandler("", "Cos", 1, direct<Q::CosOp, 1>());
  registerHandler("", "Relu", 1, direct<Q::ReluOp, 1>());
  registerHandler("", "Floor", 1, direct<Q::FloorOp, 1>());
  registerHandler("", "Ceil", 1, direct<Q::CeilOp, 1>());
  registerHandler("", "Round", 11, direct<Q::RoundOp, 1>());
  registerHandler("", "Sign", 9, direct<Q::SignOp, 1>());
  registerHandler("", "Not", 1, direct<Q::NotOp, 1>());
  registerHandler("", "IsNaN", 1, direct<Q::IsNaNOp, 1>());
  registerHandler("", "Identity", 1, importIdentity);
  registerHandler("", "Dropout", 1, importDropout);
  registerHandler("", "Cast", 1, importCast);
  registerHandler("", "CastLike", 15, importCastLike);
  registerHandler("", "Gelu", 20, importGelu);

  registerHandler("", "Add", 1, direct<Q::AddOp, 2>());
  registerHandler("", "Sub", 1, direct<Q::SubOp, 2>());
  registerHandler("", "Mul", 1, direct<Q::MulOp, 2>());
  registerHandler("", "Div", 1, direct<Q::DivOp, 2>());
  registerHandler("", "Pow", 1, direct<Q::PowOp, 2>());
  registerHandler("", "Mod", 1, importMod);
  registerHandler("", "And", 1, direct<Q::AndOp, 2>());
  registerHandler("", "Or", 1, direct<Q::OrOp, 2>());
  registerHandler("", "Xor", 1, direct<Q::XorOp, 2>());
  registerHandler("", "Equal", 1, direct<Q::EqualOp, 2>());
  registerHandler("", "Less", 1, direct<Q::LessOp, 2>());
  registerHandler("", "LessOrEqual", 1, direct<Q::LessEqualOp, 2>());
  registerHandler("", "Greater", 1, direct<Q::GreaterOp, 2>());
  registerHandler("", "GreaterOrEqual", 1, direct<Q::GreaterEqualOp, 2>());
  registerHandler("", "Max", 1, variadic<Q::MaxOp>());
  registerHandler("", "Clip", 6, importClip);
  registerHandler("", "Min", 1, variadic<Q::MinOp>());
  registerHandler("", "Sum", 1, variadic<Q::AddOp>());
  registerHandler("", "Where", 1, direct<Q::WhereOp, 3>());
}
