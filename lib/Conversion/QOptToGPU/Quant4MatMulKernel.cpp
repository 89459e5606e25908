//===- Quant4MatMulKernel.cpp - the 4-bit weight GPU matmul ---------------===//
//
// y[m, n] = sum_k x[m, k] * scale[n, k / group] * (code[n, k] - zero[n, k / group])
//
// On the CUDA cores, in f32, for 1 row (decoding) or blocks of 4 rows. Each warp computes
// kQ4ChannelsPerWarp channels (include/qopt/Runtime/CudaQuantMatMul.h): lane l takes the 32-bit
// words of codes l, l + 32, ... (8 codes each) of every channel, so a warp's code loads are 128
// contiguous bytes per channel, and the 8 activations a word needs are loaded once for all the
// warp's channels. Reading the activations once per channel, as one warp per channel did, made
// the L1 cache's activation traffic eight times the codes' and held the kernel at 14-16 % of
// the memory bandwidth.
//
// A code becomes a float with one logic operation and one FMA, no conversion instruction: for
// nibble s (0..3) of a 16-bit half of the word, (half & 0xF << 4s) | 0x4B000000 is the float
// 2^23 + code * 16^s (exact, below 2^24), and fma(that, 16^-s, -(2^23 / 16^s + zero)) is
// code - zero exactly. Every step's loads are issued before its arithmetic.
//
#include "GpuKernelBuilder.h"

#include "qopt/Runtime/CudaQuantMatMul.h"

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

WarpTile warpTile(KernelBuilder &k, const QuantMatMulParams &p, int64_t rows) {
  using namespace qopt::cuda;
  WarpTile tile;
  Value tid = k.threadId(), c32 = k.i64c(32);
  Value warp = k.divu(tid, c32);
  tile.lane = k.remu(tid, c32);
  tile.firstChannel = k.mul(k.add(k.mul(k.blockId(), k.i64c(kQ4WarpsPerBlock)), warp),
                            k.i64c(kQ4ChannelsPerWarp));
  tile.m0 = k.mul(k.blockId(gpu::Dimension::y), k.i64c(rows));
  Value rowBytes = k.divu(p.k, k.i64c(2));
  Value groups = k.divu(k.add(p.k, k.add(p.group, k.i64c(-1))), p.group);
  Value lastChannel = k.add(p.n, k.i64c(-1)), lastRow = k.add(p.m, k.i64c(-1));
  for (int64_t c = 0; c < kQ4ChannelsPerWarp; ++c) {
    Value ch = k.minu(k.add(tile.firstChannel, k.i64c(c)), lastChannel);
    tile.codeRow.push_back(k.mul(ch, rowBytes));
    tile.scaleRow.push_back(k.mul(ch, groups));
  }
  for (int64_t r = 0; r < rows; ++r)
    tile.xRow.push_back(k.mul(k.minu(k.add(tile.m0, k.i64c(r)), lastRow), p.k));
  return tile;
}

void storeWarpSums(KernelBuilder &k, const QuantMatMulParams &p, const WarpTile &tile,
                   ArrayRef<Value> sums, int64_t rows, float factor) {
  using namespace qopt::cuda;
  OpBuilder &b = k.b;
  SmallVector<Value> total;
  for (Value s : sums)
    total.push_back(factor == 1.0f ? k.warpSum(s) : k.fmul(k.warpSum(s), k.f32c(factor)));
  Value firstLane =
      arith::CmpIOp::create(b, k.loc, arith::CmpIPredicate::eq, tile.lane, k.i64c(0));
  auto write = scf::IfOp::create(b, k.loc, firstLane, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&write.getThenRegion().front());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < kQ4ChannelsPerWarp; ++c) {
      Value row = k.add(tile.m0, k.i64c(r)), ch = k.add(tile.firstChannel, k.i64c(c));
      Value inside = arith::AndIOp::create(b, k.loc, k.ult(row, p.m), k.ult(ch, p.n));
      auto valid = scf::IfOp::create(b, k.loc, inside, /*withElse=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(&valid.getThenRegion().front());
      k.store(total[r * kQ4ChannelsPerWarp + c], p.y, k.add(k.mul(row, p.n), ch));
    }
  }
}

void buildQuant4MatMulKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name,
                             ScaleKind scales, bool zeroPoints, int64_t rows) {
  using namespace qopt::cuda;
  constexpr int64_t channels = kQ4ChannelsPerWarp;
  // Words each lane loads per channel and loop step: more for one row, whose step holds fewer
  // activations in registers.
  const int64_t unroll = rows == 1 ? 4 : 2;
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  QuantMatMulParams params = createQuantMatMulKernel(b, module, name);
  Value x = params.x, codes = params.codes, scalePtr = params.scales, zeros = params.zeros,
        kdim = params.k, group = params.group;

  WarpTile tile = warpTile(k, params, rows);
  Value lane = tile.lane;
  Value words = k.divu(kdim, k.i64c(8));
  // Words per group, for the scale index: 32-bit division in the loop (a 64-bit one is a long
  // instruction sequence on the GPU).
  Value wordsPerGroup = arith::TruncIOp::create(b, loc, k.i32(), k.divu(group, k.i64c(8)));
  ArrayRef<Value> codeRow = tile.codeRow, scaleRow = tile.scaleRow, xRow = tile.xRow;

  SmallVector<Value> init(rows * channels, k.f32c(0.0f));
  auto loop = scf::ForOp::create(b, loc, lane, words, k.i64c(32 * unroll), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value first = loop.getInductionVar();
    Type quad = VectorType::get({4}, k.f32());
    // Loads first: codes, scales and activations of every word of the step. A word past the
    // row's end reads the step's first word again and counts with scale 0.
    SmallVector<Value> packed, scale, zero, xs;
    for (int64_t u = 0; u < unroll; ++u) {
      Value w = k.add(first, k.i64c(32 * u));
      Value valid = k.ult(w, words);
      w = arith::SelectOp::create(b, loc, valid, w, first);
      Value groupOfWord = arith::ExtUIOp::create(
          b, loc, k.i64(),
          arith::DivUIOp::create(b, loc, arith::TruncIOp::create(b, loc, k.i32(), w),
                                 wordsPerGroup));
      for (int64_t c = 0; c < channels; ++c) {
        Value at = k.add(codeRow[c], k.mul(w, k.i64c(4)));
        packed.push_back(LLVM::LoadOp::create(b, loc, k.i32(), k.gep(codes, b.getI8Type(), at),
                                              /*alignment=*/4));
        Value index = k.add(scaleRow[c], groupOfWord);
        Value sc = loadScale(k, scales, scalePtr, index);
        scale.push_back(arith::SelectOp::create(b, loc, valid, sc, k.f32c(0.0f)));
        zero.push_back(zeroPoints
                           ? Value(arith::UIToFPOp::create(
                                 b, loc, k.f32(),
                                 arith::ExtUIOp::create(b, loc, k.i32(),
                                                        k.load(b.getI8Type(), zeros, index))))
                           : k.f32c(8.0f));
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t h = 0; h < 2; ++h)
          xs.push_back(LLVM::LoadOp::create(
              b, loc, quad, k.gep(x, k.f32(), k.add(xRow[r], k.add(k.mul(w, k.i64c(8)), k.i64c(4 * h)))),
              /*alignment=*/16));
    }
    SmallVector<Value> acc(loop.getRegionIterArgs());
    for (int64_t u = 0; u < unroll; ++u) {
      for (int64_t c = 0; c < channels; ++c) {
        Value word = packed[u * channels + c];
        Value halves[2] = {word, arith::ShRUIOp::create(b, loc, word, k.i32c(16))};
        Value z = zero[u * channels + c];
        SmallVector<Value> partial(rows);
        for (int64_t j = 0; j < 8; ++j) {
          int32_t s = static_cast<int32_t>(j % 4);
          Value bits = arith::AndIOp::create(b, loc, halves[j / 4], k.i32c(0xF << (4 * s)));
          bits = arith::OrIOp::create(b, loc, bits, k.i32c(0x4B000000));
          float down = 1.0f / static_cast<float>(1 << (4 * s));
          Value bias = k.fsub(k.f32c(-8388608.0f * down), z);
          Value q = k.fma(arith::BitcastOp::create(b, loc, k.f32(), bits), k.f32c(down), bias);
          for (int64_t r = 0; r < rows; ++r) {
            Value xv = LLVM::ExtractElementOp::create(b, loc, xs[(u * rows + r) * 2 + j / 4],
                                                      k.i32c(static_cast<int32_t>(j % 4)));
            partial[r] = j ? k.fma(xv, q, partial[r]) : k.fmul(xv, q);
          }
        }
        for (int64_t r = 0; r < rows; ++r)
          acc[r * channels + c] = k.fma(partial[r], scale[u * channels + c], acc[r * channels + c]);
      }
    }
    scf::YieldOp::create(b, loc, acc);
  }

  storeWarpSums(k, params, tile, SmallVector<Value>(loop.getResults()), rows, 1.0f);
}

} // namespace qopt::gpu_kernels
