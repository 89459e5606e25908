//===- QOptOps.cpp - qopt op verifiers ------------------------------------===//
#include "dialects/QOpt/IR/QOptOps.h"

#include <cmath>

#include "qopt/Quant/ChannelPanels.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace qopt::QOpt;

#include "dialects/QOpt/IR/QOptInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/QOpt/IR/QOptOps.cpp.inc"

LogicalResult GeluOp::verify() {
  if (getApproximate() != "none" && getApproximate() != "tanh")
    return emitOpError() << "approximate must be \"none\" or \"tanh\", not \"" << getApproximate()
                         << "\"";
  return success();
}

LogicalResult FakeQuantOp::verify() {
  auto type = getInput().getType();
  if (!isa<FloatType>(type.getElementType()))
    return emitOpError() << "quantizes float tensors only";
  if (getOutput().getType() != type)
    return emitOpError() << "result type must be the input type " << type;
  SchemeAttr scheme = getScheme();
  if (getDynamic()) {
    if (scheme.getCodebook() != Codebook::Int || !scheme.getSymmetric())
      return emitOpError() << "dynamic (activation) fake-quant takes a symmetric int scheme";
    if (getScales() || getZeroPoints())
      return emitOpError() << "dynamic fake-quant computes its scales: it takes no scale operands";
    if (type.getRank() < 1)
      return emitOpError() << "dynamic fake-quant needs a rank of at least 1";
    return success();
  }
  if (type.getRank() != 2)
    return emitOpError() << "expects a 2-D [N, K] weight, not rank " << type.getRank();
  bool asym = scheme.getCodebook() == Codebook::Int && !scheme.getSymmetric();
  if (!getScales()) {
    if (getZeroPoints())
      return emitOpError() << "has zero points without scales";
    return success();
  }
  auto s = cast<RankedTensorType>(getScales().getType());
  if (!s.getElementType().isF32() || s.getRank() != 2)
    return emitOpError() << "scales must be a 2-D f32 tensor [N, groups], not " << s;
  if (type.hasStaticShape() && s.hasStaticShape()) {
    int64_t groups = scheme.getNumGroups(type.getDimSize(1));
    if (s.getDimSize(0) != type.getDimSize(0) || s.getDimSize(1) != groups)
      return emitOpError() << "expects scales of shape [" << type.getDimSize(0) << ", " << groups
                           << "] for the scheme's groups, not " << s;
  }
  if (asym != static_cast<bool>(getZeroPoints()))
    return emitOpError() << (asym ? "needs zero points for its asymmetric scheme"
                                  : "has zero points but its scheme has none");
  if (getZeroPoints()) {
    auto z = cast<RankedTensorType>(getZeroPoints().getType());
    if (!z.getElementType().isUnsignedInteger(8) || z.getShape() != s.getShape())
      return emitOpError() << "zero points must be ui8 of the scales' shape, not " << z;
  }
  return success();
}

/// Checks the scale and zero-point operands of quantize/dequantize against ONNX's three layouts.
static LogicalResult verifyQuantParams(Operation *op, Value input, Value scale, Value zeroPoint,
                                       int64_t axis, int64_t blockSize) {
  auto in = cast<RankedTensorType>(input.getType());
  auto s = cast<RankedTensorType>(scale.getType());
  auto zp = zeroPoint ? cast<RankedTensorType>(zeroPoint.getType()) : RankedTensorType();
  // A per-tensor scale and zero point may each be 0-D or [1].
  bool bothSingle = zp && zp.hasStaticShape() && s.hasStaticShape() && zp.getNumElements() == 1 &&
                    s.getNumElements() == 1;
  if (zp && !bothSingle && zp.getShape() != s.getShape())
    return op->emitOpError() << "zero point shape must match the scale shape " << s;
  if (s.getRank() == 0 || (s.getRank() == 1 && s.getDimSize(0) == 1 && blockSize == 0))
    return success();
  int64_t a = axis < 0 ? axis + in.getRank() : axis;
  if (a < 0 || a >= in.getRank())
    return op->emitOpError() << "axis " << axis << " is out of range for rank " << in.getRank();
  if (blockSize < 0)
    return op->emitOpError() << "block_size must not be negative";
  if (blockSize == 0) {
    if (s.getRank() != 1)
      return op->emitOpError() << "per-axis scales must be 1-D";
    if (!in.isDynamicDim(a) && !s.isDynamicDim(0) && s.getDimSize(0) != in.getDimSize(a))
      return op->emitOpError() << "has " << s.getDimSize(0) << " scales for axis " << a
                               << " of size " << in.getDimSize(a);
    return success();
  }
  if (s.getRank() != in.getRank())
    return op->emitOpError() << "blocked scales must have the input's rank";
  for (int64_t d = 0; d < in.getRank(); ++d) {
    if (in.isDynamicDim(d) || s.isDynamicDim(d))
      continue;
    int64_t want = d == a ? (in.getDimSize(d) + blockSize - 1) / blockSize : in.getDimSize(d);
    if (s.getDimSize(d) != want)
      return op->emitOpError() << "blocked scale dimension " << d << " is " << s.getDimSize(d)
                               << ", expected " << want;
  }
  return success();
}

LogicalResult QuantizeOp::verify() {
  auto storage = dyn_cast<IntegerType>(getStorageType());
  if (!storage && !isa<FloatType>(getStorageType()))
    return emitOpError() << "stores integers or small floats, not " << getStorageType();
  if (getZeroPoint() && getZeroPoint().getType().getElementType() != getStorageType())
    return emitOpError() << "zero point must have the storage type " << getStorageType();
  return verifyQuantParams(*this, getInput(), getScale(), getZeroPoint(), getAxis(),
                           getBlockSize());
}

LogicalResult DequantizeOp::verify() {
  if (getZeroPoint() &&
      getZeroPoint().getType().getElementType() != getInput().getType().getElementType())
    return emitOpError() << "zero point must have the input's element type";
  return verifyQuantParams(*this, getInput(), getScale(), getZeroPoint(), getAxis(),
                           getBlockSize());
}

/// Checks the packed form of a quantized [N, K] weight (`codes`, `scales`, zero points and
/// second-level scales) against `scheme`; shared by the quantized matmul and gather.
static LogicalResult verifyPackedWeight(Operation *op, SchemeAttr scheme, int64_t k, Value codesValue,
                                        Value scalesValue, Value zeroPoints, Value scaleScales) {
  auto codes = cast<RankedTensorType>(codesValue.getType());
  if (codes.getRank() != 2 || !codes.getElementType().isUnsignedInteger(8))
    return op->emitOpError() << "expects 2-D codes packed into ui8";
  int64_t n = codes.getDimSize(0);
  if (codes.getDimSize(1) != scheme.getPackedRowBytes(k))
    return op->emitOpError() << "expects " << scheme.getPackedRowBytes(k)
                             << " bytes of codes per row for " << k << " " << scheme.getBits()
                             << "-bit codes, got " << codes.getDimSize(1);
  SmallVector<int64_t> groupShape{n, scheme.getNumGroups(k)};
  auto scales = cast<RankedTensorType>(scalesValue.getType());
  if (scales.getShape() != ArrayRef(groupShape))
    return op->emitOpError() << "expects scales of shape " << n << "x" << groupShape[1];
  bool doubleQuant = scheme.getDoubleQuantBlock() > 0;
  Type wantScale = doubleQuant ? Type(IntegerType::get(op->getContext(), 8, IntegerType::Unsigned))
                               : scheme.getScaleType();
  if (scales.getElementType() != wantScale)
    return op->emitOpError() << "expects scales of element type " << wantScale;
  if (doubleQuant != static_cast<bool>(scaleScales))
    return op->emitOpError() << "takes scale_scales exactly when the scheme is double-quantized";
  if (doubleQuant) {
    int64_t blocks = (n * groupShape[1] + scheme.getDoubleQuantBlock() - 1) /
                     scheme.getDoubleQuantBlock();
    auto ss = cast<RankedTensorType>(scaleScales.getType());
    if (ss.getRank() != 1 || ss.getDimSize(0) != blocks || !ss.getElementType().isF32())
      return op->emitOpError() << "expects " << blocks << " f32 second-level scales";
  }
  if (scheme.getSymmetric() == static_cast<bool>(zeroPoints))
    return op->emitOpError() << "takes zero points exactly when the scheme is asymmetric";
  auto zpType = zeroPoints ? cast<RankedTensorType>(zeroPoints.getType()) : RankedTensorType();
  if (zpType && (zpType.getShape() != ArrayRef(groupShape) ||
                 !zpType.getElementType().isUnsignedInteger(8)))
    return op->emitOpError() << "expects ui8 zero points of shape " << n << "x" << groupShape[1];
  return success();
}

LogicalResult SparseMatMulOp::verify() {
  auto offsets = cast<RankedTensorType>(getRowOffsets().getType());
  auto columns = cast<RankedTensorType>(getColumns().getType());
  auto values = cast<RankedTensorType>(getValues().getType());
  if (!offsets.getElementType().isInteger(32) || !columns.getElementType().isInteger(32) ||
      !values.getElementType().isF16() || offsets.getRank() != 1 || columns.getRank() != 1 ||
      values.getRank() != 1)
    return emitOpError() << "expects 1-D i32 row offsets and columns and 1-D f16 values";
  if (columns.hasStaticShape() && values.hasStaticShape() &&
      columns.getDimSize(0) != values.getDimSize(0))
    return emitOpError() << "has " << columns.getDimSize(0) << " columns but "
                         << values.getDimSize(0) << " values";
  return success();
}

LogicalResult QuantizedMatMulOp::verify() {
  int64_t k = getInFeatures();
  auto x = getInput().getType();
  if (k <= 0)
    return emitOpError() << "in_features must be positive";
  if (!x.isDynamicDim(x.getRank() - 1) && x.getDimSize(x.getRank() - 1) != k)
    return emitOpError() << "input has " << x.getDimSize(x.getRank() - 1)
                         << " features, the weight " << k;
  if (getInt8Activations() && getScheme().getCodebook() != Codebook::Int)
    return emitOpError() << "int8_activations needs integer codes";
  if (getInt8Activations() && getBf16Activations())
    return emitOpError() << "int8_activations and bf16_activations exclude each other";
  if (auto scale = getActivationScale()) {
    if (!getInt8Activations())
      return emitOpError() << "activation_scale needs int8_activations";
    if (!(scale->convertToFloat() > 0.0f) || !std::isfinite(scale->convertToFloat()))
      return emitOpError() << "activation_scale must be positive and finite";
  }
  if (getChannelPanels()) {
    SchemeAttr scheme = getScheme();
    unsigned bits = scheme.getBits();
    if (!qopt::quant::panelCodesFit(bits, scheme.getCodebook() == Codebook::Int,
                                    scheme.getDoubleQuantBlock() > 0))
      return emitOpError() << "channel_panels needs 4- or 8-bit codes or 2- or 3-bit integer "
                              "codes, without double quantization";
    if (!qopt::quant::panelShapeFits(bits, k, scheme.getGroupSize()))
      return emitOpError() << "channel_panels needs in_features and groups multiples of "
                           << qopt::quant::panelBlockInputs(bits) << " for " << bits
                           << "-bit codes";
  }
  return verifyPackedWeight(*this, getScheme(), k, getCodes(), getScales(), getZeroPoints(),
                            getScaleScales());
}

LogicalResult QuantizedGatherOp::verify() {
  if (getRowSize() <= 0)
    return emitOpError() << "row_size must be positive";
  if (!getIndices().getType().getElementType().isInteger(64) &&
      !getIndices().getType().getElementType().isInteger(32))
    return emitOpError() << "takes int32 or int64 indices";
  return verifyPackedWeight(*this, getScheme(), getRowSize(), getCodes(), getScales(),
                            getZeroPoints(), getScaleScales());
}

static bool isByteInteger(Type t) { return t.isInteger(8); }

LogicalResult MatMulIntegerOp::verify() {
  Type a = getA().getType().getElementType(), b = getB().getType().getElementType();
  if (!isByteInteger(a) || !isByteInteger(b))
    return emitOpError() << "takes int8 or uint8 operands";
  if (getAZeroPoint() && getAZeroPoint().getType().getElementType() != a)
    return emitOpError() << "a_zero_point must have a's element type";
  if (getBZeroPoint() && getBZeroPoint().getType().getElementType() != b)
    return emitOpError() << "b_zero_point must have b's element type";
  return success();
}

/// QLinearAdd / QLinearMul: one 8-bit type throughout, per-tensor f32 scales.
static LogicalResult verifyQLinearBinary(Operation *op, Value a, Value az, Value b, Value bz,
                                         Value cz, ArrayRef<Value> scales) {
  Type t = cast<RankedTensorType>(a.getType()).getElementType();
  if (!isByteInteger(t))
    return op->emitOpError() << "takes int8 or uint8 operands";
  for (Value v : {az, b, bz, cz})
    if (cast<RankedTensorType>(v.getType()).getElementType() != t)
      return op->emitOpError() << "operands, zero points and result must share one element type";
  for (Value v : {az, bz, cz})
    if (cast<RankedTensorType>(v.getType()).getNumElements() != 1)
      return op->emitOpError() << "zero points must be single values";
  for (Value s : scales) {
    auto st = cast<RankedTensorType>(s.getType());
    if (!st.getElementType().isF32() || st.getNumElements() != 1)
      return op->emitOpError() << "scales must be single f32 values";
  }
  return success();
}

LogicalResult QLinearAddOp::verify() {
  return verifyQLinearBinary(*this, getA(), getAZeroPoint(), getB(), getBZeroPoint(),
                             getCZeroPoint(), {getAScale(), getBScale(), getCScale()});
}

LogicalResult QLinearMulOp::verify() {
  return verifyQLinearBinary(*this, getA(), getAZeroPoint(), getB(), getBZeroPoint(),
                             getCZeroPoint(), {getAScale(), getBScale(), getCScale()});
}

LogicalResult QLinearSoftmaxOp::verify() {
  Type t = getInput().getType().getElementType();
  if (!isByteInteger(t) || getYZeroPoint().getType().getElementType() != t)
    return emitOpError() << "takes an int8 or uint8 input and zero point of the same type";
  for (Value s : {getXScale(), getYScale()}) {
    auto st = cast<RankedTensorType>(s.getType());
    if (!st.getElementType().isF32() || st.getNumElements() != 1)
      return emitOpError() << "scales must be single f32 values";
  }
  int64_t rank = getInput().getType().getRank(), axis = static_cast<int64_t>(getAxis());
  if (axis < -rank || axis >= rank)
    return emitOpError() << "axis " << axis << " is out of range for rank " << rank;
  return success();
}

LogicalResult QLinearMatMulOp::verify() {
  Type a = getA().getType().getElementType(), b = getB().getType().getElementType();
  if (!isByteInteger(a) || !isByteInteger(b) ||
      !isByteInteger(getYZeroPoint().getType().getElementType()))
    return emitOpError() << "takes int8 or uint8 operands and result";
  if (getAZeroPoint().getType().getElementType() != a ||
      getBZeroPoint().getType().getElementType() != b)
    return emitOpError() << "zero points must have their operand's element type";
  for (Value s : {getAScale(), getBScale(), getYScale()})
    if (!cast<RankedTensorType>(s.getType()).getElementType().isF32())
      return emitOpError() << "scales are f32";
  if (cast<RankedTensorType>(getYScale().getType()).getNumElements() != 1)
    return emitOpError() << "y_scale must be a single value";
  return success();
}

/// A fused body: `arith` and `math` ops on scalars, yielding one `resultType` element.
static LogicalResult verifyScalarBody(Operation *owner, Block &body, Type resultType) {
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != 1 || yield.getValues()[0].getType() != resultType)
    return owner->emitOpError() << "must yield one element of the result's element type";
  for (Operation &op : body.without_terminator()) {
    Dialect *d = op.getDialect();
    if (!d || !isa<arith::ArithDialect, math::MathDialect>(d))
      return op.emitOpError() << "cannot be part of a fused body (arith and math ops only)";
    for (Type t : op.getResultTypes())
      if (isa<ShapedType>(t))
        return op.emitOpError() << "in a fused body must compute scalars";
  }
  return success();
}

void FusedElementwiseOp::build(OpBuilder &builder, OperationState &state, Type output,
                               ValueRange inputs) {
  state.addOperands(inputs);
  state.addTypes(output);
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  for (Value in : inputs)
    block->addArgument(cast<ShapedType>(in.getType()).getElementType(), state.location);
}

LogicalResult FusedElementwiseOp::verify() {
  auto supported = [](Type t) {
    return t.isF32() || t.isF16() || t.isInteger(1) || t.isSignlessInteger(32) ||
           t.isSignlessInteger(64);
  };
  for (Value in : getInputs())
    if (!supported(cast<ShapedType>(in.getType()).getElementType()))
      return emitOpError() << "takes f32, f16, i1, i32 and i64 tensors only, not "
                           << in.getType();
  if (!supported(getOutput().getType().getElementType()))
    return emitOpError() << "computes f32, f16, i1, i32 or i64 only, not "
                         << getOutput().getType();
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "has " << body.getNumArguments() << " body arguments for "
                         << getInputs().size() << " inputs";
  for (auto [arg, in] : llvm::zip(body.getArguments(), getInputs()))
    if (arg.getType() != cast<ShapedType>(in.getType()).getElementType())
      return emitOpError() << "body argument " << arg.getArgNumber() << " is " << arg.getType()
                           << ", not the element type of its input";
  return verifyScalarBody(*this, body, getOutput().getType().getElementType());
}

void FusedMatMulOp::build(OpBuilder &builder, OperationState &state, Type output, Value input,
                          Value weight, int64_t n, int64_t panel) {
  state.addOperands({input, weight});
  Properties &props = state.getOrAddProperties<Properties>();
  props.n = builder.getI64IntegerAttr(n);
  props.panel = builder.getI64IntegerAttr(panel);
  state.addTypes(output);
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  Value acc = block->addArgument(builder.getF32Type(), state.location);
  // The region has no parent op yet, so the builder takes its context from `builder`.
  OpBuilder bodyBuilder(builder.getContext());
  bodyBuilder.setInsertionPointToEnd(block);
  YieldOp::create(bodyBuilder, state.location, acc);
}

LogicalResult FusedMatMulOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto weight = cast<RankedTensorType>(getWeight().getType());
  RankedTensorType out = getOutput().getType();
  int64_t n = getN(), panel = getPanel();
  if (n < 1 || panel < 1)
    return emitOpError() << "needs n and panel of at least 1";
  if (!weight.hasStaticShape() || weight.getRank() != 3 || weight.getDimSize(2) != panel ||
      weight.getDimSize(0) != (n + panel - 1) / panel)
    return emitOpError() << "weight must be [" << (n + panel - 1) / panel << ", K, " << panel
                         << "] panels, not " << weight;
  int64_t k = weight.getDimSize(1);
  if (input.getRank() < 1 ||
      (!ShapedType::isDynamic(input.getShape().back()) && input.getShape().back() != k))
    return emitOpError() << "input's last dimension must be K = " << k;
  if (out.getRank() != input.getRank() || out.getShape().back() != n)
    return emitOpError() << "result must be the input's shape with " << n << " as last dimension";
  for (auto [d, o] : llvm::zip(input.getShape().drop_back(), out.getShape().drop_back()))
    if (!ShapedType::isDynamic(d) && !ShapedType::isDynamic(o) && d != o)
      return emitOpError() << "result must be the input's shape with " << n
                           << " as last dimension";
  for (Value e : getEpilogueInputs()) {
    auto t = cast<RankedTensorType>(e.getType());
    if (t.getRank() < 1 || t.getRank() > out.getRank() || t.getShape().back() != n)
      return emitOpError() << "epilogue input " << t << " must have " << n
                           << " as static last dimension and no more dimensions than the result";
  }
  Block &body = getBody().front();
  if (body.getNumArguments() != getEpilogueInputs().size() + 1 ||
      !llvm::all_of(body.getArgumentTypes(), [](Type t) { return t.isF32(); }))
    return emitOpError() << "body takes the product element and one element per epilogue input, "
                            "all f32";
  return verifyScalarBody(*this, body, out.getElementType());
}

LogicalResult PanelGatherOp::verify() {
  auto panels = cast<RankedTensorType>(getPanels().getType());
  int64_t n = getN();
  if (n < 1 || !panels.hasStaticShape() || panels.getRank() != 3 ||
      panels.getDimSize(0) != (n + panels.getDimSize(2) - 1) / std::max<int64_t>(panels.getDimSize(2), 1))
    return emitOpError() << "panels must be [ceil(" << n << " / panel), K, panel], not " << panels;
  return success();
}
