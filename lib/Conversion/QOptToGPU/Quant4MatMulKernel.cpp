//===- Quant4MatMulKernel.cpp - the 4-bit weight GPU matmul ---------------===//
//
// y[m, n] = sum_k x[m, k] * scale[n, k / group] * (code[n, k] - zero[n, k / group])
//
// One warp per output channel n (four per block of 128 threads) and `rows` activation rows per
// block (grid y). Lane l takes the chunks of 32 codes l, l + 32, ..., four per loop step with
// their loads issued first (each warp has 2 KiB of codes in flight): one 16-byte load of codes per chunk, all within one group (the group is a multiple of 32), decoded without integer-to-float
// conversions: a code OR 0x4B000000 is the float 2^23 + code, so subtracting 2^23 + zero gives
// code - zero exactly. The 32 products per row go to four partial sums (independent FMA chains),
// scaled once per chunk. The warp's lanes are summed with butterfly shuffles.
//
#include "GpuKernelBuilder.h"

using namespace mlir;

namespace qopt::gpu_kernels {

QuantMatMulParams createQuantMatMulKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name) {
  KernelBuilder k(b, module.getLoc());
  Type p = k.ptr(), i64 = k.i64();
  gpu::GPUFuncOp func = createKernel(b, module, name, {p, p, p, p, p, i64, i64, i64, i64});
  markPointers(func, 4);
  Block &entry = func.getBody().front();
  return {func,
          entry.getArgument(0), entry.getArgument(1), entry.getArgument(2),
          entry.getArgument(3), entry.getArgument(4), entry.getArgument(5),
          entry.getArgument(6), entry.getArgument(7), entry.getArgument(8)};
}

Value loadScale(KernelBuilder &k, ScaleKind kind, Value scales, Value index) {
  OpBuilder &b = k.b;
  switch (kind) {
  case ScaleKind::F32: return k.load(k.f32(), scales, index);
  case ScaleKind::F16:
    return arith::ExtFOp::create(b, k.loc, k.f32(), k.load(b.getF16Type(), scales, index));
  case ScaleKind::BF16: {
    Value bits = arith::ExtUIOp::create(b, k.loc, k.i32(), k.load(b.getI16Type(), scales, index));
    bits = arith::ShLIOp::create(b, k.loc, bits, k.i32c(16));
    return arith::BitcastOp::create(b, k.loc, k.f32(), bits);
  }
  }
  llvm_unreachable("a scale kind");
}

/// Chunks of 32 codes each lane loads per loop step.
constexpr int64_t kUnroll = 4;

void buildQuant4MatMulKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name,
                             ScaleKind scales, bool zeroPoints, int64_t rows) {
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  QuantMatMulParams params = createQuantMatMulKernel(b, module, name);
  Value x = params.x, codes = params.codes, scalePtr = params.scales, zeros = params.zeros,
        y = params.y, m = params.m, n = params.n, kdim = params.k, group = params.group;

  Value tid = k.threadId();
  Value c32 = k.i64c(32);
  Value warp = k.divu(tid, c32), lane = k.remu(tid, c32);
  Value channel = k.add(k.mul(k.blockId(), k.i64c(4)), warp);
  Value m0 = k.mul(k.blockId(gpu::Dimension::y), k.i64c(rows));
  auto inRange = scf::IfOp::create(b, loc, k.ult(channel, n), /*withElse=*/false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());

  Value rowBytes = k.divu(kdim, k.i64c(2));
  Value groups = k.divu(k.add(kdim, k.add(group, k.i64c(-1))), group);
  Value chunks = k.divu(kdim, c32);
  // Chunks per group, for the scale index: 32-bit division in the loop (a 64-bit one is a long
  // instruction sequence on the GPU).
  Value chunksPerGroup = arith::TruncIOp::create(b, loc, k.i32(), k.divu(group, c32));
  // Rows past m are read as row m - 1 and never written.
  SmallVector<Value> xRow;
  Value lastRow = k.add(m, k.i64c(-1));
  for (int64_t r = 0; r < rows; ++r)
    xRow.push_back(k.mul(k.minu(k.add(m0, k.i64c(r)), lastRow), kdim));

  SmallVector<Value> init(rows, k.f32c(0.0f));
  Value step = k.i64c(32 * kUnroll);
  auto loop = scf::ForOp::create(b, loc, lane, chunks, step, init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value first = loop.getInductionVar();
    Type words = VectorType::get({4}, k.i32());
    // All loads of the step's chunks are issued before any arithmetic, so each warp has
    // kUnroll loads of codes in flight. A chunk past the row's end reads the first chunk again
    // and counts with scale 0.
    SmallVector<Value> chunkOf, packed, scale, zeroBias;
    for (int64_t u = 0; u < kUnroll; ++u) {
      Value chunk = k.add(first, k.i64c(32 * u));
      Value valid = k.ult(chunk, chunks);
      chunk = arith::SelectOp::create(b, loc, valid, chunk, first);
      chunkOf.push_back(chunk);
      Value bytes = k.gep(codes, b.getI8Type(), k.add(k.mul(channel, rowBytes), k.mul(chunk, k.i64c(16))));
      packed.push_back(LLVM::LoadOp::create(b, loc, words, bytes, /*alignment=*/16));
      Value groupOfChunk = arith::DivUIOp::create(
          b, loc, arith::TruncIOp::create(b, loc, k.i32(), chunk), chunksPerGroup);
      Value scaleIndex = k.add(k.mul(channel, groups),
                               arith::ExtUIOp::create(b, loc, k.i64(), groupOfChunk));
      Value sc = loadScale(k, scales, scalePtr, scaleIndex);
      scale.push_back(arith::SelectOp::create(b, loc, valid, sc, k.f32c(0.0f)));
      // 2^23 + the zero point: symmetric codes are centred on 8.
      Value bias = k.f32c(8388608.0f + 8.0f);
      if (zeroPoints) {
        Value z = arith::ExtUIOp::create(b, loc, k.i32(), k.load(b.getI8Type(), zeros, scaleIndex));
        bias = k.fadd(arith::UIToFPOp::create(b, loc, k.f32(), z), k.f32c(8388608.0f));
      }
      zeroBias.push_back(bias);
    }
    SmallVector<Value> acc(loop.getRegionIterArgs());
    Type quad = VectorType::get({4}, k.f32());
    for (int64_t u = 0; u < kUnroll; ++u) {
      Value kb = k.mul(chunkOf[u], c32);
      for (int64_t r = 0; r < rows; ++r) {
        // The chunk's 32 activations are loaded before any product: issued back to back, they
        // wait for the cache once rather than eight times.
        Value base = k.add(xRow[r], kb);
        SmallVector<Value> xs;
        for (int64_t v = 0; v < 8; ++v)
          xs.push_back(LLVM::LoadOp::create(b, loc, quad,
                                            k.gep(x, k.f32(), k.add(base, k.i64c(4 * v))),
                                            /*alignment=*/16));
        Value partial[4] = {k.f32c(0.0f), k.f32c(0.0f), k.f32c(0.0f), k.f32c(0.0f)};
        for (int64_t w = 0; w < 4; ++w) {
          Value word = LLVM::ExtractElementOp::create(b, loc, packed[u], k.i32c(static_cast<int32_t>(w)));
          for (int64_t s = 0; s < 8; ++s) {
            Value nib = s ? Value(arith::ShRUIOp::create(b, loc, word, k.i32c(static_cast<int32_t>(4 * s)))) : word;
            nib = arith::AndIOp::create(b, loc, nib, k.i32c(15));
            nib = arith::OrIOp::create(b, loc, nib, k.i32c(0x4B000000));
            Value q = k.fsub(arith::BitcastOp::create(b, loc, k.f32(), nib), zeroBias[u]);
            int64_t e = 8 * w + s;
            Value xe = LLVM::ExtractElementOp::create(b, loc, xs[e / 4], k.i32c(static_cast<int32_t>(e % 4)));
            partial[e % 4] = k.fma(xe, q, partial[e % 4]);
          }
        }
        Value sum = k.fadd(k.fadd(partial[0], partial[1]), k.fadd(partial[2], partial[3]));
        acc[r] = k.fma(sum, scale[u], acc[r]);
      }
    }
    scf::YieldOp::create(b, loc, acc);
  }

  SmallVector<Value> sums(loop.getResults());
  for (Value &s : sums)
    s = k.warpSum(s);
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, k.i64c(0));
  auto write = scf::IfOp::create(b, loc, first, /*withElse=*/false);
  b.setInsertionPointToStart(&write.getThenRegion().front());
  for (int64_t r = 0; r < rows; ++r) {
    Value row = k.add(m0, k.i64c(r));
    auto valid = scf::IfOp::create(b, loc, k.ult(row, m), /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&valid.getThenRegion().front());
    k.store(sums[r], y, k.add(k.mul(row, n), channel));
  }
  b.setInsertionPointAfter(inRange);
}

} // namespace qopt::gpu_kernels
