//===- FoldConstantQuantize.cpp - QuantizeLinear of constants into codes ---===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>

namespace qopt::QOpt {
#define GEN_PASS_DEF_FOLDCONSTANTQUANTIZEPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// The elements of a constant f32 tensor, or of an integer one (8 bits or fewer, one byte per
/// element as the importer stores them) widened to int64.
std::optional<std::vector<double>> readNumbers(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  std::optional<std::vector<char>> raw = constantData(v);
  if (!type || !raw)
    return std::nullopt;
  Type et = type.getElementType();
  std::vector<double> out;
  if (et.isF32()) {
    out.resize(raw->size() / 4);
    for (size_t i = 0; i < out.size(); ++i) {
      float f;
      std::memcpy(&f, raw->data() + 4 * i, 4);
      out[i] = f;
    }
  } else if (et.isInteger() && et.getIntOrFloatBitWidth() <= 8) {
    out.resize(raw->size());
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = et.isUnsignedInteger() ? double(static_cast<uint8_t>((*raw)[i]))
                                      : double(static_cast<int8_t>((*raw)[i]));
  } else {
    return std::nullopt;
  }
  if (type.hasStaticShape() && static_cast<int64_t>(out.size()) != type.getNumElements()) {
    if (out.size() != 1)
      return std::nullopt;
    out.assign(type.getNumElements(), out[0]); // a splat
  }
  return out;
}

/// The range of an integer storage type of at most 8 bits.
std::pair<int64_t, int64_t> storageRange(Type t) {
  unsigned bits = t.getIntOrFloatBitWidth();
  if (t.isUnsignedInteger())
    return {0, (int64_t(1) << bits) - 1};
  return {-(int64_t(1) << (bits - 1)), (int64_t(1) << (bits - 1)) - 1};
}

/// A scalar integer constant's value.
std::optional<int64_t> scalarInteger(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || type.getNumElements() != 1)
    return std::nullopt;
  std::optional<std::vector<double>> values = readNumbers(v);
  if (!values)
    return std::nullopt;
  return static_cast<int64_t>((*values)[0]);
}

struct FoldConstantQuantizePass
    : public qopt::QOpt::impl::FoldConstantQuantizePassBase<FoldConstantQuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<QuantizeOp> candidates;
    getOperation().walk([&](QuantizeOp q) { candidates.push_back(q); });
    for (QuantizeOp q : candidates)
      if (succeeded(fold(q)))
        ++numFolded;
  }

  LogicalResult fold(QuantizeOp q) {
    auto inType = q.getInput().getType();
    Type storage = q.getStorageType();
    if (!inType.hasStaticShape() || !storage.isInteger() || storage.getIntOrFloatBitWidth() > 8 ||
        !q.getInput().getDefiningOp<arith::ConstantOp>())
      return failure();
    auto x = readNumbers(q.getInput());
    auto scale = readNumbers(q.getScale());
    std::optional<std::vector<double>> zero;
    if (q.getZeroPoint() && !(zero = readNumbers(q.getZeroPoint())))
      return failure();
    if (!x || !scale)
      return failure();
    auto [low, high] = storageRange(storage);

    // A Clip of the codes (max then min by scalars) narrows the range; it folds in too.
    Operation *last = q;
    Value result = q.getResult();
    if (result.hasOneUse())
      if (auto mx = dyn_cast<MaxOp>(*result.getUsers().begin()))
        if (std::optional<int64_t> lo = scalarInteger(mx.getRhs()); lo && mx.getLhs() == result) {
          low = std::max(low, *lo);
          last = mx;
          if (mx.getResult().hasOneUse())
            if (auto mn = dyn_cast<MinOp>(*mx.getResult().getUsers().begin()))
              if (std::optional<int64_t> hi = scalarInteger(mn.getRhs());
                  hi && mn.getLhs() == mx.getResult()) {
                high = std::min(high, *hi);
                last = mn;
              }
        }
    if (last->getResult(0).getType() != result.getType())
      return failure();

    ArrayRef<int64_t> shape = inType.getShape();
    int64_t rank = shape.size();
    auto sType = q.getScale().getType();
    int64_t axis = q.getAxis() < 0 ? q.getAxis() + rank : q.getAxis();
    int64_t block = q.getBlockSize();
    bool perTensor = sType.getNumElements() == 1 && block == 0;
    if (!perTensor && (axis < 0 || axis >= rank))
      return failure();
    // Strides of the input and, for blocked scales, of the scale tensor.
    SmallVector<int64_t> strides(rank, 1), sStrides(rank, 1);
    for (int64_t d = rank - 2; d >= 0; --d)
      strides[d] = strides[d + 1] * shape[d + 1];
    if (block > 0) {
      if (sType.getRank() != rank)
        return failure();
      for (int64_t d = rank - 2; d >= 0; --d)
        sStrides[d] = sStrides[d + 1] * sType.getDimSize(d + 1);
    }
    int64_t count = inType.getNumElements();
    std::vector<char> codes(count);
    for (int64_t i = 0; i < count; ++i) {
      int64_t p = 0;
      if (!perTensor) {
        if (block == 0) {
          p = (i / strides[axis]) % shape[axis];
        } else {
          for (int64_t d = 0; d < rank; ++d) {
            int64_t idx = (i / strides[d]) % shape[d];
            p += (d == axis ? idx / block : idx) * sStrides[d];
          }
        }
      }
      // ONNX QuantizeLinear in float32: the quotient rounded half to even, then the zero point.
      float quotient = static_cast<float>((*x)[i]) / static_cast<float>((*scale)[p]);
      // A NaN has no code: it takes the zero point, as 0 would.
      double v = (std::isnan(quotient) ? 0.0 : std::nearbyint(quotient)) + (zero ? (*zero)[p] : 0.0);
      v = std::min<double>(std::max<double>(v, low), high);
      codes[i] = static_cast<char>(static_cast<int64_t>(v));
    }
    OpBuilder b(q);
    std::string name = "quantized_weight";
    if (auto res = dyn_cast<DenseResourceElementsAttr>(
            q.getInput().getDefiningOp<arith::ConstantOp>().getValue()))
      name = res.getRawHandle().getKey().str();
    Value folded = resourceConstant(b, q.getLoc(), name, shape, storage, codes, alignof(uint64_t));
    Value old = last->getResult(0);
    old.replaceAllUsesWith(folded);
    for (Operation *op = last; op;) {
      Operation *prev = op == q.getOperation() ? nullptr : op->getOperand(0).getDefiningOp();
      if (op->use_empty())
        op->erase();
      op = prev;
    }
    return success();
  }
};
} // namespace
