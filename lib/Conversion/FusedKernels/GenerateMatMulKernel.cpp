//===- GenerateMatMulKernel.cpp - register-tiled kernels for packed products -===//
//
// A qopt.fused_matmul multiplies rows of K activations by a weight packed as panels
// [P, K, panel] (qopt-pack-matmul-weights). The kernel generated here computes a block of
// output rows by one panel of columns with the whole block in vector registers: for each k it
// loads the panel's row k (`panel / lanes` vectors), broadcasts one activation per row of the
// block, and accumulates with fused multiply-adds. After K steps it applies the epilogue (the
// op's body, widened to vectors) and stores. Each weight element is loaded once per block of rows
// rather than once per row, which is what lifts a product from memory-bound to compute-bound.
//
// Row blocks are as tall as the registers allow: 8 rows of two 16-lane vectors (16 of AVX-512's
// 32 registers) or 6 rows of two 8-lane vectors (12 of AVX2's 16). Rows left over go through
// blocks of half that height, then of one row; a one-row block (token-by-token decoding) keeps
// four sets of accumulators over interleaved k so that its multiply-adds do not wait on each
// other.
//
// The same kernel, with K and N read at run time and the rhs read as row-major rows of N (masked
// loads past column N), computes a product of two activations (attention's scores and values):
// `generateActivationMatMulKernel`.
//
// The code is built directly in the vector dialect rather than by tiling a linalg.matmul: the
// packed layout, the register block and the epilogue are all fixed here, so there is nothing for
// a search over tilings to choose.
//
#include "KernelSignature.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
namespace Q = qopt::QOpt;

namespace {
/// Operand slots of a matmul kernel, in the order the runtime writes their descriptors.
enum Slot : int64_t { kInput = 0, kWeight = 1, kOutput = 2, kParams = 3, kFirstEpilogue = 4 };
/// Words of the i64 parameter operand: the part of the product this call computes (rows, then
/// panels of a packed weight or columns of an activation rhs), then for a packed weight the row
/// stride of each epilogue input (0 when one row serves all), for two activations K and N.
enum Param : int64_t {
  kRowBegin = 0, kRowEnd = 1, kPanelBegin = 2, kPanelEnd = 3, kFirstStride = 4,
  kDynamicK = 4, kDynamicN = 5
};

struct MatMulKernelBuilder {
  OpBuilder &b;
  Location loc;
  Q::FusedMatMulOp op; // the epilogue's owner, if any
  /// The rhs is a weight packed in panels, of static K and N; otherwise K and N are read at run
  /// time and the rhs is row-major.
  bool packedLayout;
  int64_t k = 0, n = 0;
  int64_t panel, vectorsPerRow, lanes;
  VectorType vecType;
  Value input, weight, output, kV, nV;
  SmallVector<Value> epilogueInputs, epilogueStrides;
  Value zeroVec;

  MatMulKernelBuilder(OpBuilder &b, Location loc, Q::FusedMatMulOp op, bool packedLayout,
                      int64_t k, int64_t n, int64_t panel)
      : b(b), loc(loc), op(op), packedLayout(packedLayout), k(k), n(n), panel(panel) {
    // Two vectors per panel row where the panel splits evenly (the pack pass picks panels of two
    // registers), else one.
    vectorsPerRow = panel % 2 == 0 ? 2 : 1;
    lanes = panel / vectorsPerRow;
    vecType = VectorType::get({lanes}, b.getF32Type());
  }

  bool packed() const { return packedLayout; }
  /// The mask of the lanes of a vector starting at column `col` that lie before column N.
  Value columnMask(Value col) {
    Value left = arith::SubIOp::create(b, loc, nV, col);
    return vector::CreateMaskOp::create(b, loc, VectorType::get({lanes}, b.getI1Type()),
                                        ValueRange{left});
  }

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }

  /// Whether the last panel can be partial, so that stores and epilogue loads need a mask.
  bool masked() const { return !packed() || n % panel != 0; }

  /// Applies the epilogue to `acc`, the accumulator of output row `row` at columns
  /// [col, col + lanes), and stores it (masked past column N).
  void storeRow(Value acc, Value row, Value col) {
    Value mask;
    if (masked())
      mask = columnMask(col);
    auto load = [&](Value memref, Value offset) -> Value {
      if (mask)
        return vector::MaskedLoadOp::create(b, loc, vecType, memref, ValueRange{offset}, mask,
                                            zeroVec);
      return vector::LoadOp::create(b, loc, vecType, memref, ValueRange{offset});
    };
    Value result = acc;
    if (op) {
      Block &body = op.getBody().front();
      IRMapping mapping;
      mapping.map(body.getArgument(0), acc);
      for (auto [i, e] : llvm::enumerate(epilogueInputs))
        mapping.map(body.getArgument(i + 1), load(e, add(mul(row, epilogueStrides[i]), col)));
      for (Operation &inner : body.without_terminator())
        widen(inner, mapping);
      result = mapping.lookup(cast<Q::YieldOp>(body.getTerminator()).getValues()[0]);
    }
    Value offset = add(mul(row, nV), col);
    if (mask)
      vector::MaskedStoreOp::create(b, loc, output, ValueRange{offset}, mask, result);
    else
      vector::StoreOp::create(b, loc, result, output, ValueRange{offset});
  }

  /// A clone of the scalar epilogue op `inner` on vectors of `lanes` elements.
  void widen(Operation &inner, IRMapping &mapping) {
    if (auto c = dyn_cast<arith::ConstantOp>(inner)) {
      auto type = VectorType::get({lanes}, c.getType());
      auto splat = DenseElementsAttr::get(type, c.getValue());
      mapping.map(c.getResult(), arith::ConstantOp::create(b, loc, type, splat));
      return;
    }
    Operation *clone = b.clone(inner, mapping);
    for (Value r : clone->getResults())
      r.setType(VectorType::get({lanes}, r.getType()));
  }

  /// Computes rows [row, row + rows) of one panel (its weights at `panelBase`, its first output
  /// column `col`).
  void rowBlock(int64_t rows, Value row, Value panelBase, Value col) {
    // A one-row block keeps `sets` accumulator sets on interleaved k (independent FMA chains).
    int64_t sets = rows == 1 && (!packed() || k >= 8) ? 4 : 1;
    int64_t perSet = rows * vectorsPerRow;
    SmallVector<Value> rowBases;
    for (int64_t r = 0; r < rows; ++r)
      rowBases.push_back(mul(add(row, index(r)), kV));
    // Rows of an activation rhs end at column N: its loads are masked, the masks made once.
    SmallVector<Value> bMasks;
    if (!packed())
      for (int64_t v = 0; v < vectorsPerRow; ++v)
        bMasks.push_back(columnMask(add(col, index(v * lanes))));

    // One k step into the accumulators of set `s`.
    auto step = [&](Value kk, MutableArrayRef<Value> acc) {
      Value bOffset = packed() ? add(panelBase, mul(kk, index(panel))) : add(mul(kk, nV), col);
      SmallVector<Value> bVecs;
      for (int64_t v = 0; v < vectorsPerRow; ++v) {
        Value at = add(bOffset, index(v * lanes));
        if (packed())
          bVecs.push_back(vector::LoadOp::create(b, loc, vecType, weight, ValueRange{at}));
        else
          bVecs.push_back(vector::MaskedLoadOp::create(b, loc, vecType, weight, ValueRange{at},
                                                       bMasks[v], zeroVec));
      }
      for (int64_t r = 0; r < rows; ++r) {
        Value a = memref::LoadOp::create(b, loc, input, ValueRange{add(rowBases[r], kk)});
        Value aVec = vector::BroadcastOp::create(b, loc, vecType, a);
        for (int64_t v = 0; v < vectorsPerRow; ++v) {
          Value &slot = acc[r * vectorsPerRow + v];
          slot = vector::FMAOp::create(b, loc, aVec, bVecs[v], slot);
        }
      }
    };
    auto kLoop = [&](Value begin, Value end, int64_t stride, SmallVector<Value> init)
        -> SmallVector<Value> {
      auto loop = scf::ForOp::create(b, loc, begin, end, index(stride), init);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      SmallVector<Value> acc(loop.getRegionIterArgs());
      for (int64_t s = 0; s < stride; ++s) {
        Value kk = add(loop.getInductionVar(), index(s));
        step(kk, MutableArrayRef<Value>(acc).slice(s * perSet, perSet));
      }
      scf::YieldOp::create(b, loc, acc);
      return SmallVector<Value>(loop.getResults());
    };

    SmallVector<Value> acc(sets * perSet, zeroVec);
    Value mainEnd = sets == 1 ? kV : arith::SubIOp::create(b, loc, kV,
                                        arith::RemUIOp::create(b, loc, kV, index(sets)));
    acc = kLoop(index(0), mainEnd, sets, acc);
    SmallVector<Value> sum(acc.begin(), acc.begin() + perSet);
    for (int64_t s = 1; s < sets; ++s)
      for (int64_t i = 0; i < perSet; ++i)
        sum[i] = arith::AddFOp::create(b, loc, sum[i], acc[s * perSet + i]);
    if (sets > 1)
      sum = kLoop(mainEnd, kV, 1, sum);

    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectorsPerRow; ++v)
        storeRow(sum[r * vectorsPerRow + v], add(row, index(r)), add(col, index(v * lanes)));
  }

  /// Rows [begin, end) in blocks of `rows`; returns where the whole blocks end.
  Value rowLoop(int64_t rows, Value begin, Value end, Value panelBase, Value col) {
    Value count = arith::SubIOp::create(b, loc, end, begin);
    Value whole = mul(arith::DivUIOp::create(b, loc, count, index(rows)), index(rows));
    Value stop = add(begin, whole);
    auto loop = scf::ForOp::create(b, loc, begin, stop, index(rows));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    rowBlock(rows, loop.getInductionVar(), panelBase, col);
    return stop;
  }

  void build(Value operands) {
    MLIRContext *ctx = b.getContext();
    auto f32Buffer = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
    auto i64Buffer = MemRefType::get({ShapedType::kDynamic}, b.getI64Type());
    input = qopt::loadKernelOperand(b, loc, operands, kInput, f32Buffer);
    weight = qopt::loadKernelOperand(b, loc, operands, kWeight, f32Buffer);
    output = qopt::loadKernelOperand(b, loc, operands, kOutput, f32Buffer);
    Value params = qopt::loadKernelOperand(b, loc, operands, kParams, i64Buffer);
    auto param = [&](int64_t i) -> Value {
      Value word = memref::LoadOp::create(b, loc, params, ValueRange{index(i)});
      return arith::IndexCastOp::create(b, loc, IndexType::get(ctx), word);
    };
    if (packed()) {
      kV = index(k);
      nV = index(n);
      for (size_t i = 0; op && i < op.getEpilogueInputs().size(); ++i) {
        epilogueInputs.push_back(
            qopt::loadKernelOperand(b, loc, operands, kFirstEpilogue + i, f32Buffer));
        epilogueStrides.push_back(param(kFirstStride + i));
      }
    } else {
      kV = param(kDynamicK);
      nV = param(kDynamicN);
    }
    zeroVec = arith::ConstantOp::create(b, loc, vecType, DenseElementsAttr::get(vecType, 0.0f));
    Value rowBegin = param(kRowBegin), rowEnd = param(kRowEnd);

    // Panels outermost: a panel (K x panel floats) stays in cache while every row block of the
    // part passes over it.
    // A packed weight's part is a range of panels; an activation rhs's a range of columns, which
    // the runtime starts at multiples of 64 (of every panel width), so that it need not know the
    // kernel's.
    Value begin = param(kPanelBegin), end = param(kPanelEnd);
    auto panels = scf::ForOp::create(b, loc, begin, end, index(packed() ? 1 : panel));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(panels.getBody());
    Value p = panels.getInductionVar();
    Value panelBase = packed() ? mul(p, index(k * panel)) : Value();
    Value col = packed() ? mul(p, index(panel)) : p;
    int64_t tall = lanes >= 16 ? 8 : 6;
    Value next = rowLoop(tall, rowBegin, rowEnd, panelBase, col);
    next = rowLoop(tall / 2, next, rowEnd, panelBase, col);
    rowLoop(1, next, rowEnd, panelBase, col);
  }
};
} // namespace

func::FuncOp qopt::generateMatMulKernel(OpBuilder &mb, Operation *fusedMatMul, StringRef name) {
  auto op = cast<Q::FusedMatMulOp>(fusedMatMul);
  return createKernelFunction(mb, op.getLoc(), name, [&](OpBuilder &b, Value operands) {
    MatMulKernelBuilder(b, op.getLoc(), op, /*packedLayout=*/true, op.getK(), op.getN(),
                        op.getPanel())
        .build(operands);
  });
}

bool qopt::hasActivationMatMulForm(Operation *op) {
  auto mm = dyn_cast<Q::MatMulOp>(op);
  if (!mm)
    return false;
  auto lhs = cast<RankedTensorType>(mm.getLhs().getType());
  auto rhs = cast<RankedTensorType>(mm.getRhs().getType());
  return lhs.getElementType().isF32() && rhs.getElementType().isF32() && lhs.getRank() >= 2 &&
         rhs.getRank() >= 2;
}

func::FuncOp qopt::generateActivationMatMulKernel(OpBuilder &mb, Operation *matmul,
                                                  StringRef name, int64_t lanes) {
  return createKernelFunction(mb, matmul->getLoc(), name, [&](OpBuilder &b, Value operands) {
    MatMulKernelBuilder(b, matmul->getLoc(), Q::FusedMatMulOp(), /*packedLayout=*/false, 0, 0,
                        2 * lanes)
        .build(operands);
  });
}

bool qopt::hasQuantizedMatMulForm(Operation *op) {
  auto q = dyn_cast<Q::QuantizedMatMulOp>(op);
  // Quantized (int8) inputs go to the runtime's integer kernels. Rounded (bf16) ones keep the
  // kernel: the runtime runs it on the rounded input where its bf16 kernels do not apply (row
  // layout, 8-bit codes, codebooks, CPUs without AVX-512-BF16).
  return q && !q.getInt8Activations() &&
         cast<RankedTensorType>(q.getInput().getType()).getElementType().isF32();
}

func::FuncOp qopt::generatePanelMatMulKernel(OpBuilder &mb, Operation *op, StringRef name,
                                             int64_t k, int64_t n, int64_t panel) {
  return createKernelFunction(mb, op->getLoc(), name, [&](OpBuilder &b, Value operands) {
    MatMulKernelBuilder(b, op->getLoc(), Q::FusedMatMulOp(), /*packedLayout=*/true, k, n, panel)
        .build(operands);
  });
}
