//===- GenerateIndexKernels.cpp - ops computed from element positions ----===//
//
// The tensor ops that are neither copies nor arithmetic: each element is computed from its
// position (Range, Trilu's mask, a fill), from a position read out of an index tensor
// (GatherElements, GatherND), or from the elements before it (CumSum). Each is a small kernel of
// its own, on integers of the element's width where the bits only move:
//   - Range: a `linalg.generic` over the output writing start + i * delta;
//   - Trilu: a `linalg.generic` over [matrices, rows, cols] keeping or zeroing by column - row;
//   - ConstantOfShape: `linalg.fill` of the value the runtime passes;
//   - GatherElements: a `linalg.generic` over the indices (rank R) loading the data element at the
//     same position with the index along the axis;
//   - Tile: a `linalg.generic` over the output loading the input at each position modulo the
//     input's dims;
//   - GatherND: loops over the index tuples, each adding up the offset of its slice and copying it;
//   - CumSum: loops over [outer, dim, inner], each step along the axis adding the previous output
//     row to the current input row (the inner loop is the vectorized one).
// The runtime checks indices before a kernel reads them, so the kernels do not.
//
#include "KernelSignature.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
namespace Q = qopt::QOpt;

namespace {

bool isIndexType(Type t) { return t.isSignlessInteger(32) || t.isSignlessInteger(64); }

/// `v` (an integer of any width) as an index, sign-extended.
Value toIndex(OpBuilder &b, Location loc, Value v) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

Value loadOperand(OpBuilder &b, Location loc, Value operands, int64_t i, Type element,
                  int64_t rank) {
  return qopt::loadKernelOperand(b, loc, operands, i, qopt::stridedViewType(element, rank));
}

/// Range: out[i] = start + i * delta (operands: start [1], delta [1], out [n]).
void buildRange(OpBuilder &b, Location loc, Value operands, Type element) {
  Value start = loadOperand(b, loc, operands, 0, element, 1);
  Value delta = loadOperand(b, loc, operands, 1, element, 1);
  Value out = loadOperand(b, loc, operands, 2, element, 1);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value s = memref::LoadOp::create(b, loc, start, ValueRange{zero});
  Value d = memref::LoadOp::create(b, loc, delta, ValueRange{zero});
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ValueRange{}, ValueRange{out},
      ArrayRef<AffineMap>{b.getMultiDimIdentityMap(1)},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        Value i = arith::IndexCastOp::create(nb, nloc, nb.getI64Type(),
                                             linalg::IndexOp::create(nb, nloc, 0));
        Value v;
        if (isa<FloatType>(element)) {
          Value fi = arith::SIToFPOp::create(nb, nloc, element, i);
          v = arith::AddFOp::create(nb, nloc, s, arith::MulFOp::create(nb, nloc, fi, d));
        } else {
          Value ii =
              element.isInteger(64) ? i : Value(arith::TruncIOp::create(nb, nloc, element, i));
          v = arith::AddIOp::create(nb, nloc, s, arith::MulIOp::create(nb, nloc, ii, d));
        }
        linalg::YieldOp::create(nb, nloc, v);
      });
}

/// Trilu: elements where column - row is past k (operands: in, out [m, rows, cols], k [1]).
void buildTrilu(OpBuilder &b, Location loc, Value operands, Type bits, bool upper) {
  Value in = loadOperand(b, loc, operands, 0, bits, 3);
  Value out = loadOperand(b, loc, operands, 1, bits, 3);
  Value kView = loadOperand(b, loc, operands, 2, b.getI64Type(), 1);
  Value k = toIndex(
      b, loc,
      memref::LoadOp::create(b, loc, kView, ValueRange{arith::ConstantIndexOp::create(b, loc, 0)}));
  AffineMap id = b.getMultiDimIdentityMap(3);
  SmallVector<utils::IteratorType> parallel(3, utils::IteratorType::parallel);
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ValueRange{in}, ValueRange{out}, ArrayRef<AffineMap>{id, id}, parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value row = linalg::IndexOp::create(nb, nloc, 1);
        Value col = linalg::IndexOp::create(nb, nloc, 2);
        Value diff = arith::SubIOp::create(nb, nloc, col, row);
        Value keep = arith::CmpIOp::create(
            nb, nloc, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle, diff, k);
        Value zero = arith::ConstantOp::create(nb, nloc, nb.getIntegerAttr(bits, 0));
        linalg::YieldOp::create(nb, nloc,
                                arith::SelectOp::create(nb, nloc, keep, args[0], zero).getResult());
      });
}

/// ConstantOfShape: the value (operand 0, [1]) into every element of the output ([n]).
void buildFill(OpBuilder &b, Location loc, Value operands, Type bits) {
  Value value = loadOperand(b, loc, operands, 0, bits, 1);
  Value out = loadOperand(b, loc, operands, 1, bits, 1);
  Value v =
      memref::LoadOp::create(b, loc, value, ValueRange{arith::ConstantIndexOp::create(b, loc, 0)});
  linalg::FillOp::create(b, loc, ValueRange{v}, ValueRange{out});
}

/// GatherElements along `axis` (operands: data, indices, out, all of rank `rank`).
void buildGatherElements(OpBuilder &b, Location loc, Value operands, Type bits, Type index,
                         int64_t rank, int64_t axis) {
  Value data = loadOperand(b, loc, operands, 0, bits, rank);
  Value indices = loadOperand(b, loc, operands, 1, index, rank);
  Value out = loadOperand(b, loc, operands, 2, bits, rank);
  Value dim = memref::DimOp::create(b, loc, data, arith::ConstantIndexOp::create(b, loc, axis));
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ValueRange{indices}, ValueRange{out}, ArrayRef<AffineMap>{id, id},
      parallel, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> at;
        for (int64_t d = 0; d < rank; ++d)
          at.push_back(d == axis ? qopt::wrapTensorIndex(nb, nloc, args[0], dim)
                                 : Value(linalg::IndexOp::create(nb, nloc, d)));
        linalg::YieldOp::create(nb, nloc, memref::LoadOp::create(nb, nloc, data, at).getResult());
      });
}

/// Tile: every output element is the input's at its position modulo the input's dims (operands:
/// in, out, both of rank `rank`).
void buildTile(OpBuilder &b, Location loc, Value operands, Type bits, int64_t rank) {
  Value in = loadOperand(b, loc, operands, 0, bits, rank);
  Value out = loadOperand(b, loc, operands, 1, bits, rank);
  SmallVector<Value> dims;
  for (int64_t d = 0; d < rank; ++d)
    dims.push_back(memref::DimOp::create(b, loc, in, arith::ConstantIndexOp::create(b, loc, d)));
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ValueRange{}, ValueRange{out},
      ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)}, parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        SmallVector<Value> at;
        for (int64_t d = 0; d < rank; ++d)
          at.push_back(
              arith::RemUIOp::create(nb, nloc, linalg::IndexOp::create(nb, nloc, d), dims[d]));
        linalg::YieldOp::create(nb, nloc, memref::LoadOp::create(nb, nloc, in, at).getResult());
      });
}

/// GatherND (operands: data [total] flat, indices [tuples, depth], the indexed dims' sizes and
/// element strides [2, depth], out [tuples, slice], params [tuples per batch, batch stride]).
void buildGatherND(OpBuilder &b, Location loc, Value operands, Type bits, Type index) {
  Value data = loadOperand(b, loc, operands, 0, bits, 1);
  Value indices = loadOperand(b, loc, operands, 1, index, 2);
  Value dims = loadOperand(b, loc, operands, 2, b.getI64Type(), 2);
  Value out = loadOperand(b, loc, operands, 3, bits, 2);
  Value params = loadOperand(b, loc, operands, 4, b.getI64Type(), 1);
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0),
        c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value tuples = memref::DimOp::create(b, loc, out, c0);
  Value slice = memref::DimOp::create(b, loc, out, c1);
  Value depth = memref::DimOp::create(b, loc, indices, c1);
  Value perBatch = toIndex(b, loc, memref::LoadOp::create(b, loc, params, ValueRange{c0}));
  Value batchStride = toIndex(b, loc, memref::LoadOp::create(b, loc, params, ValueRange{c1}));
  scf::ForOp::create(
      b, loc, c0, tuples, c1, ValueRange{}, [&](OpBuilder &tb, Location tl, Value t, ValueRange) {
        Value batch = arith::DivUIOp::create(tb, tl, t, perBatch);
        Value base = arith::MulIOp::create(tb, tl, batch, batchStride);
        auto offset = scf::ForOp::create(
            tb, tl, c0, depth, c1, ValueRange{base},
            [&](OpBuilder &kb, Location kl, Value k, ValueRange acc) {
              Value dim = toIndex(kb, kl, memref::LoadOp::create(kb, kl, dims, ValueRange{c0, k}));
              Value stride =
                  toIndex(kb, kl, memref::LoadOp::create(kb, kl, dims, ValueRange{c1, k}));
              Value idx = memref::LoadOp::create(kb, kl, indices, ValueRange{t, k});
              Value term =
                  arith::MulIOp::create(kb, kl, qopt::wrapTensorIndex(kb, kl, idx, dim), stride);
              scf::YieldOp::create(kb, kl, ValueRange{arith::AddIOp::create(kb, kl, acc[0], term)});
            });
        scf::ForOp::create(tb, tl, c0, slice, c1, ValueRange{},
                           [&](OpBuilder &sb, Location sl, Value s, ValueRange) {
                             Value from = arith::AddIOp::create(sb, sl, offset.getResult(0), s);
                             Value v = memref::LoadOp::create(sb, sl, data, ValueRange{from});
                             memref::StoreOp::create(sb, sl, v, out, ValueRange{t, s});
                             scf::YieldOp::create(sb, sl);
                           });
        scf::YieldOp::create(tb, tl);
      });
}

/// CumSum over the middle dim of [outer, dim, inner] (operands: in, out), inclusive or exclusive,
/// forward or reversed: each step adds the previous step's output row to an input row.
void buildCumSum(OpBuilder &b, Location loc, Value operands, Type element, bool exclusive,
                 bool reverse) {
  Value in = loadOperand(b, loc, operands, 0, element, 3);
  Value out = loadOperand(b, loc, operands, 1, element, 3);
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0),
        c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  Value outer = memref::DimOp::create(b, loc, in, c0);
  Value dim = memref::DimOp::create(b, loc, in, c1);
  Value inner = memref::DimOp::create(b, loc, in, c2);
  Value last = arith::SubIOp::create(b, loc, dim, c1);
  auto add = [&](OpBuilder &nb, Location nl, Value l, Value r) -> Value {
    if (isa<FloatType>(element))
      return arith::AddFOp::create(nb, nl, l, r);
    return arith::AddIOp::create(nb, nl, l, r);
  };
  Value zero = isa<FloatType>(element)
                   ? Value(arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0.0)))
                   : Value(arith::ConstantOp::create(b, loc, b.getIntegerAttr(element, 0)));
  scf::ForOp::create(
      b, loc, c0, outer, c1, ValueRange{}, [&](OpBuilder &ob, Location ol, Value o, ValueRange) {
        scf::ForOp::create(
            ob, ol, c0, dim, c1, ValueRange{},
            [&](OpBuilder &sb, Location sl, Value s, ValueRange) {
              // The position this step writes and the one before it along the scan.
              Value k = reverse ? Value(arith::SubIOp::create(sb, sl, last, s)) : s;
              Value prev = reverse ? Value(arith::AddIOp::create(sb, sl, k, c1))
                                   : Value(arith::SubIOp::create(sb, sl, k, c1));
              Value first = arith::CmpIOp::create(sb, sl, arith::CmpIPredicate::eq, s, c0);
              scf::ForOp::create(
                  sb, sl, c0, inner, c1, ValueRange{},
                  [&](OpBuilder &jb, Location jl, Value j, ValueRange) {
                    // Step 0 reads position 0 twice but selects the values away (no out-of-range
                    // read: prev is clamped to k).
                    Value safePrev = arith::SelectOp::create(jb, jl, first, k, prev);
                    Value before = memref::LoadOp::create(jb, jl, out, ValueRange{o, safePrev, j});
                    Value carried = arith::SelectOp::create(jb, jl, first, zero, before);
                    Value v;
                    if (exclusive) {
                      Value prevIn = memref::LoadOp::create(jb, jl, in, ValueRange{o, safePrev, j});
                      v = arith::SelectOp::create(jb, jl, first, zero,
                                                  add(jb, jl, carried, prevIn));
                    } else {
                      Value here = memref::LoadOp::create(jb, jl, in, ValueRange{o, k, j});
                      v = add(jb, jl, carried, here);
                    }
                    memref::StoreOp::create(jb, jl, v, out, ValueRange{o, k, j});
                    scf::YieldOp::create(jb, jl);
                  });
              scf::YieldOp::create(sb, sl);
            });
        scf::YieldOp::create(ob, ol);
      });
}
} // namespace

Value qopt::wrapTensorIndex(OpBuilder &b, Location loc, Value element, Value dim) {
  Value idx = toIndex(b, loc, element);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value negative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, zero);
  return arith::SelectOp::create(b, loc, negative, arith::AddIOp::create(b, loc, idx, dim), idx);
}

std::optional<qopt::DataKernelForm> qopt::indexKernelForm(Operation *op) {
  auto form = [&](std::string key, int64_t rank, Type element) -> std::optional<DataKernelForm> {
    int64_t bytes = qopt::runtimeElementBytes(element);
    if (!bytes || rank > kMaxKernelRank)
      return std::nullopt;
    return DataKernelForm{rank, bytes, key + ".b" + std::to_string(bytes)};
  };
  if (auto r = dyn_cast<Q::RangeOp>(op)) {
    Type e = qopt::elementTypeOf(r.getOutput());
    if (!e.isF32() && !isIndexType(e))
      return std::nullopt;
    return form(e.isF32() ? "range.f" : "range.i", 1, e);
  }
  if (auto t = dyn_cast<Q::TriluOp>(op); t && qopt::rankOf(t.getInput()) >= 2)
    return form(t.getUpper() ? "triu" : "tril", 3, qopt::elementTypeOf(t.getInput()));
  if (auto c = dyn_cast<Q::ConstantOfShapeOp>(op))
    return form("fill", 1, qopt::elementTypeOf(c.getOutput()));
  if (auto g = dyn_cast<Q::GatherElementsOp>(op)) {
    Type index = qopt::elementTypeOf(g.getIndices());
    int64_t rank = qopt::rankOf(g.getData());
    // I64Attr reads back unsigned: a negative axis needs the signed value.
    int64_t axis = static_cast<int64_t>(g.getAxis());
    axis = axis < 0 ? axis + rank : axis;
    if (!isIndexType(index) || rank < 1 || axis < 0 || axis >= rank)
      return std::nullopt;
    return form("gather_elements.r" + std::to_string(rank) + ".a" + std::to_string(axis) + ".i" +
                    std::to_string(index.getIntOrFloatBitWidth()),
                rank, qopt::elementTypeOf(g.getData()));
  }
  if (auto t = dyn_cast<Q::TileOp>(op))
    return form("tile.r" + std::to_string(qopt::rankOf(t.getInput())), qopt::rankOf(t.getInput()),
                qopt::elementTypeOf(t.getInput()));
  if (auto g = dyn_cast<Q::GatherNDOp>(op)) {
    Type index = qopt::elementTypeOf(g.getIndices());
    if (!isIndexType(index))
      return std::nullopt;
    return form("gather_nd.i" + std::to_string(index.getIntOrFloatBitWidth()), 2,
                qopt::elementTypeOf(g.getData()));
  }
  if (auto c = dyn_cast<Q::CumSumOp>(op)) {
    Type e = qopt::elementTypeOf(c.getInput());
    if (!e.isF32() && !isIndexType(e))
      return std::nullopt;
    std::string key = "cum_sum";
    key += c.getExclusive() ? ".x" : ".i";
    key += c.getReverse() ? ".r" : ".f";
    key += e.isF32() ? ".f" : ".n";
    return form(key, 3, e);
  }
  return std::nullopt;
}

func::FuncOp qopt::generateIndexKernel(OpBuilder &mb, Operation *op, StringRef name) {
  std::optional<DataKernelForm> form = indexKernelForm(op);
  assert(form && "no index kernel form");
  Location loc = op->getLoc();
  Type bits = mb.getIntegerType(8 * form->bytes);
  return createKernelFunction(mb, loc, name, [&](OpBuilder &b, Value operands) {
    if (auto r = dyn_cast<Q::RangeOp>(op))
      return buildRange(b, loc, operands, qopt::elementTypeOf(r.getOutput()));
    if (auto t = dyn_cast<Q::TriluOp>(op))
      return buildTrilu(b, loc, operands, bits, t.getUpper());
    if (isa<Q::ConstantOfShapeOp>(op))
      return buildFill(b, loc, operands, bits);
    if (auto g = dyn_cast<Q::GatherElementsOp>(op)) {
      int64_t rank = qopt::rankOf(g.getData());
      int64_t axis = static_cast<int64_t>(g.getAxis());
      axis = axis < 0 ? axis + rank : axis;
      return buildGatherElements(b, loc, operands, bits, qopt::elementTypeOf(g.getIndices()), rank, axis);
    }
    if (auto g = dyn_cast<Q::GatherNDOp>(op))
      return buildGatherND(b, loc, operands, bits, qopt::elementTypeOf(g.getIndices()));
    if (auto t = dyn_cast<Q::TileOp>(op))
      return buildTile(b, loc, operands, bits, qopt::rankOf(t.getInput()));
    auto c = cast<Q::CumSumOp>(op);
    buildCumSum(b, loc, operands, qopt::elementTypeOf(c.getInput()), c.getExclusive(), c.getReverse());
  });
}
