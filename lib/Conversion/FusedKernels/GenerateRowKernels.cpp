//===- GenerateRowKernels.cpp - softmax and norms as vector row kernels ---===//
//
// Softmax over the last axis, RMSNorm and LayerNorm each reduce a row and then rewrite it. The
// kernels generated here take a range of rows of a [rows, width] view (LayerNorm's normalized
// dims [axis, rank) are contiguous, so they flatten into one) and make two or three passes over
// each row in vectors of `lanes`: the reductions keep one vector accumulator and reduce it across
// lanes once per row (`vector.reduction`), and the columns past the last whole vector are one
// masked step. Width stays a run-time value, so one kernel serves every shape.
//
// Operands (memref<?xf32> descriptors, memref<?xi64> for the parameters): input, output, the
// parameters (first row, end row, width), then the scale and, for LayerNorm, the bias.
//
#include "KernelSignature.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;
namespace Q = qopt::QOpt;

namespace {
enum Slot : int64_t { kInput = 0, kOutput = 1, kParams = 2, kScale = 3, kBias = 4 };
enum Param : int64_t { kRowBegin = 0, kRowEnd = 1, kWidth = 2 };

struct RowKernelBuilder {
  OpBuilder &b;
  Location loc;
  int64_t lanes;
  VectorType vecType, maskType;
  Value input, output, scale, bias, width;

  RowKernelBuilder(OpBuilder &b, Location loc, int64_t lanes)
      : b(b), loc(loc), lanes(lanes), vecType(VectorType::get({lanes}, b.getF32Type())),
        maskType(VectorType::get({lanes}, b.getI1Type())) {}

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value splat(float v) {
    return arith::ConstantOp::create(b, loc, vecType, DenseElementsAttr::get(vecType, v));
  }
  Value f32(float v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value broadcast(Value scalar) { return vector::BroadcastOp::create(b, loc, vecType, scalar); }

  /// `lanes` elements of `memref` at `offset`; where `mask` is given, lanes past it read `pad`.
  Value load(Value memref, Value offset, Value mask, float pad) {
    if (mask)
      return vector::MaskedLoadOp::create(b, loc, vecType, memref, ValueRange{offset}, mask,
                                          splat(pad));
    return vector::LoadOp::create(b, loc, vecType, memref, ValueRange{offset});
  }
  void store(Value v, Value memref, Value offset, Value mask) {
    if (mask)
      vector::MaskedStoreOp::create(b, loc, memref, ValueRange{offset}, mask, v);
    else
      vector::StoreOp::create(b, loc, v, memref, ValueRange{offset});
  }
  /// `v` where `mask` holds (every lane when there is no mask), `other` elsewhere.
  Value where(Value mask, Value v, float other) {
    return mask ? arith::SelectOp::create(b, loc, mask, v, splat(other)).getResult() : v;
  }

  /// One pass over the columns of a row: `step(column, mask, accumulators)` returns the new
  /// accumulators; whole vectors first, then one masked step for the columns left.
  using Step = function_ref<SmallVector<Value>(Value, Value, ValueRange)>;
  SmallVector<Value> columns(ValueRange init, Step step) {
    Value whole = arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, width, index(lanes)), index(lanes));
    auto loop = scf::ForOp::create(b, loc, index(0), whole, index(lanes), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      SmallVector<Value> next = step(loop.getInductionVar(), Value(), loop.getRegionIterArgs());
      // A loop without accumulators already ends in its yield.
      if (!init.empty())
        scf::YieldOp::create(b, loc, next);
    }
    Value left = arith::SubIOp::create(b, loc, width, whole);
    Value mask = vector::CreateMaskOp::create(b, loc, maskType, ValueRange{left});
    return step(whole, mask, loop.getResults());
  }

  Value reduce(vector::CombiningKind kind, Value v) {
    return vector::ReductionOp::create(b, loc, kind, v);
  }

  /// The row width as an f32 scalar.
  Value widthAsFloat() {
    return arith::UIToFPOp::create(
        b, loc, b.getF32Type(), arith::IndexCastUIOp::create(b, loc, b.getI64Type(), width));
  }

  /// 1 / sqrt(sum / width + epsilon), as a scalar.
  Value inverseRoot(Value sum, Value epsilon) {
    Value mean = arith::DivFOp::create(b, loc, sum, widthAsFloat());
    Value root = math::SqrtOp::create(b, loc, arith::AddFOp::create(b, loc, mean, epsilon));
    return arith::DivFOp::create(b, loc, f32(1.0f), root);
  }

  void softmaxRow(Value base) {
    float lowest = -std::numeric_limits<float>::infinity();
    Value maxVec = columns({splat(lowest)}, [&](Value c, Value mask, ValueRange acc) {
      Value x = load(input, arith::AddIOp::create(b, loc, base, c), mask, lowest);
      return SmallVector<Value>{arith::MaximumFOp::create(b, loc, acc[0], x)};
    })[0];
    Value maxV = broadcast(reduce(vector::CombiningKind::MAXIMUMF, maxVec));
    Value sumVec = columns({splat(0.0f)}, [&](Value c, Value mask, ValueRange acc) {
      Value offset = arith::AddIOp::create(b, loc, base, c);
      Value x = load(input, offset, mask, 0.0f);
      Value e = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, maxV));
      store(e, output, offset, mask);
      return SmallVector<Value>{arith::AddFOp::create(b, loc, acc[0], where(mask, e, 0.0f))};
    })[0];
    Value inv = broadcast(arith::DivFOp::create(
        b, loc, f32(1.0f), reduce(vector::CombiningKind::ADD, sumVec)));
    columns({}, [&](Value c, Value mask, ValueRange) {
      Value offset = arith::AddIOp::create(b, loc, base, c);
      Value e = load(output, offset, mask, 0.0f);
      store(arith::MulFOp::create(b, loc, e, inv), output, offset, mask);
      return SmallVector<Value>{};
    });
  }

  void normRow(Value base, Value epsilon, bool center) {
    Value mean;
    if (center) {
      Value sum = columns({splat(0.0f)}, [&](Value c, Value mask, ValueRange acc) {
        Value x = load(input, arith::AddIOp::create(b, loc, base, c), mask, 0.0f);
        return SmallVector<Value>{arith::AddFOp::create(b, loc, acc[0], x)};
      })[0];
      mean = broadcast(arith::DivFOp::create(b, loc, reduce(vector::CombiningKind::ADD, sum),
                                             widthAsFloat()));
    }
    auto centered = [&](Value x) {
      return center ? arith::SubFOp::create(b, loc, x, mean).getResult() : x;
    };
    Value squares = columns({splat(0.0f)}, [&](Value c, Value mask, ValueRange acc) {
      Value d = centered(load(input, arith::AddIOp::create(b, loc, base, c), mask, 0.0f));
      Value sq = where(mask, arith::MulFOp::create(b, loc, d, d), 0.0f);
      return SmallVector<Value>{arith::AddFOp::create(b, loc, acc[0], sq)};
    })[0];
    Value inv = broadcast(inverseRoot(reduce(vector::CombiningKind::ADD, squares), epsilon));
    columns({}, [&](Value c, Value mask, ValueRange) {
      Value offset = arith::AddIOp::create(b, loc, base, c);
      Value d = centered(load(input, offset, mask, 0.0f));
      Value y = arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, d, inv),
                                      load(scale, c, mask, 0.0f));
      if (bias)
        y = arith::AddFOp::create(b, loc, y, load(bias, c, mask, 0.0f));
      store(y, output, offset, mask);
      return SmallVector<Value>{};
    });
  }

  void build(Operation *op, Value operands) {
    auto f32Buffer = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
    auto i64Buffer = MemRefType::get({ShapedType::kDynamic}, b.getI64Type());
    input = qopt::loadKernelOperand(b, loc, operands, kInput, f32Buffer);
    output = qopt::loadKernelOperand(b, loc, operands, kOutput, f32Buffer);
    Value params = qopt::loadKernelOperand(b, loc, operands, kParams, i64Buffer);
    auto param = [&](int64_t i) -> Value {
      Value word = memref::LoadOp::create(b, loc, params, ValueRange{index(i)});
      return arith::IndexCastOp::create(b, loc, b.getIndexType(), word);
    };
    if (!isa<Q::SoftmaxOp>(op))
      scale = qopt::loadKernelOperand(b, loc, operands, kScale, f32Buffer);
    auto layerNorm = dyn_cast<Q::LayerNormOp>(op);
    if (layerNorm && layerNorm.getBias())
      bias = qopt::loadKernelOperand(b, loc, operands, kBias, f32Buffer);
    width = param(kWidth);
    auto rows = scf::ForOp::create(b, loc, param(kRowBegin), param(kRowEnd), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(rows.getBody());
    Value base = arith::MulIOp::create(b, loc, rows.getInductionVar(), width);
    if (isa<Q::SoftmaxOp>(op))
      softmaxRow(base);
    else if (auto rms = dyn_cast<Q::RMSNormOp>(op))
      normRow(base, f32(rms.getEpsilon().convertToFloat()), /*center=*/false);
    else
      normRow(base, f32(layerNorm.getEpsilon().convertToFloat()), /*center=*/true);
  }
};
} // namespace

bool qopt::hasRowKernelForm(Operation *op) {
  auto f32Input = [](Value v) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t && t.getElementType().isF32() && t.getRank() >= 1;
  };
  if (auto s = dyn_cast<Q::SoftmaxOp>(op)) {
    int64_t rank = cast<RankedTensorType>(s.getInput().getType()).getRank();
    int64_t axis = static_cast<int64_t>(s.getAxis());
    return f32Input(s.getInput()) && (axis == -1 || axis == rank - 1);
  }
  if (auto r = dyn_cast<Q::RMSNormOp>(op))
    return f32Input(r.getInput()) && f32Input(r.getScale());
  if (auto l = dyn_cast<Q::LayerNormOp>(op))
    return f32Input(l.getInput()) && f32Input(l.getScale()) &&
           (!l.getBias() || f32Input(l.getBias()));
  return false;
}

func::FuncOp qopt::generateRowKernel(OpBuilder &mb, Operation *op, StringRef name,
                                     int64_t lanes) {
  return createKernelFunction(mb, op->getLoc(), name, [&](OpBuilder &b, Value operands) {
    RowKernelBuilder(b, op->getLoc(), lanes).build(op, operands);
  });
}
