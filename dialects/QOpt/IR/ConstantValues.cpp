//===- ConstantValues.cpp - reading constant and partly known tensors -----===//
#include "dialects/QOpt/IR/ConstantValues.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace qopt::QOpt;

/// Reads a resource blob of `n` elements of type T, widening each with `widen`.
template <typename T, typename R>
static std::optional<SmallVector<R>> readBlob(DenseResourceElementsAttr attr) {
  AsmResourceBlob *blob = attr.getRawHandle().getBlob();
  if (!blob)
    return std::nullopt;
  ArrayRef<char> data = blob->getData();
  int64_t n = attr.getType().getNumElements();
  if (static_cast<int64_t>(data.size()) != n * static_cast<int64_t>(sizeof(T)))
    return std::nullopt;
  SmallVector<R> out(n);
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<R>(v);
  }
  return out;
}

std::optional<SmallVector<int64_t>> qopt::QOpt::getIntValues(Attribute attr) {
  if (auto dense = dyn_cast_or_null<DenseIntElementsAttr>(attr)) {
    bool isUnsigned = dense.getElementType().isUnsignedInteger() ||
                      dense.getElementType().isInteger(1);
    SmallVector<int64_t> out;
    for (const APInt &v : dense.getValues<APInt>())
      out.push_back(isUnsigned ? static_cast<int64_t>(v.getZExtValue()) : v.getSExtValue());
    return out;
  }
  auto res = dyn_cast_or_null<DenseResourceElementsAttr>(attr);
  if (!res)
    return std::nullopt;
  Type et = res.getType().getElementType();
  if (et.isInteger(64))
    return readBlob<int64_t, int64_t>(res);
  if (et.isSignlessInteger(32))
    return readBlob<int32_t, int64_t>(res);
  if (et.isUnsignedInteger(32))
    return readBlob<uint32_t, int64_t>(res);
  if (et.isSignlessInteger(8))
    return readBlob<int8_t, int64_t>(res);
  if (et.isUnsignedInteger(8) || et.isInteger(1))
    return readBlob<uint8_t, int64_t>(res);
  return std::nullopt;
}

std::optional<SmallVector<double>> qopt::QOpt::getFloatValues(Attribute attr) {
  if (auto dense = dyn_cast_or_null<DenseFPElementsAttr>(attr)) {
    SmallVector<double> out;
    for (const APFloat &v : dense.getValues<APFloat>())
      out.push_back(v.convertToDouble());
    return out;
  }
  auto res = dyn_cast_or_null<DenseResourceElementsAttr>(attr);
  if (!res)
    return std::nullopt;
  Type et = res.getType().getElementType();
  if (et.isF32())
    return readBlob<float, double>(res);
  if (et.isF64())
    return readBlob<double, double>(res);
  if (et.isF16()) {
    // Half floats by their bits, widened exactly through APFloat's IEEE half semantics.
    std::optional<SmallVector<int64_t>> bits = readBlob<uint16_t, int64_t>(res);
    if (!bits)
      return std::nullopt;
    SmallVector<double> out;
    out.reserve(bits->size());
    for (int64_t b : *bits)
      out.push_back(APFloat(APFloat::IEEEhalf(), APInt(16, static_cast<uint64_t>(b)))
                        .convertToDouble());
    return out;
  }
  return std::nullopt;
}

ElementsAttr qopt::QOpt::getConstantAttr(Value value) {
  Attribute attr;
  if (!value || !matchPattern(value, m_Constant(&attr)))
    return {};
  return dyn_cast<ElementsAttr>(attr);
}

std::optional<SmallVector<int64_t>> qopt::QOpt::getConstantInts(Value value) {
  ElementsAttr attr = getConstantAttr(value);
  if (!attr || !isa<IntegerType>(attr.getElementType()))
    return std::nullopt;
  return getIntValues(attr);
}

std::optional<SmallVector<int64_t>> qopt::QOpt::getKnownInts(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getRank() > 1 || !type.hasStaticShape() ||
      !isa<IntegerType>(type.getElementType()))
    return std::nullopt;
  if (auto ints = getConstantInts(value))
    return ints;
  Operation *def = value.getDefiningOp();
  SmallVector<int64_t> unknown(type.getNumElements(), kUnknownValue);
  if (!def)
    return unknown;
  if (auto shape = dyn_cast<ShapeOp>(def)) {
    auto inType = cast<RankedTensorType>(shape.getInput().getType());
    auto [first, last] = shape.getDimRange();
    SmallVector<int64_t> dims;
    for (int64_t i = first; i < last; ++i)
      dims.push_back(inType.isDynamicDim(i) ? kUnknownValue : inType.getDimSize(i));
    return dims;
  }
  if (auto concat = dyn_cast<ConcatOp>(def)) {
    SmallVector<int64_t> out;
    for (Value in : concat.getInputs()) {
      auto part = getKnownInts(in);
      if (!part)
        return unknown;
      out.append(*part);
    }
    return out.size() == unknown.size() ? out : unknown;
  }
  if (isa<CastOp, SqueezeOp, UnsqueezeOp, ReshapeOp>(def)) {
    auto in = getKnownInts(def->getOperand(0));
    if (in && in->size() == unknown.size())
      return in;
    return unknown;
  }
  if (auto gather = dyn_cast<GatherOp>(def)) {
    auto data = getKnownInts(gather.getData());
    auto indices = getConstantInts(gather.getIndices());
    if (!data || !indices || indices->size() != unknown.size())
      return unknown;
    SmallVector<int64_t> out;
    for (int64_t i : *indices) {
      int64_t n = static_cast<int64_t>(data->size());
      if (i < 0)
        i += n;
      if (i < 0 || i >= n)
        return unknown;
      out.push_back((*data)[i]);
    }
    return out;
  }
  return unknown;
}
