//===- ScalarBodies.cpp - one element of a qopt elementwise op ------------===//
//
// The formulas follow lib/Runtime/ElementwiseKernels.cpp, so a fused chain computes what the
// unfused kernels compute (up to the rounding of the math functions).
//
#include "dialects/QOpt/Transforms/ScalarBodies.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace qopt::QOpt;

namespace {
bool isTensorOf(Type t, bool (*element)(Type)) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && element(r.getElementType());
}
bool isF32(Type t) { return t.isF32(); }
bool isBool(Type t) { return t.isInteger(1); }
/// The integers a fused body computes on: ONNX's int32 and int64 (shape and position arithmetic).
bool isInt(Type t) { return t.isSignlessInteger(32) || t.isSignlessInteger(64); }
bool isCastable(Type t) { return isF32(t) || isBool(t) || isInt(t); }
bool isHalf(Type t) { return t.isF16(); }

Type elementOf(Type t) { return cast<RankedTensorType>(t).getElementType(); }

/// Whether every one of `types` is a tensor of the same integer type.
bool sameInts(TypeRange types) {
  return !types.empty() && isTensorOf(types.front(), isInt) &&
         llvm::all_of(types, [&](Type t) { return elementOf(t) == elementOf(types.front()); });
}

/// The value of a scalar f32 constant, if `v` is one.
std::optional<double> constantValue(Value v) {
  FloatAttr attr;
  if (matchPattern(v, m_Constant(&attr)))
    return attr.getValueAsDouble();
  return std::nullopt;
}
} // namespace

bool qopt::QOpt::isFusibleElementwise(Operation *op) {
  auto all = [](TypeRange types, bool (*element)(Type)) {
    return llvm::all_of(types, [&](Type t) { return isTensorOf(t, element); });
  };
  Type result = op->getResult(0).getType();
  // Float arithmetic and activations.
  if (isa<NegOp, AbsOp, SqrtOp, ReciprocalOp, ExpOp, LogOp, TanhOp, ErfOp, SigmoidOp, SinOp, CosOp,
          ReluOp, FloorOp, CeilOp, RoundOp, SignOp, SiluOp, GeluOp, AddOp, SubOp, MulOp, DivOp,
          PowOp, MaxOp, MinOp, ModOp>(op) &&
      all(op->getOperandTypes(), isF32) && isTensorOf(result, isF32))
    return true;
  // Tests and comparisons of floats, and the logic on their results: masks and NaN guards.
  if (isa<IsNaNOp, EqualOp, LessOp, LessEqualOp, GreaterOp, GreaterEqualOp>(op) &&
      all(op->getOperandTypes(), isF32) && isTensorOf(result, isBool))
    return true;
  if (isa<NotOp, AndOp, OrOp, XorOp>(op))
    return all(op->getOperandTypes(), isBool) && isTensorOf(result, isBool);
  if (auto where = dyn_cast<WhereOp>(op)) {
    SmallVector<Type> values(where->getOperands().drop_front().getTypes());
    values.push_back(result);
    return isTensorOf(where->getOperand(0).getType(), isBool) &&
           (all(values, isF32) || all(values, isBool) || sameInts(values));
  }
  // Integer arithmetic and comparisons.
  if (isa<NegOp, AbsOp, ReluOp, SignOp, AddOp, SubOp, MulOp, DivOp, ModOp, MaxOp, MinOp>(op)) {
    SmallVector<Type> types(op->getOperandTypes());
    types.push_back(result);
    return sameInts(types);
  }
  if (isa<EqualOp, LessOp, LessEqualOp, GreaterOp, GreaterEqualOp>(op))
    return sameInts(op->getOperandTypes()) && isTensorOf(result, isBool);
  if (isa<CastOp>(op)) {
    Type from = op->getOperand(0).getType();
    // f16 only to and from f32: the edges of a half-precision graph computed in f32.
    bool halfEdge = (isTensorOf(from, isHalf) && isTensorOf(result, isF32)) ||
                    (isTensorOf(from, isF32) && isTensorOf(result, isHalf));
    return halfEdge || (isTensorOf(from, isCastable) && isTensorOf(result, isCastable));
  }
  return false;
}

namespace {
/// One element of an integer op (isFusibleElementwise's integer forms), as the runtime's
/// integer kernels compute it.
Value emitIntegerElement(OpBuilder &b, Operation *op, ArrayRef<Value> x) {
  Location loc = op->getLoc();
  Type type = x[0].getType();
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, v));
  };
  auto compare = [&](arith::CmpIPredicate p, Value l, Value r) -> Value {
    return arith::CmpIOp::create(b, loc, p, l, r);
  };
  using P = arith::CmpIPredicate;
  // ONNX leaves a zero divisor undefined and x86 traps on it (and on the most negative value
  // divided by -1): both divide by 1 instead and the caller replaces the result (x / 0 by 0,
  // x / -1 by -x, wrapping), so a generated kernel never faults.
  struct Divisor {
    Value zero, minusOne, safe;
  };
  auto divisor = [&]() {
    Value zero = compare(P::eq, x[1], c(0)), minusOne = compare(P::eq, x[1], c(-1));
    Value safe = arith::SelectOp::create(b, loc, arith::OrIOp::create(b, loc, zero, minusOne),
                                         c(1), x[1]);
    return Divisor{zero, minusOne, safe};
  };
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](NegOp) { return arith::SubIOp::create(b, loc, c(0), x[0]); })
      .Case([&](AbsOp) { return math::AbsIOp::create(b, loc, x[0]); })
      .Case([&](ReluOp) { return arith::MaxSIOp::create(b, loc, x[0], c(0)); })
      .Case([&](SignOp) -> Value {
        Value negative = arith::SelectOp::create(b, loc, compare(P::slt, x[0], c(0)), c(-1), c(0));
        return arith::SelectOp::create(b, loc, compare(P::sgt, x[0], c(0)), c(1), negative);
      })
      .Case([&](AddOp) { return arith::AddIOp::create(b, loc, x[0], x[1]); })
      .Case([&](SubOp) { return arith::SubIOp::create(b, loc, x[0], x[1]); })
      .Case([&](MulOp) { return arith::MulIOp::create(b, loc, x[0], x[1]); })
      .Case([&](MaxOp) { return arith::MaxSIOp::create(b, loc, x[0], x[1]); })
      .Case([&](MinOp) { return arith::MinSIOp::create(b, loc, x[0], x[1]); })
      .Case([&](DivOp) -> Value {
        Divisor d = divisor();
        Value q = arith::DivSIOp::create(b, loc, x[0], d.safe);
        Value negated = arith::SubIOp::create(b, loc, c(0), x[0]);
        Value r = arith::SelectOp::create(b, loc, d.minusOne, negated, q);
        return arith::SelectOp::create(b, loc, d.zero, c(0), r);
      })
      .Case([&](ModOp) -> Value {
        // The sign of the divisor, as Python; a zero divisor gives 0.
        Divisor d = divisor();
        Value r = arith::RemSIOp::create(b, loc, x[0], d.safe);
        Value signsDiffer = arith::XOrIOp::create(b, loc, compare(P::slt, r, c(0)),
                                                  compare(P::slt, x[1], c(0)));
        Value adjust = arith::AndIOp::create(b, loc, compare(P::ne, r, c(0)), signsDiffer);
        Value fixed = arith::SelectOp::create(
            b, loc, adjust, arith::AddIOp::create(b, loc, r, x[1]), r);
        return arith::SelectOp::create(b, loc, d.zero, c(0), fixed);
      })
      .Case([&](EqualOp) { return compare(P::eq, x[0], x[1]); })
      .Case([&](LessOp) { return compare(P::slt, x[0], x[1]); })
      .Case([&](LessEqualOp) { return compare(P::sle, x[0], x[1]); })
      .Case([&](GreaterOp) { return compare(P::sgt, x[0], x[1]); })
      .Case([&](GreaterEqualOp) { return compare(P::sge, x[0], x[1]); })
      .Default([](Operation *) -> Value { return {}; });
}

/// One element of a cast between f32, i1, i32 and i64, as the runtime's cast: to bool is "not
/// zero", a float to an integer truncates toward zero (NaN and infinities give 0), a bool is 0
/// or 1.
Value emitCastElement(OpBuilder &b, Location loc, Value x, Type to) {
  Type from = x.getType();
  if (from == to)
    return x;
  if (from.isF16() && to.isF32())
    return arith::ExtFOp::create(b, loc, to, x);
  if (from.isF32() && to.isF16())
    return arith::TruncFOp::create(b, loc, to, x);
  if (to.isInteger(1)) {
    if (from.isF32()) {
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x, zero);
    }
    Value zero = arith::ConstantOp::create(b, loc, b.getIntegerAttr(from, 0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zero);
  }
  if (from.isInteger(1))
    return to.isF32() ? Value(arith::UIToFPOp::create(b, loc, to, x))
                      : Value(arith::ExtUIOp::create(b, loc, to, x));
  if (to.isF32())
    return arith::SIToFPOp::create(b, loc, to, x);
  if (from.isF32()) {
    // fptosi of NaN or an infinity is poison; the runtime gives 0 for them.
    Value magnitude = math::AbsFOp::create(b, loc, x);
    Value inf = arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(std::numeric_limits<float>::infinity()));
    Value finite = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, magnitude, inf);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value safe = arith::SelectOp::create(b, loc, finite, x, zero);
    return arith::FPToSIOp::create(b, loc, to, safe);
  }
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtSIOp::create(b, loc, to, x);
  return arith::TruncIOp::create(b, loc, to, x);
}
} // namespace

Value qopt::QOpt::emitScalarElement(OpBuilder &b, Operation *op, ArrayRef<Value> x) {
  Location loc = op->getLoc();
  if (isa<CastOp>(op))
    return emitCastElement(b, loc, x[0], elementOf(op->getResult(0).getType()));
  if (!isa<WhereOp>(op) && isInt(x[0].getType()))
    return emitIntegerElement(b, op, x);
  Type f32 = b.getF32Type();
  auto c = [&](double v) -> Value { return arith::ConstantOp::create(b, loc, b.getFloatAttr(f32, v)); };
  auto add = [&](Value l, Value r) -> Value { return arith::AddFOp::create(b, loc, l, r); };
  auto mul = [&](Value l, Value r) -> Value { return arith::MulFOp::create(b, loc, l, r); };
  auto div = [&](Value l, Value r) -> Value { return arith::DivFOp::create(b, loc, l, r); };
  auto compare = [&](arith::CmpFPredicate p, Value l, Value r) -> Value {
    return arith::CmpFOp::create(b, loc, p, l, r);
  };
  auto select = [&](arith::CmpFPredicate p, Value l, Value r, Value t, Value f) -> Value {
    return arith::SelectOp::create(b, loc, compare(p, l, r), t, f);
  };
  // 1 / (1 + e^-x), as the runtime's sigmoid: it is 0 rather than NaN for very negative x.
  auto sigmoid = [&](Value v) -> Value {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, v));
    return div(c(1.0), add(c(1.0), e));
  };
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](NegOp) { return arith::NegFOp::create(b, loc, x[0]); })
      .Case([&](AbsOp) { return math::AbsFOp::create(b, loc, x[0]); })
      .Case([&](SqrtOp) { return math::SqrtOp::create(b, loc, x[0]); })
      .Case([&](ReciprocalOp) { return div(c(1.0), x[0]); })
      .Case([&](ExpOp) { return math::ExpOp::create(b, loc, x[0]); })
      .Case([&](LogOp) { return math::LogOp::create(b, loc, x[0]); })
      .Case([&](TanhOp) { return math::TanhOp::create(b, loc, x[0]); })
      .Case([&](ErfOp) { return math::ErfOp::create(b, loc, x[0]); })
      .Case([&](SigmoidOp) { return sigmoid(x[0]); })
      .Case([&](SinOp) { return math::SinOp::create(b, loc, x[0]); })
      .Case([&](CosOp) { return math::CosOp::create(b, loc, x[0]); })
      .Case([&](ReluOp) { return select(arith::CmpFPredicate::OGT, x[0], c(0.0), x[0], c(0.0)); })
      .Case([&](FloorOp) { return math::FloorOp::create(b, loc, x[0]); })
      .Case([&](CeilOp) { return math::CeilOp::create(b, loc, x[0]); })
      .Case([&](RoundOp) { return math::RoundEvenOp::create(b, loc, x[0]); })
      .Case([&](SignOp) {
        Value negative = select(arith::CmpFPredicate::OLT, x[0], c(0.0), c(-1.0), c(0.0));
        return select(arith::CmpFPredicate::OGT, x[0], c(0.0), c(1.0), negative);
      })
      .Case([&](SiluOp) { return mul(x[0], sigmoid(x[0])); })
      .Case([&](GeluOp g) -> Value {
        Value half = mul(c(0.5), x[0]);
        if (g.getApproximate() == "tanh") {
          Value cube = mul(mul(x[0], x[0]), x[0]);
          Value inner = mul(c(0.7978845608), add(x[0], mul(c(0.044715), cube)));
          return mul(half, add(c(1.0), math::TanhOp::create(b, loc, inner)));
        }
        Value erf = math::ErfOp::create(b, loc, mul(x[0], c(0.70710678118654752)));
        return mul(half, add(c(1.0), erf));
      })
      .Case([&](AddOp) { return add(x[0], x[1]); })
      .Case([&](SubOp) { return arith::SubFOp::create(b, loc, x[0], x[1]); })
      .Case([&](MulOp) { return mul(x[0], x[1]); })
      .Case([&](DivOp) { return div(x[0], x[1]); })
      .Case([&](PowOp) -> Value {
        // The exponents transformer graphs use are spelled as products, as the runtime does for 2.
        std::optional<double> e = constantValue(x[1]);
        if (e && *e == 1.0)
          return x[0];
        if (e && *e == 2.0)
          return mul(x[0], x[0]);
        if (e && *e == 3.0)
          return mul(mul(x[0], x[0]), x[0]);
        return math::PowFOp::create(b, loc, x[0], x[1]);
      })
      .Case([&](MaxOp) { return select(arith::CmpFPredicate::OGT, x[0], x[1], x[0], x[1]); })
      .Case([&](IsNaNOp) { return compare(arith::CmpFPredicate::UNO, x[0], x[0]); })
      .Case([&](EqualOp) { return compare(arith::CmpFPredicate::OEQ, x[0], x[1]); })
      .Case([&](LessOp) { return compare(arith::CmpFPredicate::OLT, x[0], x[1]); })
      .Case([&](LessEqualOp) { return compare(arith::CmpFPredicate::OLE, x[0], x[1]); })
      .Case([&](GreaterOp) { return compare(arith::CmpFPredicate::OGT, x[0], x[1]); })
      .Case([&](GreaterEqualOp) { return compare(arith::CmpFPredicate::OGE, x[0], x[1]); })
      .Case([&](NotOp) -> Value {
        Value one = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
        return arith::XOrIOp::create(b, loc, x[0], one);
      })
      .Case([&](AndOp) { return arith::AndIOp::create(b, loc, x[0], x[1]); })
      .Case([&](OrOp) { return arith::OrIOp::create(b, loc, x[0], x[1]); })
      .Case([&](XorOp) { return arith::XOrIOp::create(b, loc, x[0], x[1]); })
      .Case([&](WhereOp) { return arith::SelectOp::create(b, loc, x[0], x[1], x[2]); })
      .Case([&](MinOp) { return select(arith::CmpFPredicate::OLT, x[0], x[1], x[0], x[1]); })
      // A float remainder is C's fmod (ONNX Mod with fmod = 1), as the runtime computes it.
      .Case([&](ModOp) { return arith::RemFOp::create(b, loc, x[0], x[1]); })
      .Default([](Operation *) -> Value { return {}; });
}
