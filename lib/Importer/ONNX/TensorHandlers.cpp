//===- TensorHandlers.cpp - ONNX shape and data movement ops --------------===//
#include "NodeContext.h"

#include "dialects/QOpt/IR/ConstantValues.h"

using namespace mlir;
using namespace qopt::onnx_importer;
namespace Q = qopt::QOpt;

namespace {
HandlerResult importConstant(NodeContext &ctx) {
  if (failed(ctx.checkArity(0, 0)))
    return failure();
  Builder &b = ctx.builder;
  TypedAttr value;
  if (ctx.attr("value")) {
    auto tensor = ctx.tensorAttr("value");
    if (failed(tensor))
      return failure();
    value = cast<TypedAttr>(*tensor);
  } else if (const auto *a = ctx.attr("value_float")) {
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()), a->f());
  } else if (const auto *a = ctx.attr("value_int")) {
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()), a->i());
  } else if (const auto *a = ctx.attr("value_floats")) {
    SmallVector<float> v(a->floats().begin(), a->floats().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(v.size())}, b.getF32Type()), ArrayRef(v));
  } else if (const auto *a = ctx.attr("value_ints")) {
    SmallVector<int64_t> v(a->ints().begin(), a->ints().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(v.size())}, b.getI64Type()), ArrayRef(v));
  } else {
    return ctx.emitError() << "needs a value, value_float(s) or value_int(s) attribute";
  }
  return SmallVector<Value>{
      arith::ConstantOp::create(ctx.builder, ctx.loc, value.getType(), value)};
}

HandlerResult importShape(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  const auto *end = ctx.attr("end");
  return single(ctx.make<Q::ShapeOp>(
      ctx.input(0), ctx.builder.getI64IntegerAttr(ctx.intAttr("start", 0)),
      end ? ctx.builder.getI64IntegerAttr(end->i()) : IntegerAttr()));
}

template <typename OpTy>
Handler gatherLike(StringRef axisName, int64_t dflt) {
  return [axisName, dflt](NodeContext &ctx) -> HandlerResult {
    if (failed(ctx.checkArity(2, 2)))
      return failure();
    return single(ctx.make<OpTy>(ctx.input(0), ctx.input(1), ctx.intAttr(axisName, dflt)));
  };
}

HandlerResult importConcat(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1024)))
    return failure();
  if (!ctx.attr("axis"))
    return ctx.emitError() << "needs an 'axis' attribute";
  return single(ctx.make<Q::ConcatOp>(ValueRange(ctx.inputs), ctx.intAttr("axis", 0)));
}

HandlerResult importCumSum(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  auto axis = ctx.constantInts(1, "axis");
  if (failed(axis))
    return failure();
  if (axis->size() != 1)
    return ctx.emitError() << "axis must hold one value";
  return single(ctx.make<Q::CumSumOp>(ctx.input(0), (*axis)[0], ctx.intAttr("exclusive", 0) != 0,
                                      ctx.intAttr("reverse", 0) != 0));
}

HandlerResult importReshape(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)))
    return failure();
  return single(
      ctx.make<Q::ReshapeOp>(ctx.input(0), ctx.input(1), ctx.intAttr("allowzero", 0) != 0));
}

HandlerResult importTranspose(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  int64_t rank = cast<RankedTensorType>(ctx.input(0).getType()).getRank();
  SmallVector<int64_t> perm;
  if (auto given = ctx.intsAttr("perm"))
    perm = *given;
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  return single(ctx.make<Q::TransposeOp>(ctx.input(0), perm));
}

/// Slice-1 holds starts, ends and axes as attributes.
HandlerResult importSliceAttrs(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  auto starts = ctx.intsAttr("starts"), ends = ctx.intsAttr("ends");
  if (!starts || !ends)
    return ctx.emitError() << "needs 'starts' and 'ends' attributes";
  auto axes = ctx.intsAttr("axes");
  return single(ctx.make<Q::SliceOp>(ctx.input(0), ctx.i64Constant(*starts),
                                     ctx.i64Constant(*ends),
                                     axes ? ctx.i64Constant(*axes) : Value(), Value()));
}

HandlerResult importSlice(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 5)))
    return failure();
  return single(ctx.make<Q::SliceOp>(ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3),
                                     ctx.input(4)));
}

HandlerResult importSplit(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, ctx.opset >= 13 ? 2 : 1, /*maxOutputs=*/1024)))
    return failure();
  size_t parts = ctx.node.output_size();
  if (ctx.opset < 13) {
    Value sizes;
    if (auto given = ctx.intsAttr("split"))
      sizes = ctx.i64Constant(*given);
    return ctx.makeMulti<Q::SplitOp>(parts, ctx.input(0), sizes, ctx.intAttr("axis", 0));
  }
  if (ctx.opset >= 18 && !ctx.input(1)) {
    int64_t n = ctx.intAttr("num_outputs", 0);
    if (n != static_cast<int64_t>(parts))
      return ctx.emitError() << "num_outputs " << n << " disagrees with its " << parts
                             << " outputs";
  }
  auto results =
      ctx.makeMulti<Q::SplitOp>(parts, ctx.input(0), ctx.input(1), ctx.intAttr("axis", 0));
  return results;
}

/// Squeeze and Unsqueeze take their axes as a constant input from opset 13 on, as an attribute
/// before.
template <typename OpTy>
Handler squeezeLike(bool axesRequired) {
  return [axesRequired](NodeContext &ctx) -> HandlerResult {
    bool axesAsInput = ctx.opset >= 13;
    if (failed(ctx.checkArity(axesRequired && axesAsInput ? 2 : 1, axesAsInput ? 2 : 1)))
      return failure();
    SmallVector<int64_t> axes;
    if (!axesAsInput) {
      if (auto given = ctx.intsAttr("axes"))
        axes = *given;
      else if (axesRequired)
        return ctx.emitError() << "needs an 'axes' attribute";
    } else if (ctx.input(1)) {
      auto values = ctx.constantInts(1, "axes");
      if (failed(values))
        return failure();
      axes = *values;
    }
    return single(ctx.make<OpTy>(ctx.input(0), axes));
  };
}

HandlerResult importConstantOfShape(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  Builder &b = ctx.builder;
  auto scalarType = [&](Type et) { return RankedTensorType::get({1}, et); };
  DenseElementsAttr value = DenseElementsAttr::get(scalarType(b.getF32Type()), 0.0f);
  if (ctx.attr("value")) {
    auto tensor = ctx.tensorAttr("value");
    if (failed(tensor))
      return failure();
    Type et = tensor->getElementType();
    if (tensor->getNumElements() != 1)
      return ctx.emitError() << "value must hold one element";
    if (auto ints = Q::getIntValues(*tensor))
      value = DenseElementsAttr::get(
          scalarType(et), APInt(et.getIntOrFloatBitWidth(), (*ints)[0], /*isSigned=*/true,
                                /*implicitTrunc=*/true));
    else if (auto floats = Q::getFloatValues(*tensor)) {
      // Rounded to the value's own float type (f16 too), not stored as an f32's bits.
      APFloat v((*floats)[0]);
      bool lost = false;
      v.convert(cast<FloatType>(et).getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      value = DenseElementsAttr::get(scalarType(et), ArrayRef<APFloat>(v));
    }
    else
      return ctx.emitError() << "value of element type " << et << " is not supported";
  }
  return single(ctx.make<Q::ConstantOfShapeOp>(ctx.input(0), cast<TypedAttr>(value)));
}

/// Flatten is a reshape to [prod(dims[:axis]), prod(dims[axis:])]. A side whose dims are all static
/// is a constant; when both sides are symbolic, the products are computed from the input's shape.
HandlerResult importFlatten(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)))
    return failure();
  auto type = cast<RankedTensorType>(ctx.input(0).getType());
  int64_t rank = type.getRank(), axis = ctx.intAttr("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.emitError() << "axis " << axis << " is out of range for rank " << rank;
  if (axis < 0)
    axis += rank;
  auto product = [&](int64_t from, int64_t to) -> std::optional<int64_t> {
    int64_t p = 1;
    for (int64_t d = from; d < to; ++d) {
      if (type.isDynamicDim(d))
        return std::nullopt;
      p *= type.getDimSize(d);
    }
    return p;
  };
  auto lead = product(0, axis), trail = product(axis, rank);
  Value shape;
  if (lead || trail) {
    shape = ctx.i64Constant({lead ? *lead : -1, trail ? *trail : -1});
  } else {
    SmallVector<Value> parts;
    for (auto [from, to] : {std::pair<int64_t, int64_t>{0, axis}, {axis, rank}}) {
      auto dims = ctx.make<Q::ShapeOp>(ctx.input(0), ctx.builder.getI64IntegerAttr(from),
                                       ctx.builder.getI64IntegerAttr(to));
      if (failed(dims))
        return failure();
      auto prod = ctx.make<Q::ReduceProdOp>(*dims, ArrayRef<int64_t>{}, true);
      if (failed(prod))
        return failure();
      parts.push_back(*prod);
    }
    auto joined = ctx.make<Q::ConcatOp>(parts, 0);
    if (failed(joined))
      return failure();
    shape = *joined;
  }
  return single(ctx.make<Q::ReshapeOp>(ctx.input(0), shape, false));
}

HandlerResult importTrilu(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2)))
    return failure();
  return single(ctx.make<Q::TriluOp>(ctx.input(0), ctx.input(1), ctx.intAttr("upper", 1) != 0));
}
} // namespace

void qopt::onnx_importer::registerTensorHandlers() {
  registerHandler("", "Constant", 1, importConstant);
  registerHandler("", "Shape", 1, importShape);
  registerHandler("", "Gather", 1, gatherLike<Q::GatherOp>("axis", 0));
  registerHandler("", "GatherElements", 1, gatherLike<Q::GatherElementsOp>("axis", 0));
  registerHandler("", "GatherND", 12, gatherLike<Q::GatherNDOp>("batch_dims", 0));
  registerHandler("", "Concat", 1, importConcat);
  registerHandler("", "Range", 11, direct<Q::RangeOp, 3>());
  registerHandler("", "CumSum", 11, importCumSum);
  registerHandler("", "Expand", 8, direct<Q::ExpandOp, 2>());
  registerHandler("", "Reshape", 5, importReshape);
  registerHandler("", "Transpose", 1, importTranspose);
  registerHandler("", "Slice", 1, importSliceAttrs);
  registerHandler("", "Slice", 10, importSlice);
  registerHandler("", "Split", 2, importSplit);
  registerHandler("", "Squeeze", 1, squeezeLike<Q::SqueezeOp>(false));
  registerHandler("", "Unsqueeze", 1, squeezeLike<Q::UnsqueezeOp>(true));
  registerHandler("", "ConstantOfShape", 9, importConstantOfShape);
  registerHandler("", "Trilu", 14, importTrilu);
  registerHandler("", "Tile", 6, direct<Q::TileOp, 2>());
  registerHandler("", "Flatten", 1, importFlatten);
}
