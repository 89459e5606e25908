//===- Quant4TensorCoreKernel.cpp - 4-bit weight matmul on tensor cores ---===//
//
// For 16 or more activation rows: mma.sync m16n8k16 (f16 operands, f32 accumulation), the
// weights decoded to f16 in registers on the way in. A block of four warps computes a tile of 16
// rows by kTcChannelsPerBlock channels (include/qopt/Runtime/CudaQuantMatMul.h); each warp takes
// kTcTilesPerWarp tiles of 8 channels, and every A fragment it loads serves all of them. A block
// covering 8 channels, as the first version did, re-read the whole activation matrix for each 8
// channels: the L2 traffic of activations was 16 times the codes', which bound 16 rows to about
// half the speed of cuBLAS fp16. Where the grid has too few blocks for the GPU, K is split
// across gridDim.z and each block adds its sums into y (zeroed by the runtime) with atomics.
//
// From 64 rows the `_tc4` form computes four 16-row tiles a block: each step's codes are loaded
// and decoded into B fragments once and serve all four, where the 16-row form loads and decodes
// every code again for each 16 rows.
//
// Each lane (g = lane / 4, t = lane % 4) of a 64-code step loads 8 bytes of its channel's codes,
// codes 16t .. 16t + 15 of the step. Since a dot product does not depend on the order of k, the
// mma's k slots are assigned so that these codes need no shuffling: in k-step s of the four, the
// lane's slots 2t, 2t+1, 2t+8, 2t+9 take codes 16t + 4s + 0..3 (two bytes: b0 and b1 of the B
// fragment), and its A fragment takes activations 16t + 4s + 0..3 of rows g and g + 8 (one
// 16-byte load per row and step). A nibble becomes an f16 without conversion instructions:
// 0x6400 | code is the half 1024 + code, so subtracting 1024 + zero point is exact; the scale
// multiplies in f16.
//
#include "GpuKernelBuilder.h"

#include "qopt/Runtime/CudaQuantMatMul.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;

namespace qopt::gpu_kernels {

void storeMmaSums(KernelBuilder &k, const QuantMatMulParams &p, ArrayRef<Value> sums, Value m0,
                  Value n0, Value g, Value t, int64_t rowTiles, int64_t tiles) {
  OpBuilder &b = k.b;
  Location loc = k.loc;
  // Each lane writes its fragments: c0 (g, 2t), c1 (g, 2t + 1), c2 (g + 8, 2t), c3 (g + 8,
  // 2t + 1) of each tile; with K split over gridDim.z, added to y.
  Value splits = k.id<gpu::GridDimOp>(gpu::Dimension::z);
  Value alone = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, splits, k.i64c(1));
  for (int64_t tile = 0; tile < rowTiles * tiles; ++tile) {
    int64_t mt = tile / tiles, j = tile % tiles;
    for (int64_t i = 0; i < 4; ++i) {
      Value row = k.add(k.add(m0, k.i64c(16 * mt)), i < 2 ? g : k.add(g, k.i64c(8)));
      Value col = k.add(n0, k.add(k.i64c(8 * j), k.add(k.mul(t, k.i64c(2)), k.i64c(i % 2))));
      Value inside = arith::AndIOp::create(b, loc, k.ult(row, p.m), k.ult(col, p.n));
      auto write = scf::IfOp::create(b, loc, inside, false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&write.getThenRegion().front());
      Value sum = sums[4 * (mt * tiles + j) + i];
      Value at = k.add(k.mul(row, p.n), col);
      auto store = scf::IfOp::create(b, loc, alone, /*withElse=*/true);
      b.setInsertionPointToStart(&store.getThenRegion().front());
      k.store(sum, p.y, at);
      b.setInsertionPointToStart(&store.getElseRegion().front());
      LLVM::AtomicRMWOp::create(b, loc, LLVM::AtomicBinOp::fadd, k.gep(p.y, k.f32(), at), sum,
                                LLVM::AtomicOrdering::monotonic);
    }
  }
}

void buildQuant4TensorCoreKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name,
                                 ScaleKind scales, bool zeroPoints, int64_t rowTiles) {
  using namespace qopt::cuda;
  constexpr int64_t tiles = kTcTilesPerWarp;
  // 64-code steps each warp loads before computing; with several row tiles the registers go to
  // their sums instead, and each tile's activations are loaded just before its products.
  const int64_t kSteps = rowTiles == 1 ? 2 : 1;
  const bool activationsFirst = rowTiles == 1;
  Location loc = module.getLoc();
  MLIRContext *ctx = b.getContext();
  KernelBuilder k(b, loc);
  Type i64 = k.i64(), f16 = b.getF16Type(), f32 = k.f32();
  Type half2 = VectorType::get({2}, f16);
  Type quad = VectorType::get({4}, f32), words = VectorType::get({2}, k.i32());

  QuantMatMulParams params = createQuantMatMulKernel(b, module, name);
  Value x = params.x, codes = params.codes, scalePtr = params.scales, zeros = params.zeros,
        y = params.y, m = params.m, n = params.n, kdim = params.k, group = params.group;

  Value tid = k.threadId(), c32 = k.i64c(32), c4 = k.i64c(4);
  Value warp = k.divu(tid, c32), lane = k.remu(tid, c32);
  Value g = k.divu(lane, c4), t = k.remu(lane, c4);
  Value n0 = k.add(k.mul(k.blockId(), k.i64c(kTcChannelsPerBlock)), k.mul(warp, k.i64c(8 * tiles)));
  Value m0 = k.mul(k.blockId(gpu::Dimension::y), k.i64c(16 * rowTiles));
  // Loads past the matrices' ends read their last row or channel; those results are not written.
  Value rowBytes = k.divu(kdim, k.i64c(2));
  Value groups = k.divu(k.add(kdim, k.add(group, k.i64c(-1))), group);
  SmallVector<Value> codeRow, scaleRow;
  for (int64_t j = 0; j < tiles; ++j) {
    Value channel = k.minu(k.add(n0, k.add(k.i64c(8 * j), g)), k.add(n, k.i64c(-1)));
    codeRow.push_back(k.add(k.mul(channel, rowBytes), k.mul(t, k.i64c(8))));
    scaleRow.push_back(k.mul(channel, groups));
  }
  SmallVector<Value> rowA, rowB;
  for (int64_t mt = 0; mt < rowTiles; ++mt) {
    Value top = k.add(m0, k.add(k.i64c(16 * mt), g));
    rowA.push_back(k.mul(k.minu(top, k.add(m, k.i64c(-1))), kdim));
    rowB.push_back(k.mul(k.minu(k.add(top, k.i64c(8)), k.add(m, k.i64c(-1))), kdim));
  }
  Value steps = k.divu(kdim, k.i64c(kTcStepCodes));
  Value stepsPerGroup =
      arith::TruncIOp::create(b, loc, k.i32(), k.divu(group, k.i64c(kTcStepCodes)));
  // This block's share of K: split z of gridDim.z.
  Value splits = k.id<gpu::GridDimOp>(gpu::Dimension::z);
  Value perSplit = k.divu(k.add(steps, k.add(splits, k.i64c(-1))), splits);
  Value begin = k.mul(k.blockId(gpu::Dimension::z), perSplit);
  Value end = k.minu(k.add(begin, perSplit), steps);

  auto toHalf = [&](Value v) { return arith::TruncFOp::create(b, loc, f16, v).getResult(); };

  Value zero = k.f32c(0.0f);
  SmallVector<Value> init(4 * tiles * rowTiles, zero);
  auto loop = scf::ForOp::create(b, loc, begin, end, k.i64c(kSteps), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value first = loop.getInductionVar();
    SmallVector<Value> packed, scale, bias, xa, xb, kOffsets;
    // The activations of row tile `mt` for step u: four 16-byte loads for each of rows g, g + 8.
    auto loadActivations = [&](int64_t u, int64_t mt) {
      for (int64_t s = 0; s < 4; ++s) {
        xa.push_back(LLVM::LoadOp::create(b, loc, quad, k.gep(x, f32, k.add(rowA[mt], k.add(kOffsets[u], k.i64c(4 * s)))), 16));
        xb.push_back(LLVM::LoadOp::create(b, loc, quad, k.gep(x, f32, k.add(rowB[mt], k.add(kOffsets[u], k.i64c(4 * s)))), 16));
      }
    };
    for (int64_t u = 0; u < kSteps; ++u) {
      Value step = k.add(first, k.i64c(u));
      Value valid = k.ult(step, end);
      step = arith::SelectOp::create(b, loc, valid, step, first);
      Value groupOf = arith::ExtUIOp::create(
          b, loc, i64,
          arith::DivUIOp::create(b, loc, arith::TruncIOp::create(b, loc, k.i32(), step),
                                 stepsPerGroup));
      for (int64_t j = 0; j < tiles; ++j) {
        Value at = k.add(codeRow[j], k.mul(step, c32));
        packed.push_back(LLVM::LoadOp::create(b, loc, words, k.gep(codes, b.getI8Type(), at), 8));
        Value scaleIndex = k.add(scaleRow[j], groupOf);
        Value sc = scales == ScaleKind::F16 ? k.load(f16, scalePtr, scaleIndex)
                                            : toHalf(loadScale(k, scales, scalePtr, scaleIndex));
        // A step past this block's share counts with scale 0.
        sc = arith::SelectOp::create(b, loc, valid, sc, k.f16c(0));
        scale.push_back(k.half2Splat(sc));
        Value z = k.f16c(1032);
        if (zeroPoints) {
          Value code = k.load(b.getI8Type(), zeros, scaleIndex);
          z = arith::AddFOp::create(b, loc, arith::UIToFPOp::create(b, loc, f16, code),
                                    k.f16c(1024));
        }
        bias.push_back(k.half2Splat(z));
      }
      kOffsets.push_back(k.add(k.mul(step, k.i64c(kTcStepCodes)), k.mul(t, k.i64c(16))));
      if (activationsFirst)
        loadActivations(u, 0);
    }
    SmallVector<Value> acc(loop.getRegionIterArgs());
    auto pairOf = [&](Value v, int32_t first) {
      Value pair = LLVM::ShuffleVectorOp::create(b, loc, v, v, ArrayRef<int32_t>{first, first + 1});
      return arith::TruncFOp::create(b, loc, half2, pair).getResult();
    };
    Type result = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
    for (int64_t u = 0; u < kSteps; ++u) {
      // The step's B fragments, decoded once for every row tile: for k-step s, bytes 2s and
      // 2s + 1 of the lane's eight (codes 4s .. 4s + 3 of its sixteen).
      SmallVector<SmallVector<Value>> bFragments;
      for (int64_t s = 0; s < 4; ++s) {
        for (int64_t j = 0; j < tiles; ++j) {
          int64_t at = u * tiles + j;
          SmallVector<Value> bFragment;
          for (int64_t byte = 2 * s; byte < 2 * s + 2; ++byte) {
            Value word = LLVM::ExtractElementOp::create(b, loc, packed[at], k.i32c(static_cast<int32_t>(byte / 4)));
            Value v = arith::ShRUIOp::create(b, loc, word, k.i32c(static_cast<int32_t>(8 * (byte % 4))));
            Value lo = arith::AndIOp::create(b, loc, v, k.i32c(0xF));
            Value hi = arith::ShLIOp::create(b, loc, arith::AndIOp::create(b, loc, v, k.i32c(0xF0)), k.i32c(12));
            Value halves = arith::OrIOp::create(b, loc, arith::OrIOp::create(b, loc, lo, hi), k.i32c(0x64006400));
            Value h = LLVM::BitcastOp::create(b, loc, half2, halves);
            bFragment.push_back(arith::MulFOp::create(b, loc, arith::SubFOp::create(b, loc, h, bias[at]), scale[at]));
          }
          bFragments.push_back(bFragment);
        }
      }
      for (int64_t mt = 0; mt < rowTiles; ++mt) {
        int64_t first = activationsFirst ? 4 * u : 0;
        if (!activationsFirst) {
          xa.clear();
          xb.clear();
          loadActivations(u, mt);
        }
        for (int64_t s = 0; s < 4; ++s) {
          Value a0 = pairOf(xa[first + s], 0), a2 = pairOf(xa[first + s], 2);
          Value a1 = pairOf(xb[first + s], 0), a3 = pairOf(xb[first + s], 2);
          for (int64_t j = 0; j < tiles; ++j) {
            int64_t sum = 4 * (mt * tiles + j);
            SmallVector<Value> c(acc.begin() + sum, acc.begin() + sum + 4);
            auto mma = NVVM::MmaOp::create(
                b, loc, result, ValueRange{a0, a1, a2, a3}, bFragments[s * tiles + j], c,
                {16, 8, 16}, std::nullopt, std::nullopt,
                std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::f16, NVVM::MMATypes::f16},
                std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
            for (int64_t i = 0; i < 4; ++i)
              acc[sum + i] = LLVM::ExtractValueOp::create(b, loc, mma, ArrayRef<int64_t>{i});
          }
        }
      }
    }
    scf::YieldOp::create(b, loc, acc);
  }

  storeMmaSums(k, params, SmallVector<Value>(loop.getResults()), m0, n0, g, t, rowTiles, tiles);
}

} // namespace qopt::gpu_kernels
