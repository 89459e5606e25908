//===- FoldWeightDequantize.cpp - QDQ weights into quantized matmuls ------===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_FOLDWEIGHTDEQUANTIZEPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// The elements of a constant integer (8- or 4-bit) or f32 tensor, or nothing.
template <typename T> std::optional<std::vector<T>> constantValues(Value v) {
  std::optional<std::vector<char>> raw = constantData(v);
  if (!raw)
    return std::nullopt;
  Type et = cast<RankedTensorType>(v.getType()).getElementType();
  size_t bytes = et.isF32() ? 4 : 1;
  if (!et.isF32() && !et.isInteger(8) && !et.isInteger(4))
    return std::nullopt;
  std::vector<T> out(raw->size() / bytes);
  for (size_t i = 0; i < out.size(); ++i) {
    const char *p = raw->data() + i * bytes;
    if (et.isF32()) {
      float f;
      std::memcpy(&f, p, 4);
      out[i] = static_cast<T>(f);
    } else {
      out[i] = static_cast<T>(et.isUnsignedInteger() ? static_cast<uint8_t>(*p)
                                                     : static_cast<int8_t>(*p));
    }
  }
  return out;
}

/// The fewest bits (2 to 8) that hold every code of an 8-bit weight: a grid narrower than its
/// storage (a 3-bit QAT export, whose codes a Clip bounds) packs at its own width. Signed codes
/// narrow when every zero point is 0 (a symmetric grid), unsigned ones when the zero points fit
/// too. 4-bit weights keep their width, which ONNX Runtime's kernels are chosen by.
unsigned narrowestWidth(const std::vector<int64_t> &codes,
                        const std::optional<std::vector<int64_t>> &zeros, Type storage) {
  unsigned bits = storage.getIntOrFloatBitWidth();
  bool isSigned = !storage.isUnsignedInteger();
  if (bits != 8 || (isSigned && zeros && llvm::any_of(*zeros, [](int64_t z) { return z != 0; })))
    return bits;
  int64_t low = 0, high = 0;
  for (int64_t c : codes) {
    low = std::min(low, c);
    high = std::max(high, c);
  }
  if (!isSigned && zeros)
    for (int64_t z : *zeros)
      high = std::max(high, z);
  for (unsigned b = 2; b < bits; ++b) {
    int64_t lo = isSigned ? -(int64_t(1) << (b - 1)) : 0;
    int64_t hi = isSigned ? (int64_t(1) << (b - 1)) - 1 : (int64_t(1) << b) - 1;
    if (low >= lo && high <= hi)
      return b;
  }
  return bits;
}

struct FoldWeightDequantizePass
    : public qopt::QOpt::impl::FoldWeightDequantizePassBase<FoldWeightDequantizePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> candidates;
    getOperation().walk([&](Operation *op) {
      if (isa<MatMulOp, GemmOp>(op))
        candidates.push_back(op);
    });
    for (Operation *op : candidates)
      if (succeeded(fold(op)))
        ++numFolded;
  }

  /// `op` by a dequantized constant weight → quantized_matmul, or failure (left alone).
  LogicalResult fold(Operation *op) {
    Value x, weight;
    bool rowsAreOutputs = false; // weight [N, K]
    Value bias;
    if (auto mm = dyn_cast<MatMulOp>(op)) {
      x = mm.getLhs();
      weight = mm.getRhs();
    } else {
      auto gemm = cast<GemmOp>(op);
      if (gemm.getTransA() || gemm.getAlpha().convertToDouble() != 1.0 ||
          (gemm.getC() && gemm.getBeta().convertToDouble() != 1.0))
        return failure();
      x = gemm.getA();
      weight = gemm.getB();
      rowsAreOutputs = gemm.getTransB();
      bias = gemm.getC();
    }
    auto dq = weight.getDefiningOp<DequantizeOp>();
    if (!dq)
      return failure();
    auto wType = dq.getInput().getType();
    Type et = wType.getElementType();
    if (wType.getRank() != 2 || !wType.hasStaticShape() || !(et.isInteger(8) || et.isInteger(4)))
      return failure();
    auto scaleType = dq.getScale().getType();
    if (!scaleType.getElementType().isF32() || !dq.getType().getElementType().isF32())
      return failure();
    int64_t rows = wType.getDimSize(0), cols = wType.getDimSize(1);
    int64_t n = rowsAreOutputs ? rows : cols, k = rowsAreOutputs ? cols : rows;
    int64_t outAxis = rowsAreOutputs ? 0 : 1, inAxis = 1 - outAxis;
    int64_t axis = dq.getAxis() < 0 ? dq.getAxis() + 2 : dq.getAxis();
    int64_t block = dq.getBlockSize();
    auto codesIn = constantValues<int64_t>(dq.getInput());
    auto scalesIn = constantValues<float>(dq.getScale());
    std::optional<std::vector<int64_t>> zerosIn;
    if (dq.getZeroPoint()) {
      zerosIn = constantValues<int64_t>(dq.getZeroPoint());
      if (!zerosIn)
        return failure();
    }
    if (!codesIn || !scalesIn)
      return failure();

    // Which scale applies to weight element (output channel o, input index i), and the groups.
    int64_t groupSize, groups;
    std::function<int64_t(int64_t, int64_t)> paramIndex;
    if (scalesIn->size() == 1 && block == 0) {
      groupSize = 0;
      groups = 1;
      paramIndex = [](int64_t, int64_t) { return int64_t(0); };
    } else if (block == 0 && axis == outAxis) {
      groupSize = 0;
      groups = 1;
      paramIndex = [](int64_t o, int64_t) { return o; };
    } else if (block > 0 && axis == inAxis) {
      groupSize = block;
      groups = (k + block - 1) / block;
      // Scales have the weight's layout with the K axis shrunk to `groups`.
      paramIndex = [=](int64_t o, int64_t i) {
        return rowsAreOutputs ? o * groups + i / block : (i / block) * n + o;
      };
    } else {
      return failure();
    }

    unsigned storageBits = et.getIntOrFloatBitWidth();
    unsigned bits = narrowestWidth(*codesIn, zerosIn, et);
    int64_t offset = et.isUnsignedInteger() ? 0 : (int64_t(1) << (bits - 1));
    int64_t implied = int64_t(1) << (bits - 1);
    int64_t rowBytes = (k * bits + 7) / 8;
    std::vector<char> codes(n * rowBytes, 0), scales(n * groups * 4), zeros(n * groups);
    bool symmetric = true;
    for (int64_t o = 0; o < n; ++o) {
      for (int64_t g = 0; g < groups; ++g) {
        int64_t p = paramIndex(o, g * (groupSize ? groupSize : k));
        float s = (*scalesIn)[p];
        std::memcpy(scales.data() + (o * groups + g) * 4, &s, 4);
        int64_t z = (zerosIn ? (*zerosIn)[p] : 0) + offset;
        zeros[o * groups + g] = static_cast<char>(z);
        symmetric &= z == implied;
      }
      for (int64_t i = 0; i < k; ++i) {
        int64_t q = (*codesIn)[rowsAreOutputs ? o * k + i : i * n + o] + offset;
        qopt::quant::writeCode(reinterpret_cast<uint8_t *>(codes.data()) + o * rowBytes, i, bits,
                               static_cast<unsigned>(q));
      }
    }

    OpBuilder b(op);
    Location loc = dq.getLoc();
    MLIRContext *ctx = &getContext();
    Type u8 = IntegerType::get(ctx, 8, IntegerType::Unsigned);
    std::string name = "dequantized_weight";
    if (auto res = dyn_cast<DenseResourceElementsAttr>(
            dq.getInput().getDefiningOp<arith::ConstantOp>().getValue()))
      name = res.getRawHandle().getKey().str();
    constexpr size_t align = alignof(uint64_t);
    Value codesValue = resourceConstant(b, loc, name + ".codes", {n, rowBytes}, u8, codes, align);
    Value scalesValue = resourceConstant(b, loc, name + ".scales", {n, groups},
                                         Float32Type::get(ctx), scales, align);
    Value zerosValue = symmetric ? Value()
                                 : resourceConstant(b, loc, name + ".zero_points", {n, groups}, u8,
                                                    zeros, align);
    auto scheme = SchemeAttr::get(ctx, Codebook::Int, bits, groupSize, symmetric,
                                  Float32Type::get(ctx), 0);
    Type resultType = op->getResult(0).getType();
    auto qmm = QuantizedMatMulOp::create(b, op->getLoc(), resultType, x, codesValue, scalesValue,
                                         zerosValue, Value(), scheme, b.getI64IntegerAttr(k),
                                         UnitAttr(), FloatAttr());
    // ONNX Runtime runs a MatMul by blocked 4-bit weights (blocks of 16 or more, a power of two,
    // along K) as MatMulNBits at accuracy level 4: activations quantized to int8 per block. The
    // same arithmetic keeps qopt's results equal to its default session.
    // (Observed with ONNX Runtime 1.30: it leaves a MatMul whose only user is a Relu unfused, in
    // float, so that one is not marked.)
    Value out = op->getResult(0);
    bool feedsRelu = out.hasOneUse() && isa<ReluOp>(*out.getUsers().begin());
    if (storageBits == 4 && bits == 4 && isa<MatMulOp>(op) && groupSize >= 16 && llvm::isPowerOf2_64(groupSize) &&
        !feedsRelu)
      qmm.setInt8Activations(true);
    Value y = qmm;
    if (bias)
      y = AddOp::create(b, op->getLoc(), resultType, y, bias);
    op->getResult(0).replaceAllUsesWith(y);
    op->erase();
    if (dq->use_empty()) {
      SmallVector<Operation *> inputs;
      for (Value v : dq->getOperands())
        if (Operation *def = v.getDefiningOp())
          inputs.push_back(def);
      dq->erase();
      for (Operation *def : inputs)
        if (def->use_empty())
          def->erase();
    }
    return success();
  }
};
} // namespace
