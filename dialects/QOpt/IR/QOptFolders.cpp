//===- QOptFolders.cpp - constant folding of qopt ops ---------------------===//
//
// Folds the integer shape arithmetic that exporters emit around every layer (Shape, Gather, Concat,
// Range, Reshape, ...) once its inputs are constants, and removes ops that do nothing. Float math
// is left to codegen: only the shape computations are folded, bounded in size.
//
#include "dialects/QOpt/IR/ConstantValues.h"
#include "dialects/QOpt/IR/QOptOps.h"

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// Folding materializes values as dense attributes; larger tensors stay as computations.
constexpr int64_t kMaxFoldedElements = 4096;

RankedTensorType staticResultType(Value result) {
  auto type = dyn_cast<RankedTensorType>(result.getType());
  if (!type || !type.hasStaticShape() || type.getNumElements() > kMaxFoldedElements)
    return {};
  return type;
}

/// A dense integer (or i1) attribute of `type` holding `values`.
Attribute makeIntAttr(RankedTensorType type, ArrayRef<int64_t> values) {
  auto intType = dyn_cast<IntegerType>(type.getElementType());
  if (!intType || static_cast<int64_t>(values.size()) != type.getNumElements())
    return {};
  SmallVector<APInt> apValues;
  for (int64_t v : values)
    apValues.push_back(APInt(intType.getWidth(), static_cast<uint64_t>(v), /*isSigned=*/true,
                             /*implicitTrunc=*/true));
  return DenseElementsAttr::get(type, apValues);
}

/// The values of `attr` when it is an integer constant of static shape.
std::optional<SmallVector<int64_t>> intsOf(Attribute attr) {
  if (!attr)
    return std::nullopt;
  return getIntValues(attr);
}

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// Reads `values` (of `shape`) at output index `linear` of `outShape`, broadcasting.
int64_t broadcastRead(ArrayRef<int64_t> values, ArrayRef<int64_t> shape,
                      ArrayRef<int64_t> outShape, int64_t linear) {
  SmallVector<int64_t> outStrides = stridesOf(outShape), strides = stridesOf(shape);
  int64_t offset = outShape.size() - shape.size(), index = 0;
  for (size_t d = 0; d < outShape.size(); ++d) {
    int64_t coord = (linear / outStrides[d]) % outShape[d];
    if (static_cast<int64_t>(d) >= offset && shape[d - offset] != 1)
      index += coord * strides[d - offset];
  }
  return values[index];
}

/// Evaluates a broadcasting integer op elementwise.
OpFoldResult foldIntBinary(Operation *op, ArrayRef<Attribute> operands,
                           function_ref<std::optional<int64_t>(int64_t, int64_t)> fn) {
  auto type = staticResultType(op->getResult(0));
  auto a = intsOf(operands[0]), b = intsOf(operands[1]);
  if (!type || !a || !b)
    return {};
  auto aShape = cast<ShapedType>(op->getOperand(0).getType()).getShape();
  auto bShape = cast<ShapedType>(op->getOperand(1).getType()).getShape();
  SmallVector<int64_t> out;
  for (int64_t i = 0; i < type.getNumElements(); ++i) {
    auto v = fn(broadcastRead(*a, aShape, type.getShape(), i),
                broadcastRead(*b, bShape, type.getShape(), i));
    if (!v)
      return {};
    out.push_back(*v);
  }
  return makeIntAttr(type, out);
}

/// An op whose result has the same static type as its input is the identity.
OpFoldResult foldIdentity(Value input, Value result) {
  auto t = dyn_cast<RankedTensorType>(input.getType());
  if (t && t.hasStaticShape() && t == result.getType())
    return input;
  return {};
}

/// Re-labels the constant `attr` with the result type of a shape-only op.
OpFoldResult reshapeConstant(Attribute attr, Value result) {
  auto type = dyn_cast<RankedTensorType>(result.getType());
  auto dense = dyn_cast_or_null<DenseElementsAttr>(attr);
  if (!type || !type.hasStaticShape() || !dense)
    return {};
  return dense.reshape(type);
}
} // namespace

OpFoldResult NotOp::fold(FoldAdaptor adaptor) {
  auto type = staticResultType(getResult());
  auto v = intsOf(adaptor.getInput());
  if (!type || !v)
    return {};
  SmallVector<int64_t> out;
  for (int64_t x : *v)
    out.push_back(x ? 0 : 1);
  return makeIntAttr(type, out);
}

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  auto type = staticResultType(getResult());
  auto v = intsOf(adaptor.getInput());
  if (!type || !v || !isa<IntegerType>(type.getElementType()))
    return {};
  if (type.getElementType().isInteger(1))
    for (int64_t &x : *v)
      x = x != 0;
  return makeIntAttr(type, *v);
}

#define QOPT_INT_FOLD(OP, EXPR)                                                                    \
  OpFoldResult OP::fold(FoldAdaptor adaptor) {                                                     \
    return foldIntBinary(*this, adaptor.getOperands(),                                            \
                         [](int64_t a, int64_t b) -> std::optional<int64_t> { EXPR; });            \
  }
QOPT_INT_FOLD(AddOp, return a + b)
QOPT_INT_FOLD(SubOp, return a - b)
QOPT_INT_FOLD(MulOp, return a * b)
QOPT_INT_FOLD(DivOp, if (b == 0) return std::nullopt; return a / b)
QOPT_INT_FOLD(ModOp, if (b == 0) return std::nullopt; int64_t r = a % b;
              return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r)
QOPT_INT_FOLD(PowOp, if (b < 0) return std::nullopt; int64_t r = 1;
              for (int64_t i = 0; i < b && i < 64; ++i) r *= a; return r)
QOPT_INT_FOLD(MaxOp, return std::max(a, b))
QOPT_INT_FOLD(MinOp, return std::min(a, b))
QOPT_INT_FOLD(AndOp, return (a && b) ? 1 : 0)
QOPT_INT_FOLD(OrOp, return (a || b) ? 1 : 0)
QOPT_INT_FOLD(XorOp, return ((a != 0) != (b != 0)) ? 1 : 0)
QOPT_INT_FOLD(EqualOp, return a == b)
QOPT_INT_FOLD(LessOp, return a < b)
QOPT_INT_FOLD(LessEqualOp, return a <= b)
QOPT_INT_FOLD(GreaterOp, return a > b)
QOPT_INT_FOLD(GreaterEqualOp, return a >= b)
#undef QOPT_INT_FOLD

OpFoldResult WhereOp::fold(FoldAdaptor adaptor) {
  auto cond = intsOf(adaptor.getCondition());
  if (!cond)
    return {};
  bool allTrue = llvm::all_of(*cond, [](int64_t c) { return c != 0; });
  bool allFalse = llvm::none_of(*cond, [](int64_t c) { return c != 0; });
  if (allTrue && getX().getType() == getType())
    return getX();
  if (allFalse && getY().getType() == getType())
    return getY();
  auto type = staticResultType(getResult());
  auto x = intsOf(adaptor.getX()), y = intsOf(adaptor.getY());
  if (!type || !x || !y)
    return {};
  SmallVector<int64_t> out;
  for (int64_t i = 0; i < type.getNumElements(); ++i) {
    bool c = broadcastRead(*cond, getCondition().getType().getShape(), type.getShape(), i);
    out.push_back(c ? broadcastRead(*x, getX().getType().getShape(), type.getShape(), i)
                    : broadcastRead(*y, getY().getType().getShape(), type.getShape(), i));
  }
  return makeIntAttr(type, out);
}

OpFoldResult ShapeOp::fold(FoldAdaptor) {
  auto in = getInput().getType();
  auto [first, last] = getDimRange();
  SmallVector<int64_t> dims;
  for (int64_t d = first; d < last; ++d) {
    if (in.isDynamicDim(d))
      return {};
    dims.push_back(in.getDimSize(d));
  }
  return makeIntAttr(cast<RankedTensorType>(getType()), dims);
}

OpFoldResult GatherOp::fold(FoldAdaptor adaptor) {
  auto type = staticResultType(getResult());
  auto data = intsOf(adaptor.getData());
  auto indices = intsOf(adaptor.getIndices());
  auto dataType = getData().getType();
  if (!type || !data || !indices || !dataType.hasStaticShape())
    return {};
  int64_t axis = getAxis() < 0 ? getAxis() + dataType.getRank() : getAxis();
  ArrayRef<int64_t> shape = dataType.getShape();
  int64_t outer = 1, inner = 1, dim = shape[axis];
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (int64_t d = axis + 1; d < dataType.getRank(); ++d)
    inner *= shape[d];
  SmallVector<int64_t> out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t idx : *indices) {
      if (idx < 0)
        idx += dim;
      if (idx < 0 || idx >= dim)
        return {};
      for (int64_t i = 0; i < inner; ++i)
        out.push_back((*data)[(o * dim + idx) * inner + i]);
    }
  return makeIntAttr(type, out);
}

OpFoldResult ConcatOp::fold(FoldAdaptor adaptor) {
  if (getInputs().size() == 1 && getInputs()[0].getType() == getType())
    return getInputs()[0];
  auto type = staticResultType(getResult());
  if (!type)
    return {};
  int64_t axis = getAxis() < 0 ? getAxis() + type.getRank() : getAxis();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= type.getDimSize(d);
  SmallVector<SmallVector<int64_t>> parts;
  SmallVector<int64_t> chunk;
  for (auto [attr, value] : llvm::zip(adaptor.getInputs(), getInputs())) {
    auto v = intsOf(attr);
    if (!v)
      return {};
    parts.push_back(*v);
    chunk.push_back(outer ? static_cast<int64_t>(v->size()) / outer : 0);
  }
  SmallVector<int64_t> out;
  for (int64_t o = 0; o < outer; ++o)
    for (size_t p = 0; p < parts.size(); ++p)
      out.append(parts[p].begin() + o * chunk[p], parts[p].begin() + (o + 1) * chunk[p]);
  return makeIntAttr(type, out);
}

OpFoldResult RangeOp::fold(FoldAdaptor adaptor) {
  auto type = staticResultType(getResult());
  auto s = intsOf(adaptor.getStart()), d = intsOf(adaptor.getDelta());
  if (!type || !s || !d)
    return {};
  SmallVector<int64_t> out;
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    out.push_back((*s)[0] + i * (*d)[0]);
  return makeIntAttr(type, out);
}

OpFoldResult ExpandOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult same = foldIdentity(getInput(), getResult()))
    return same;
  auto type = staticResultType(getResult());
  auto in = intsOf(adaptor.getInput());
  if (!type || !in || !getInput().getType().hasStaticShape())
    return {};
  SmallVector<int64_t> out;
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    out.push_back(broadcastRead(*in, getInput().getType().getShape(), type.getShape(), i));
  return makeIntAttr(type, out);
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult same = foldIdentity(getInput(), getResult()))
    return same;
  return reshapeConstant(adaptor.getInput(), getResult());
}

OpFoldResult SqueezeOp::fold(FoldAdaptor adaptor) {
  if (getAxes().empty() && getInput().getType() == getType())
    return getInput();
  return reshapeConstant(adaptor.getInput(), getResult());
}

OpFoldResult UnsqueezeOp::fold(FoldAdaptor adaptor) {
  return reshapeConstant(adaptor.getInput(), getResult());
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  for (auto [i, p] : llvm::enumerate(getPerm()))
    if (static_cast<int64_t>(i) != p)
      return {};
  return getInput().getType() == getType() ? getInput() : OpFoldResult();
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  auto in = getInput().getType();
  if (in == getType() && in.hasStaticShape() && !getSteps()) {
    // Slicing every axis in full is the identity.
    auto starts = getConstantInts(getStarts());
    if (starts && llvm::all_of(*starts, [](int64_t s) { return s == 0; }))
      return getInput();
  }
  auto type = staticResultType(getResult());
  auto data = intsOf(adaptor.getInput());
  auto starts = intsOf(adaptor.getStarts());
  if (!type || !data || !starts || in.getRank() != 1)
    return {};
  // 1-D constants only: the shape vectors that exporters slice.
  int64_t step = 1;
  if (getSteps()) {
    auto steps = intsOf(adaptor.getSteps());
    if (!steps)
      return {};
    step = (*steps)[0];
  }
  int64_t dim = in.getDimSize(0), s = (*starts)[0];
  if (s < 0)
    s += dim;
  s = step > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, 0, dim - 1);
  SmallVector<int64_t> out;
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    out.push_back((*data)[s + i * step]);
  return makeIntAttr(type, out);
}

/// The product of a constant integer tensor over all its elements, as Flatten's shape arithmetic
/// needs once the dims are known.
OpFoldResult ReduceProdOp::fold(FoldAdaptor adaptor) {
  auto type = staticResultType(getResult());
  auto in = intsOf(adaptor.getInput());
  if (!type || !in || type.getNumElements() != 1)
    return {};
  int64_t product = 1;
  for (int64_t v : *in)
    product *= v;
  return makeIntAttr(type, {product});
}

OpFoldResult ConstantOfShapeOp::fold(FoldAdaptor) {
  auto type = dyn_cast<RankedTensorType>(getType());
  if (!type || !type.hasStaticShape())
    return {};
  auto value = dyn_cast<DenseElementsAttr>(getValue());
  if (!value || value.getNumElements() != 1)
    return {};
  return DenseElementsAttr::get(type, value.getValues<Attribute>()[0]);
}
