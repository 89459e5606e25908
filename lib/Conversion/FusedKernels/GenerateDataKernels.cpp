//===- GenerateDataKernels.cpp - data movement and reductions as linalg ---===//
//
// Data movement is a copy between two strided views: a transpose reads its input with permuted
// strides, a slice with an offset and stepped strides, expand with stride 0 where it repeats, a
// concat writes each input into its part of the output and a split reads each part.
// So one kernel per (rank, element size) serves all of them: a `linalg.copy` between two
// dynamically sized and strided memrefs of integers of the element's width (a copy does not
// care what the bits mean). The runtime works out the views, exactly as its own loops did.
//
// A gather is a `linalg.generic` over the output viewed as [outer, n, inner] that reads each
// index and loads the data element it names (`memref.load` inside the body); the runtime has
// checked the indices first.
//
// A reduction (f32 or i64) is a `linalg.generic` with the kept dims parallel and the reduced ones
// (which the runtime's view puts last) reductions, into an accumulator (f64 for f32) filled with
// the reduction's identity; a second one writes the result (a mean divided by the count of
// reduced elements).
//
// All three then take the same lowering as the elementwise kernels (loops, then LLVM's vectorizer).
//
#include "KernelSignature.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <limits>

using namespace mlir;
namespace Q = qopt::QOpt;

namespace {

bool isReduction(Operation *op) {
  return isa<Q::ReduceSumOp, Q::ReduceMeanOp, Q::ReduceMaxOp, Q::ReduceMinOp, Q::ReduceProdOp>(op);
}

/// The reduced axes of a reduction, normalized (all of them when its list is empty).
SmallVector<int64_t> reducedAxes(Operation *op) {
  ArrayRef<int64_t> axes = op->getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef();
  int64_t rank = qopt::rankOf(op->getOperand(0));
  SmallVector<int64_t> out;
  for (int64_t d = 0; d < rank; ++d)
    if (axes.empty() || llvm::any_of(axes, [&](int64_t a) { return (a < 0 ? a + rank : a) == d; }))
      out.push_back(d);
  return out;
}

func::FuncOp copyKernel(OpBuilder &mb, Location loc, StringRef name, int64_t rank, Type element) {
  return qopt::createKernelFunction(mb, loc, name, [&](OpBuilder &b, Value operands) {
    MemRefType type = qopt::stridedViewType(element, rank);
    Value src = qopt::loadKernelOperand(b, loc, operands, 0, type);
    Value dst = qopt::loadKernelOperand(b, loc, operands, 1, type);
    linalg::CopyOp::create(b, loc, src, dst);
  });
}

func::FuncOp gatherKernel(OpBuilder &mb, Location loc, StringRef name, Type element,
                          Type indexElement) {
  return qopt::createKernelFunction(mb, loc, name, [&](OpBuilder &b, Value operands) {
    Value data = qopt::loadKernelOperand(b, loc, operands, 0, qopt::stridedViewType(element, 3));
    Value indices = qopt::loadKernelOperand(b, loc, operands, 1, qopt::stridedViewType(indexElement, 1));
    Value out = qopt::loadKernelOperand(b, loc, operands, 2, qopt::stridedViewType(element, 3));
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value dim = memref::DimOp::create(b, loc, data, one);
    MLIRContext *ctx = b.getContext();
    AffineMap indexMap = AffineMap::get(3, 0, {getAffineDimExpr(1, ctx)}, ctx);
    SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
    linalg::GenericOp::create(
        b, loc, TypeRange{}, ValueRange{indices}, ValueRange{out},
        ArrayRef<AffineMap>{indexMap, b.getMultiDimIdentityMap(3)}, iterators,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          // The runtime checked the range.
          Value row = qopt::wrapTensorIndex(nb, nloc, args[0], dim);
          Value o = linalg::IndexOp::create(nb, nloc, 0);
          Value k = linalg::IndexOp::create(nb, nloc, 2);
          Value v = memref::LoadOp::create(nb, nloc, data, ValueRange{o, row, k});
          linalg::YieldOp::create(nb, nloc, v);
        });
  });
}

func::FuncOp reduceKernel(OpBuilder &mb, Operation *op, StringRef name) {
  Location loc = op->getLoc();
  int64_t rank = qopt::rankOf(op->getOperand(0));
  int64_t reduced = static_cast<int64_t>(reducedAxes(op).size()), kept = rank - reduced;
  Type element = qopt::elementTypeOf(op->getOperand(0));
  bool isFloat = element.isF32();
  return qopt::createKernelFunction(mb, loc, name, [&](OpBuilder &b, Value operands) {
    // f32 accumulates in f64, as the runtime's loops do (a long sum in f32 loses digits); i64 in
    // i64, exactly.
    Type accType = isFloat ? Type(b.getF64Type()) : element;
    Value in = qopt::loadKernelOperand(b, loc, operands, 0, qopt::stridedViewType(element, rank));
    Value out = qopt::loadKernelOperand(b, loc, operands, 1, qopt::stridedViewType(element, kept));
    Value acc = qopt::loadKernelOperand(b, loc, operands, 2, qopt::stridedViewType(accType, kept));
    TypedAttr init;
    if (isFloat) {
      double v = 0.0;
      if (isa<Q::ReduceMaxOp>(op))
        v = -std::numeric_limits<double>::infinity();
      else if (isa<Q::ReduceMinOp>(op))
        v = std::numeric_limits<double>::infinity();
      else if (isa<Q::ReduceProdOp>(op))
        v = 1.0;
      init = b.getF64FloatAttr(v);
    } else {
      int64_t v = 0;
      if (isa<Q::ReduceMaxOp>(op))
        v = std::numeric_limits<int64_t>::min();
      else if (isa<Q::ReduceMinOp>(op))
        v = std::numeric_limits<int64_t>::max();
      else if (isa<Q::ReduceProdOp>(op))
        v = 1;
      init = b.getIntegerAttr(accType, v);
    }
    Value initValue = arith::ConstantOp::create(b, loc, init);
    linalg::FillOp::create(b, loc, ValueRange{initValue}, ValueRange{acc});

    MLIRContext *ctx = b.getContext();
    SmallVector<AffineExpr> keptDims;
    for (int64_t d = 0; d < kept; ++d)
      keptDims.push_back(getAffineDimExpr(d, ctx));
    AffineMap accMap = AffineMap::get(rank, 0, keptDims, ctx);
    SmallVector<utils::IteratorType> iterators(kept, utils::IteratorType::parallel);
    iterators.append(reduced, utils::IteratorType::reduction);
    linalg::GenericOp::create(
        b, loc, TypeRange{}, ValueRange{in}, ValueRange{acc},
        ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank), accMap}, iterators,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value x = isFloat ? Value(arith::ExtFOp::create(nb, nloc, accType, args[0])) : args[0];
          Value r;
          if (isa<Q::ReduceMaxOp>(op))
            r = isFloat ? Value(arith::MaximumFOp::create(nb, nloc, args[1], x))
                        : Value(arith::MaxSIOp::create(nb, nloc, args[1], x));
          else if (isa<Q::ReduceMinOp>(op))
            r = isFloat ? Value(arith::MinimumFOp::create(nb, nloc, args[1], x))
                        : Value(arith::MinSIOp::create(nb, nloc, args[1], x));
          else if (isa<Q::ReduceProdOp>(op))
            r = isFloat ? Value(arith::MulFOp::create(nb, nloc, args[1], x))
                        : Value(arith::MulIOp::create(nb, nloc, args[1], x));
          else
            r = isFloat ? Value(arith::AddFOp::create(nb, nloc, args[1], x))
                        : Value(arith::AddIOp::create(nb, nloc, args[1], x));
          linalg::YieldOp::create(nb, nloc, r);
        });
    // The result in the element type; a mean first divides by how many elements each reduced
    // (an integer mean truncates, as the runtime's).
    Value count;
    if (isa<Q::ReduceMeanOp>(op)) {
      Value n = arith::ConstantIndexOp::create(b, loc, 1);
      for (int64_t d = kept; d < rank; ++d) {
        Value dim = memref::DimOp::create(b, loc, in, arith::ConstantIndexOp::create(b, loc, d));
        n = arith::MulIOp::create(b, loc, n, dim);
      }
      Value nI64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), n);
      count = isFloat ? Value(arith::SIToFPOp::create(b, loc, accType, nI64)) : nI64;
    }
    SmallVector<utils::IteratorType> parallel(kept, utils::IteratorType::parallel);
    AffineMap identity = b.getMultiDimIdentityMap(kept);
    linalg::GenericOp::create(
        b, loc, TypeRange{}, ValueRange{acc}, ValueRange{out},
        ArrayRef<AffineMap>{identity, identity}, parallel,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value v = args[0];
          if (count && isFloat)
            v = arith::DivFOp::create(nb, nloc, v, count);
          if (count && !isFloat) {
            // An empty mean divides by 1 instead of 0 (the runtime's double gives NaN, whose
            // integer value is undefined).
            Value zero = arith::ConstantOp::create(nb, nloc, nb.getI64IntegerAttr(0));
            Value one = arith::ConstantOp::create(nb, nloc, nb.getI64IntegerAttr(1));
            Value empty = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq, count, zero);
            v = arith::DivSIOp::create(nb, nloc, v,
                                       arith::SelectOp::create(nb, nloc, empty, one, count));
          }
          if (isFloat)
            v = arith::TruncFOp::create(nb, nloc, element, v);
          linalg::YieldOp::create(nb, nloc, v);
        });
  });
}
} // namespace

std::optional<qopt::DataKernelForm> qopt::dataKernelForm(Operation *op) {
  auto form = [&](StringRef kind, int64_t rank, Type element) -> std::optional<DataKernelForm> {
    int64_t bytes = qopt::runtimeElementBytes(element);
    if (!bytes || rank > kMaxKernelRank)
      return std::nullopt;
    DataKernelForm f{rank, bytes, ""};
    f.key = (kind + ".r" + Twine(rank) + ".b" + Twine(bytes)).str();
    return f;
  };
  if (isa<Q::TransposeOp, Q::SliceOp, Q::SplitOp>(op))
    return form("copy", qopt::rankOf(op->getOperand(0)), qopt::elementTypeOf(op->getOperand(0)));
  if (auto c = dyn_cast<Q::ConcatOp>(op))
    return form("copy", qopt::rankOf(c.getOutput()), qopt::elementTypeOf(c.getOutput()));
  if (auto e = dyn_cast<Q::ExpandOp>(op))
    return form("copy", qopt::rankOf(e.getOutput()), qopt::elementTypeOf(e.getOutput()));
  if (auto g = dyn_cast<Q::GatherOp>(op)) {
    Type index = qopt::elementTypeOf(g.getIndices());
    if (!index.isInteger(64) && !index.isInteger(32))
      return std::nullopt;
    std::optional<DataKernelForm> f = form("gather", 3, qopt::elementTypeOf(g.getData()));
    if (f)
      f->key += ".i" + std::to_string(index.getIntOrFloatBitWidth());
    return f;
  }
  if (isReduction(op) && (qopt::elementTypeOf(op->getOperand(0)).isF32() ||
                          qopt::elementTypeOf(op->getOperand(0)).isSignlessInteger(64))) {
    std::optional<DataKernelForm> f =
        form(op->getName().stripDialect(), qopt::rankOf(op->getOperand(0)), qopt::elementTypeOf(op->getOperand(0)));
    if (f)
      f->key += ".q" + std::to_string(reducedAxes(op).size());
    return f;
  }
  return indexKernelForm(op);
}

func::FuncOp qopt::generateDataKernel(OpBuilder &mb, Operation *op, StringRef name) {
  std::optional<DataKernelForm> form = dataKernelForm(op);
  assert(form && "no data kernel form");
  Location loc = op->getLoc();
  if (isReduction(op))
    return reduceKernel(mb, op, name);
  if (indexKernelForm(op))
    return generateIndexKernel(mb, op, name);
  Type bits = mb.getIntegerType(8 * form->bytes);
  if (auto g = dyn_cast<Q::GatherOp>(op))
    return gatherKernel(mb, loc, name, bits, qopt::elementTypeOf(g.getIndices()));
  return copyKernel(mb, loc, name, form->rank, bits);
}
