//===- ElementwiseHandlers.cpp - ONNX elementwise ops ---------------------===//
#include "NodeContext.h"
#include "TensorConversion.h"

using namespace mlir;
using namespace qopt::onnx_importer;
namespace Q = qopt::QOpt;

namespace {
template <typename OpTy>
Handler unary() {
  return [](NodeContext &ctx) -> HandlerResult {
    if (failed(ctx.checkArity(1, 1)))
      return failure();
    return single(ctx.make<OpTy>(ctx.input(0)));
  };
}

template <typename OpTy>
Handler binary() {
  return [](NodeContext &ctx) -> HandlerResult {
    if (failed(ctx.checkArity(2, 2)))
      return failure();
    return single(ctx.make<OpTy>(ctx.input(0), ctx.input(1)));
  };
}

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

HandlerResult importWhere(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)))
    return failure();
  return single(ctx.make<Q::WhereOp>(ctx.input(0), ctx.input(1), ctx.input(2)));
}
} // namespace

void qopt::onnx_importer::registerElementwiseHandlers() {
  registerHandler("", "Neg", 1, unary<Q::NegOp>());
  registerHandler("", "Abs", 1, unary<Q::AbsOp>());
  registerHandler("", "Sqrt", 1, unary<Q::SqrtOp>());
  registerHandler("", "Reciprocal", 1, unary<Q::ReciprocalOp>());
  registerHandler("", "Exp", 1, unary<Q::ExpOp>());
  registerHandler("", "Log", 1, unary<Q::LogOp>());
  registerHandler("", "Tanh", 1, unary<Q::TanhOp>());
  registerHandler("", "Erf", 1, unary<Q::ErfOp>());
  registerHandler("", "Sigmoid", 1, unary<Q::SigmoidOp>());
  registerHandler("", "Sin", 1, unary<Q::SinOp>());
  registerHandler("", "Cos", 1, unary<Q::CosOp>());
  registerHandler("", "Relu", 1, unary<Q::ReluOp>());
  registerHandler("", "Floor", 1, unary<Q::FloorOp>());
  registerHandler("", "Ceil", 1, unary<Q::CeilOp>());
  registerHandler("", "Not", 1, unary<Q::NotOp>());
  registerHandler("", "IsNaN", 1, unary<Q::IsNaNOp>());
  registerHandler("", "Identity", 1, importIdentity);
  registerHandler("", "Dropout", 1, importDropout);
  registerHandler("", "Cast", 1, importCast);
  registerHandler("", "CastLike", 15, importCastLike);
  registerHandler("", "Gelu", 20, importGelu);

  registerHandler("", "Add", 1, binary<Q::AddOp>());
  registerHandler("", "Sub", 1, binary<Q::SubOp>());
  registerHandler("", "Mul", 1, binary<Q::MulOp>());
  registerHandler("", "Div", 1, binary<Q::DivOp>());
  registerHandler("", "Pow", 1, binary<Q::PowOp>());
  registerHandler("", "Mod", 1, importMod);
  registerHandler("", "And", 1, binary<Q::AndOp>());
  registerHandler("", "Or", 1, binary<Q::OrOp>());
  registerHandler("", "Equal", 1, binary<Q::EqualOp>());
  registerHandler("", "Less", 1, binary<Q::LessOp>());
  registerHandler("", "LessOrEqual", 1, binary<Q::LessEqualOp>());
  registerHandler("", "Greater", 1, binary<Q::GreaterOp>());
  registerHandler("", "GreaterOrEqual", 1, binary<Q::GreaterEqualOp>());
  registerHandler("", "Max", 1, variadic<Q::MaxOp>());
  registerHandler("", "Min", 1, variadic<Q::MinOp>());
  registerHandler("", "Sum", 1, variadic<Q::AddOp>());
  registerHandler("", "Where", 1, importWhere);
}
