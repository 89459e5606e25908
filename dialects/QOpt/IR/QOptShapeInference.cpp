//===- QOptShapeInference.cpp - result type inference of qopt ops ---------===//
//
// Each op computes its result types from its operands and attributes (InferShapesOpInterface).
// Dimensions that cannot be proven static are `?`; malformed operands produce an error on the op.
//
#include "dialects/QOpt/IR/ConstantValues.h"
#include "dialects/QOpt/IR/QOptOps.h"

using namespace mlir;
using namespace qopt::QOpt;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

RankedTensorType rankedType(Value v) { return cast<RankedTensorType>(v.getType()); }

/// Normalizes a possibly negative axis against `rank`; fails with an error on `op`.
FailureOr<int64_t> normalizeAxis(Operation *op, int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    return op->emitOpError() << "axis " << axis << " is out of range for rank " << rank;
  return a;
}

/// NumPy broadcasting of two shapes, `?` where a dim could be either.
FailureOr<SmallVector<int64_t>> broadcast(Operation *op, ArrayRef<int64_t> a,
                                          ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1)
      out[i] = db;
    else if (db == 1)
      out[i] = da;
    else if (da == kDyn)
      out[i] = db;
    else if (db == kDyn || da == db)
      out[i] = da;
    else
      return op->emitOpError() << "cannot broadcast dimension " << da << " against " << db;
  }
  return out;
}

LogicalResult pushTensor(SmallVectorImpl<Type> &types, ArrayRef<int64_t> shape, Type elementType) {
  types.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

LogicalResult sameAsInput(Operation *op, SmallVectorImpl<Type> &types) {
  types.push_back(op->getOperand(0).getType());
  return success();
}

bool isBool(Type t) { return t.isInteger(1); }

/// Element types that the arithmetic ops accept.
bool isNumeric(Type t) { return isa<FloatType>(t) || (isa<IntegerType>(t) && !isBool(t)); }

/// Shared inference of the broadcasting binary ops.
LogicalResult inferBinary(Operation *op, SmallVectorImpl<Type> &types, Type resultElement,
                          bool sameElements = true) {
  auto lhs = rankedType(op->getOperand(0)), rhs = rankedType(op->getOperand(1));
  if (sameElements && lhs.getElementType() != rhs.getElementType())
    return op->emitOpError() << "operand element types differ: " << lhs.getElementType()
                             << " vs " << rhs.getElementType();
  auto shape = broadcast(op, lhs.getShape(), rhs.getShape());
  if (failed(shape))
    return failure();
  return pushTensor(types, *shape, resultElement ? resultElement : lhs.getElementType());
}

LogicalResult inferArithmetic(Operation *op, SmallVectorImpl<Type> &types) {
  Type et = rankedType(op->getOperand(0)).getElementType();
  if (!isNumeric(et))
    return op->emitOpError() << "expects numeric operands, not " << et;
  return inferBinary(op, types, {});
}

LogicalResult inferLogical(Operation *op, SmallVectorImpl<Type> &types) {
  if (!isBool(rankedType(op->getOperand(0)).getElementType()))
    return op->emitOpError() << "expects i1 operands";
  return inferBinary(op, types, {});
}

LogicalResult inferCompare(Operation *op, SmallVectorImpl<Type> &types) {
  return inferBinary(op, types, IntegerType::get(op->getContext(), 1));
}

LogicalResult inferReduce(Operation *op, ArrayRef<int64_t> axes, bool keepdims,
                          SmallVectorImpl<Type> &types) {
  auto in = rankedType(op->getOperand(0));
  int64_t rank = in.getRank();
  SmallVector<bool> reduced(rank, axes.empty());
  for (int64_t axis : axes) {
    auto a = normalizeAxis(op, axis, rank);
    if (failed(a))
      return failure();
    reduced[*a] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      shape.push_back(in.getDimSize(i));
    else if (keepdims)
      shape.push_back(1);
  }
  return pushTensor(types, shape, in.getElementType());
}

/// The dims named by a 1-D integer `shape` operand (unknown elements become `?`).
FailureOr<SmallVector<int64_t>> shapeOperandDims(Operation *op, Value shape) {
  auto type = rankedType(shape);
  if (type.getRank() != 1 || !isa<IntegerType>(type.getElementType()))
    return op->emitOpError() << "expects a 1-D integer shape operand, not " << type;
  if (type.isDynamicDim(0))
    return op->emitOpError() << "needs a shape operand of static length";
  auto known = getKnownInts(shape);
  if (!known)
    return SmallVector<int64_t>(type.getDimSize(0), kDyn);
  SmallVector<int64_t> dims;
  for (int64_t v : *known)
    dims.push_back(v == kUnknownValue ? kDyn : v);
  return dims;
}
} // namespace

LogicalResult qopt::QOpt::verifyInferredShapes(Operation *op) {
  auto iface = cast<InferShapesOpInterface>(op);
  SmallVector<Type> inferred;
  if (failed(iface.inferResultTypes(inferred)))
    return failure();
  if (inferred.size() != op->getNumResults())
    return op->emitOpError() << "infers " << inferred.size() << " results but has "
                             << op->getNumResults();
  for (auto [i, pair] : llvm::enumerate(llvm::zip(inferred, op->getResultTypes()))) {
    auto [want, have] = pair;
    auto w = dyn_cast<RankedTensorType>(want), h = dyn_cast<RankedTensorType>(have);
    bool ok = w && h && w.getElementType() == h.getElementType() && w.getRank() == h.getRank();
    for (int64_t d = 0; ok && d < w.getRank(); ++d)
      ok = w.isDynamicDim(d) || h.isDynamicDim(d) || w.getDimSize(d) == h.getDimSize(d);
    if (!ok)
      return op->emitOpError() << "result #" << i << " has type " << have
                               << ", incompatible with the inferred " << want;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

#define QOPT_SAME_AS_INPUT(OP)                                                                     \
  LogicalResult OP::inferResultTypes(SmallVectorImpl<Type> &types) {                               \
    return sameAsInput(*this, types);                                                              \
  }
QOPT_SAME_AS_INPUT(NegOp)
QOPT_SAME_AS_INPUT(AbsOp)
QOPT_SAME_AS_INPUT(SqrtOp)
QOPT_SAME_AS_INPUT(ReciprocalOp)
QOPT_SAME_AS_INPUT(ExpOp)
QOPT_SAME_AS_INPUT(LogOp)
QOPT_SAME_AS_INPUT(TanhOp)
QOPT_SAME_AS_INPUT(ErfOp)
QOPT_SAME_AS_INPUT(SigmoidOp)
QOPT_SAME_AS_INPUT(SinOp)
QOPT_SAME_AS_INPUT(CosOp)
QOPT_SAME_AS_INPUT(ReluOp)
QOPT_SAME_AS_INPUT(FloorOp)
QOPT_SAME_AS_INPUT(CeilOp)
QOPT_SAME_AS_INPUT(RoundOp)
QOPT_SAME_AS_INPUT(SignOp)
QOPT_SAME_AS_INPUT(SiluOp)
QOPT_SAME_AS_INPUT(GeluOp)
QOPT_SAME_AS_INPUT(CumSumOp)
QOPT_SAME_AS_INPUT(TriluOp)
QOPT_SAME_AS_INPUT(SoftmaxOp)
QOPT_SAME_AS_INPUT(FakeQuantOp)
QOPT_SAME_AS_INPUT(ObserveOp)
QOPT_SAME_AS_INPUT(LayerNormOp)
QOPT_SAME_AS_INPUT(RMSNormOp)
#undef QOPT_SAME_AS_INPUT

LogicalResult NotOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (!isBool(getInput().getType().getElementType()))
    return emitOpError() << "expects an i1 operand";
  return sameAsInput(*this, types);
}

LogicalResult IsNaNOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto in = rankedType(getInput());
  if (!isa<FloatType>(in.getElementType()))
    return emitOpError() << "expects a float operand";
  return pushTensor(types, in.getShape(), IntegerType::get(getContext(), 1));
}

LogicalResult CastOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return pushTensor(types, rankedType(getInput()).getShape(), getTo());
}

#define QOPT_BINARY(OP, FN)                                                                        \
  LogicalResult OP::inferResultTypes(SmallVectorImpl<Type> &types) { return FN(*this, types); }
QOPT_BINARY(AddOp, inferArithmetic)
QOPT_BINARY(SubOp, inferArithmetic)
QOPT_BINARY(MulOp, inferArithmetic)
QOPT_BINARY(DivOp, inferArithmetic)
QOPT_BINARY(MaxOp, inferArithmetic)
QOPT_BINARY(MinOp, inferArithmetic)
QOPT_BINARY(ModOp, inferArithmetic)
QOPT_BINARY(AndOp, inferLogical)
QOPT_BINARY(OrOp, inferLogical)
QOPT_BINARY(XorOp, inferLogical)
QOPT_BINARY(EqualOp, inferCompare)
QOPT_BINARY(LessOp, inferCompare)
QOPT_BINARY(LessEqualOp, inferCompare)
QOPT_BINARY(GreaterOp, inferCompare)
QOPT_BINARY(GreaterEqualOp, inferCompare)
#undef QOPT_BINARY

LogicalResult PowOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (!isNumeric(getLhs().getType().getElementType()) ||
      !isNumeric(getRhs().getType().getElementType()))
    return emitOpError() << "expects numeric operands";
  return inferBinary(*this, types, {}, /*sameElements=*/false);
}

LogicalResult WhereOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto c = rankedType(getCondition()), x = rankedType(getX()), y = rankedType(getY());
  if (!isBool(c.getElementType()))
    return emitOpError() << "expects an i1 condition";
  if (x.getElementType() != y.getElementType())
    return emitOpError() << "expects x and y of one element type";
  auto xy = broadcast(*this, x.getShape(), y.getShape());
  if (failed(xy))
    return failure();
  auto shape = broadcast(*this, c.getShape(), *xy);
  if (failed(shape))
    return failure();
  return pushTensor(types, *shape, x.getElementType());
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

std::pair<int64_t, int64_t> ShapeOp::getDimRange() {
  int64_t rank = rankedType(getInput()).getRank();
  auto clampDim = [&](int64_t d) { return std::clamp(d < 0 ? d + rank : d, int64_t(0), rank); };
  int64_t first = clampDim(getStart());
  int64_t last = getEnd() ? clampDim(*getEnd()) : rank;
  return {first, std::max(first, last)};
}

LogicalResult ShapeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto [first, last] = getDimRange();
  return pushTensor(types, {last - first}, IntegerType::get(getContext(), 64));
}

LogicalResult GatherOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto data = rankedType(getData()), indices = rankedType(getIndices());
  if (!isa<IntegerType>(indices.getElementType()))
    return emitOpError() << "expects integer indices";
  auto axis = normalizeAxis(*this, getAxis(), data.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(data.getShape().take_front(*axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, data.getShape().drop_front(*axis + 1));
  return pushTensor(types, shape, data.getElementType());
}

LogicalResult GatherElementsOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto data = rankedType(getData()), indices = rankedType(getIndices());
  if (data.getRank() != indices.getRank())
    return emitOpError() << "expects data and indices of one rank";
  if (failed(normalizeAxis(*this, getAxis(), data.getRank())))
    return failure();
  return pushTensor(types, indices.getShape(), data.getElementType());
}

LogicalResult GatherNDOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto data = rankedType(getData()), indices = rankedType(getIndices());
  int64_t b = getBatchDims();
  if (indices.getRank() < 1 || indices.isDynamicDim(indices.getRank() - 1))
    return emitOpError() << "needs indices whose last dimension is static";
  int64_t last = indices.getDimSize(indices.getRank() - 1);
  if (b < 0 || b >= std::min(data.getRank(), indices.getRank()) || b + last > data.getRank())
    return emitOpError() << "batch_dims " << b << " and index depth " << last
                         << " do not fit data of rank " << data.getRank();
  SmallVector<int64_t> shape(indices.getShape().drop_back());
  llvm::append_range(shape, data.getShape().drop_front(b + last));
  return pushTensor(types, shape, data.getElementType());
}

LogicalResult ConcatOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (getInputs().empty())
    return emitOpError() << "needs at least one input";
  auto first = rankedType(getInputs().front());
  auto axis = normalizeAxis(*this, getAxis(), first.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value in : getInputs()) {
    auto t = rankedType(in);
    if (t.getRank() != first.getRank() || t.getElementType() != first.getElementType())
      return emitOpError() << "expects inputs of one rank and element type";
    for (int64_t d = 0; d < t.getRank(); ++d) {
      int64_t s = t.getDimSize(d);
      if (d == *axis) {
        shape[d] = (shape[d] == kDyn || s == kDyn) ? kDyn : shape[d] + s;
      } else if (shape[d] == kDyn) {
        shape[d] = s;
      } else if (s != kDyn && s != shape[d]) {
        return emitOpError() << "input dimension " << d << " is " << s << ", expected "
                             << shape[d];
      }
    }
  }
  return pushTensor(types, shape, first.getElementType());
}

LogicalResult KVAppendOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto past = rankedType(getPast()), add = rankedType(getNewValues());
  auto axis = normalizeAxis(*this, getAxis(), past.getRank());
  if (failed(axis))
    return failure();
  if (add.getRank() != past.getRank())
    return emitOpError() << "appends a tensor of rank " << add.getRank() << " to one of rank "
                         << past.getRank();
  SmallVector<int64_t> shape(past.getShape());
  for (int64_t d = 0; d < past.getRank(); ++d) {
    int64_t s = add.getDimSize(d);
    if (d == *axis)
      shape[d] = (shape[d] == kDyn || s == kDyn) ? kDyn : shape[d] + s;
    else if (shape[d] == kDyn)
      shape[d] = s;
    else if (s != kDyn && s != shape[d])
      return emitOpError() << "appended dimension " << d << " is " << s << ", expected "
                           << shape[d];
  }
  return pushTensor(types, shape, past.getElementType());
}

LogicalResult RangeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  Type et = rankedType(getStart()).getElementType();
  for (Value v : {getStart(), getLimit(), getDelta()})
    if (rankedType(v).getNumElements() != 1 || rankedType(v).getElementType() != et)
      return emitOpError() << "expects three scalars of one element type";
  int64_t n = kDyn;
  auto s = getConstantInts(getStart()), l = getConstantInts(getLimit()),
       d = getConstantInts(getDelta());
  if (s && l && d) {
    if ((*d)[0] == 0)
      return emitOpError() << "has a zero delta";
    int64_t span = (*l)[0] - (*s)[0], step = (*d)[0];
    n = std::max<int64_t>(0, (span + step + (step > 0 ? -1 : 1)) / step);
  }
  return pushTensor(types, {n}, et);
}

LogicalResult ExpandOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto dims = shapeOperandDims(*this, getShape());
  if (failed(dims))
    return failure();
  auto in = rankedType(getInput());
  auto shape = broadcast(*this, in.getShape(), *dims);
  if (failed(shape))
    return failure();
  // A `?` in the shape operand may still be 1, so the input dim cannot be trusted there, except a
  // static input dim other than 1, which either wins or makes the graph invalid.
  size_t offset = shape->size() - dims->size();
  for (size_t i = 0; i < dims->size(); ++i) {
    if ((*dims)[i] != kDyn)
      continue;
    int64_t inDim = (i + offset) >= shape->size() - in.getRank()
                        ? in.getDimSize(i + offset - (shape->size() - in.getRank()))
                        : 1;
    (*shape)[i + offset] = (inDim != kDyn && inDim != 1) ? inDim : kDyn;
  }
  return pushTensor(types, *shape, in.getElementType());
}

LogicalResult TileOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto repeats = shapeOperandDims(*this, getRepeats());
  if (failed(repeats))
    return failure();
  auto in = rankedType(getInput());
  if (static_cast<int64_t>(repeats->size()) != in.getRank())
    return emitOpError() << "has " << repeats->size() << " repeats for an input of rank "
                         << in.getRank();
  SmallVector<int64_t> shape;
  for (auto [dim, times] : llvm::zip(in.getShape(), *repeats)) {
    if (times != kDyn && times < 0)
      return emitOpError() << "has a negative repeat count " << times;
    shape.push_back(dim == kDyn || times == kDyn ? kDyn : dim * times);
  }
  return pushTensor(types, shape, in.getElementType());
}

LogicalResult ReshapeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto dims = shapeOperandDims(*this, getShape());
  if (failed(dims))
    return failure();
  auto in = rankedType(getInput());
  SmallVector<int64_t> shape(*dims);
  int64_t inferIndex = -1;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (d == 0 && !getAllowzero()) {
      if (static_cast<int64_t>(i) >= in.getRank())
        return emitOpError() << "copies dimension " << i << " of an input of rank "
                             << in.getRank();
      d = in.getDimSize(i);
    } else if (d == -1) {
      if (inferIndex >= 0)
        return emitOpError() << "has more than one -1 in its shape";
      inferIndex = i;
    } else if (d < -1 && d != kDyn) {
      return emitOpError() << "has a negative dimension " << d;
    }
  }
  if (inferIndex >= 0) {
    int64_t known = 1;
    bool allStatic = in.hasStaticShape();
    for (auto [i, d] : llvm::enumerate(shape)) {
      if (static_cast<int64_t>(i) == inferIndex)
        continue;
      if (d == kDyn)
        allStatic = false;
      else
        known *= d;
    }
    shape[inferIndex] = kDyn;
    if (allStatic && known != 0) {
      if (in.getNumElements() % known != 0)
        return emitOpError() << "cannot reshape " << in << " into the requested shape";
      shape[inferIndex] = in.getNumElements() / known;
    }
  } else if (in.hasStaticShape() && !llvm::is_contained(shape, kDyn)) {
    int64_t count = 1;
    for (int64_t d : shape)
      count *= d;
    if (count != in.getNumElements())
      return emitOpError() << "cannot reshape " << in << " into " << count << " elements";
  }
  return pushTensor(types, shape, in.getElementType());
}

LogicalResult TransposeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto in = rankedType(getInput());
  ArrayRef<int64_t> perm = getPerm();
  if (static_cast<int64_t>(perm.size()) != in.getRank())
    return emitOpError() << "has a permutation of " << perm.size() << " entries for rank "
                         << in.getRank();
  SmallVector<bool> seen(perm.size(), false);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= in.getRank() || seen[p])
      return emitOpError() << "has an invalid permutation";
    seen[p] = true;
    shape.push_back(in.getDimSize(p));
  }
  return pushTensor(types, shape, in.getElementType());
}

LogicalResult SliceOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto in = rankedType(getInput());
  int64_t rank = in.getRank();
  auto starts = getConstantInts(getStarts()), ends = getConstantInts(getEnds());
  std::optional<SmallVector<int64_t>> axes, steps;
  if (getAxes())
    axes = getConstantInts(getAxes());
  if (getSteps())
    steps = getConstantInts(getSteps());
  int64_t n = rankedType(getStarts()).getNumElements();
  if (rankedType(getStarts()).getRank() != 1 || rankedType(getEnds()).getRank() != 1)
    return emitOpError() << "expects 1-D starts and ends";
  SmallVector<int64_t> shape(in.getShape());
  if (getAxes() && !axes) // Unknown axes: any dim may be sliced.
    return pushTensor(types, SmallVector<int64_t>(rank, kDyn), in.getElementType());
  if (n == kDyn)
    return pushTensor(types, SmallVector<int64_t>(rank, kDyn), in.getElementType());
  for (int64_t i = 0; i < n; ++i) {
    auto axis = normalizeAxis(*this, axes ? (*axes)[i] : i, rank);
    if (failed(axis))
      return failure();
    int64_t dim = in.getDimSize(*axis);
    int64_t step = steps ? (*steps)[i] : (getSteps() ? 0 : 1);
    if (steps && step == 0)
      return emitOpError() << "has a zero step";
    if (!starts || !ends || dim == kDyn || step == 0) {
      shape[*axis] = kDyn;
      continue;
    }
    int64_t s = (*starts)[i], e = (*ends)[i];
    if (s < 0)
      s += dim;
    if (e < 0)
      e += dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      shape[*axis] = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      shape[*axis] = s > e ? (s - e - step - 1) / -step : 0;
    }
  }
  return pushTensor(types, shape, in.getElementType());
}

LogicalResult SplitOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto in = rankedType(getInput());
  auto axis = normalizeAxis(*this, getAxis(), in.getRank());
  if (failed(axis))
    return failure();
  int64_t parts = getNumResults();
  if (parts < 1)
    return emitOpError() << "needs at least one result";
  SmallVector<int64_t> sizes(parts, kDyn);
  int64_t dim = in.getDimSize(*axis);
  if (getSizes()) {
    auto known = getConstantInts(getSizes());
    if (known) {
      if (static_cast<int64_t>(known->size()) != parts)
        return emitOpError() << "has " << known->size() << " split sizes for " << parts
                             << " results";
      int64_t total = 0;
      for (int64_t s : *known)
        total += s;
      if (dim != kDyn && total != dim)
        return emitOpError() << "split sizes add up to " << total << ", not " << dim;
      sizes.assign(known->begin(), known->end());
    }
  } else if (dim != kDyn) {
    // Equal parts, the last one smaller when the dim does not divide (ONNX Split-18).
    int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0; i < parts; ++i)
      sizes[i] = std::max<int64_t>(0, std::min(chunk, dim - i * chunk));
  }
  for (int64_t s : sizes) {
    SmallVector<int64_t> shape(in.getShape());
    shape[*axis] = s;
    types.push_back(RankedTensorType::get(shape, in.getElementType()));
  }
  return success();
}

LogicalResult SqueezeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto in = rankedType(getInput());
  SmallVector<bool> drop(in.getRank(), false);
  if (getAxes().empty()) {
    for (int64_t d = 0; d < in.getRank(); ++d) {
      if (in.isDynamicDim(d))
        return emitOpError() << "cannot squeeze an unknown set of dims of " << in;
      drop[d] = in.getDimSize(d) == 1;
    }
  }
  for (int64_t axis : getAxes()) {
    auto a = normalizeAxis(*this, axis, in.getRank());
    if (failed(a))
      return failure();
    if (!in.isDynamicDim(*a) && in.getDimSize(*a) != 1)
      return emitOpError() << "squeezes dimension " << *a << " of size " << in.getDimSize(*a);
    drop[*a] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (!drop[d])
      shape.push_back(in.getDimSize(d));
  return pushTensor(types, shape, in.getElementType());
}

LogicalResult UnsqueezeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto in = rankedType(getInput());
  int64_t rank = in.getRank() + getAxes().size();
  SmallVector<bool> inserted(rank, false);
  for (int64_t axis : getAxes()) {
    auto a = normalizeAxis(*this, axis, rank);
    if (failed(a))
      return failure();
    if (inserted[*a])
      return emitOpError() << "inserts dimension " << *a << " twice";
    inserted[*a] = true;
  }
  SmallVector<int64_t> shape;
  int64_t next = 0;
  for (int64_t d = 0; d < rank; ++d)
    shape.push_back(inserted[d] ? 1 : in.getDimSize(next++));
  return pushTensor(types, shape, in.getElementType());
}

LogicalResult ConstantOfShapeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto dims = shapeOperandDims(*this, getShape());
  if (failed(dims))
    return failure();
  Type et = getValue().getType();
  if (auto shaped = dyn_cast<ShapedType>(et))
    et = shaped.getElementType();
  return pushTensor(types, *dims, et);
}

//===----------------------------------------------------------------------===//
// Linear algebra and reductions
//===----------------------------------------------------------------------===//

/// NumPy matmul's result shape.
static FailureOr<SmallVector<int64_t>> matmulShape(Operation *op, RankedTensorType a,
                                                   RankedTensorType b) {
  if (a.getRank() < 1 || b.getRank() < 1)
    return op->emitOpError() << "expects operands of rank 1 or more";
  SmallVector<int64_t> as(a.getShape()), bs(b.getShape());
  bool aVec = as.size() == 1, bVec = bs.size() == 1;
  if (aVec)
    as.insert(as.begin(), 1);
  if (bVec)
    bs.push_back(1);
  int64_t k1 = as.back(), k2 = bs[bs.size() - 2];
  if (k1 != kDyn && k2 != kDyn && k1 != k2)
    return op->emitOpError() << "contracts " << k1 << " against " << k2;
  auto batch = broadcast(op, ArrayRef(as).drop_back(2), ArrayRef(bs).drop_back(2));
  if (failed(batch))
    return failure();
  SmallVector<int64_t> shape(*batch);
  if (!aVec)
    shape.push_back(as[as.size() - 2]);
  if (!bVec)
    shape.push_back(bs.back());
  return shape;
}

LogicalResult MatMulIntegerOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto shape = matmulShape(*this, rankedType(getA()), rankedType(getB()));
  if (failed(shape))
    return failure();
  return pushTensor(types, *shape, IntegerType::get(getContext(), 32));
}

LogicalResult QLinearMatMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto shape = matmulShape(*this, rankedType(getA()), rankedType(getB()));
  if (failed(shape))
    return failure();
  return pushTensor(types, *shape, rankedType(getYZeroPoint()).getElementType());
}

LogicalResult QLinearAddOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto shape = broadcast(*this, rankedType(getA()).getShape(), rankedType(getB()).getShape());
  if (failed(shape))
    return failure();
  return pushTensor(types, *shape, rankedType(getCZeroPoint()).getElementType());
}

LogicalResult QLinearMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto shape = broadcast(*this, rankedType(getA()).getShape(), rankedType(getB()).getShape());
  if (failed(shape))
    return failure();
  return pushTensor(types, *shape, rankedType(getCZeroPoint()).getElementType());
}

LogicalResult QLinearSoftmaxOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return pushTensor(types, rankedType(getInput()).getShape(),
                    rankedType(getInput()).getElementType());
}

LogicalResult DynamicQuantizeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto x = rankedType(getInput());
  if (!x.getElementType().isF32())
    return emitOpError() << "quantizes f32 tensors";
  Type u8 = IntegerType::get(getContext(), 8, IntegerType::Unsigned);
  if (failed(pushTensor(types, x.getShape(), u8)) ||
      failed(pushTensor(types, {}, Float32Type::get(getContext()))))
    return failure();
  return pushTensor(types, {}, u8);
}

LogicalResult MatMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto a = rankedType(getLhs()), b = rankedType(getRhs());
  if (a.getElementType() != b.getElementType())
    return emitOpError() << "operand element types differ";
  auto shape = matmulShape(*this, a, b);
  if (failed(shape))
    return failure();
  return pushTensor(types, *shape, a.getElementType());
}

LogicalResult AttentionOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto q = rankedType(getQuery()), k = rankedType(getKey()), v = rankedType(getValue());
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return emitOpError() << "expects rank-4 [batch, heads, length, dim] query, key and value";
  int64_t heads = q.getDimSize(1), kvHeads = k.getDimSize(1);
  if (kvHeads != kDyn && v.getDimSize(1) != kDyn && kvHeads != v.getDimSize(1))
    return emitOpError() << "has " << kvHeads << " key heads but " << v.getDimSize(1)
                         << " value heads";
  if (heads != kDyn && kvHeads != kDyn && (kvHeads == 0 || heads % kvHeads != 0))
    return emitOpError() << "has " << heads << " query heads, not a multiple of the " << kvHeads
                         << " key heads";
  if (q.getDimSize(3) != kDyn && k.getDimSize(3) != kDyn && q.getDimSize(3) != k.getDimSize(3))
    return emitOpError() << "has queries of width " << q.getDimSize(3) << " and keys of width "
                         << k.getDimSize(3);
  if (k.getDimSize(2) != kDyn && v.getDimSize(2) != kDyn && k.getDimSize(2) != v.getDimSize(2))
    return emitOpError() << "has " << k.getDimSize(2) << " keys but " << v.getDimSize(2)
                         << " values";
  if (Value mask = getMask(); mask && rankedType(mask).getRank() > 4)
    return emitOpError() << "has a mask of rank above 4";
  SmallVector<int64_t> shape(q.getShape());
  shape[3] = v.getDimSize(3);
  return pushTensor(types, shape, q.getElementType());
}

LogicalResult GemmOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto a = rankedType(getA()), b = rankedType(getB());
  if (a.getRank() != 2 || b.getRank() != 2)
    return emitOpError() << "expects 2-D a and b";
  int64_t m = a.getDimSize(getTransA() ? 1 : 0), ka = a.getDimSize(getTransA() ? 0 : 1);
  int64_t kb = b.getDimSize(getTransB() ? 1 : 0), n = b.getDimSize(getTransB() ? 0 : 1);
  if (ka != kDyn && kb != kDyn && ka != kb)
    return emitOpError() << "contracts " << ka << " against " << kb;
  if (getC() && failed(broadcast(*this, rankedType(getC()).getShape(), {m, n})))
    return failure();
  return pushTensor(types, {m, n}, a.getElementType());
}

LogicalResult ReduceMeanOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferReduce(*this, getAxes(), getKeepdims(), types);
}
LogicalResult ReduceSumOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferReduce(*this, getAxes(), getKeepdims(), types);
}
LogicalResult ReduceMaxOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferReduce(*this, getAxes(), getKeepdims(), types);
}
LogicalResult ReduceMinOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferReduce(*this, getAxes(), getKeepdims(), types);
}
LogicalResult ReduceProdOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferReduce(*this, getAxes(), getKeepdims(), types);
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return pushTensor(types, rankedType(getInput()).getShape(), getStorageType());
}

LogicalResult DequantizeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return pushTensor(types, rankedType(getInput()).getShape(),
                    rankedType(getScale()).getElementType());
}

LogicalResult QuantizedMatMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto x = rankedType(getInput()), codes = rankedType(getCodes());
  if (x.getRank() < 1 || codes.getRank() != 2)
    return emitOpError() << "expects an input of rank 1 or more and 2-D codes";
  SmallVector<int64_t> shape(x.getShape().drop_back());
  shape.push_back(codes.getDimSize(0));
  return pushTensor(types, shape, x.getElementType());
}

LogicalResult SparseMatMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto x = rankedType(getInput()), offsets = rankedType(getRowOffsets());
  if (x.getRank() < 1 || offsets.getRank() != 1)
    return emitOpError() << "expects an input of rank 1 or more and 1-D row offsets";
  SmallVector<int64_t> shape(x.getShape().drop_back());
  shape.push_back(offsets.isDynamicDim(0) ? ShapedType::kDynamic : offsets.getDimSize(0) - 1);
  return pushTensor(types, shape, x.getElementType());
}

LogicalResult QuantizedGatherOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape(rankedType(getIndices()).getShape());
  shape.push_back(getRowSize());
  return pushTensor(types, shape, Float32Type::get(getContext()));
}

LogicalResult FusedElementwiseOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape;
  for (Value in : getInputs()) {
    auto s = broadcast(*this, shape, rankedType(in).getShape());
    if (failed(s))
      return failure();
    shape = *s;
  }
  // The element type is what the body yields (f32 unless the chain ends in a comparison).
  Type element = Float32Type::get(getContext());
  if (!getBody().empty())
    if (auto yield = dyn_cast<YieldOp>(getBody().front().getTerminator());
        yield && yield.getValues().size() == 1)
      element = yield.getValues()[0].getType();
  return pushTensor(types, shape, element);
}

LogicalResult FusedMatMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape(rankedType(getInput()).getShape());
  if (shape.empty())
    return emitOpError() << "needs an input of rank 1 or more";
  shape.back() = getN();
  return pushTensor(types, shape, Float32Type::get(getContext()));
}

LogicalResult PanelGatherOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape(rankedType(getIndices()).getShape());
  shape.push_back(rankedType(getPanels()).getDimSize(1));
  return pushTensor(types, shape, Float32Type::get(getContext()));
}
