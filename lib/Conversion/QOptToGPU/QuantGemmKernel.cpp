//===- QuantGemmKernel.cpp - 4- and 8-bit weight GEMM on tensor cores -----===//
//
// y[m, n] = sum_k x[m, k] * scale[n, k / group] * (code[n, k] - zero[n, k / group]):
// mma.sync m16n8k16 (f16 operands, f32 sums) with the activations staged in shared memory as
// f16 and shared by the block's kGemmWarps warps. 4-bit weights take it from 16 rows (the `_h`
// kernels are faster below); 8-bit weights at every size.
//
// Why a block stages its activations: the first tensor-core kernel loaded each warp's A
// fragments from global memory as f32, so every 32 channels re-read all of the rows' activations;
// at 128 rows the L2 traffic of activations was eight times the codes' and bound the kernel to
// a quarter of cuBLAS fp16's speed. Here a block covers kGemmChannelsPerBlock channels and
// 16 * rowTiles rows; each 64-code step's activations are read once by the block, converted to
// f16 and stored in the order the mma fragments need them, double-buffered so that one barrier a
// step suffices. Every warp owns 32 channels of the block's and all its rows, so each code is
// loaded and decoded once per block and serves 16 * rowTiles rows.
//
// K order inside a step: lane (g = lane / 4, t = lane % 4) loads codes 16t .. 16t + 15 of its
// channel. With 4 bits (8 bytes, words w0 and w1), as in the f16 CUDA-core kernel, a logic
// operation gives the f16 pairs 1024 + (c0, c4) and 1024 + 16 (c1, c5) of a word and, after a
// shift by 8, (c2, c6) and (c3, c7); k-step s of the four takes pair s of w0 in its low k slots
// (2t, 2t + 1) and pair s of w1 in its high slots (2t + 8, 2t + 9). With 8 bits (16 bytes, words
// w0 .. w3), (w & 0x00FF00FF) | 0x64006400 is 1024 + (c0, c2) and the word shifted by 8 gives
// (c1, c3): k-step s takes those of word s. One FMA makes a pair code - zero, exact in f16, and
// a multiply scales it. A dot product does not depend on the order of k, so the staging writes
// each row's activations in that order: for row r and lane column t, per k-step, the f16 pairs
// of its low and its high slots, 32 bytes per t, which a lane reads with one 16-byte load per
// two k-steps. Rows are 128 + 16 bytes apart so that the eight lanes of each quarter-warp load
// from distinct banks.
//
#include "GpuKernelBuilder.h"

#include "qopt/Runtime/CudaQuantMatMul.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;

namespace qopt::gpu_kernels {

namespace {
/// The positions, among a lane's 16 codes of a step, that k-step s puts in its low and high
/// slot pairs.
struct SlotPairs {
  int32_t low[2], high[2];
};
SlotPairs slotPairs(int64_t bits, int32_t s) {
  if (bits == 4)
    return {{s, s + 4}, {8 + s, 12 + s}};
  return {{4 * s, 4 * s + 2}, {4 * s + 1, 4 * s + 3}};
}

/// Stores the mma.sync m16n8k16 sums of a warp's `rowTiles` by `tiles` tiles (16 rows by 8
/// channels each, 4 sums a tile per lane) whose first row is `m0` and first channel `n0`, for
/// lane (g, t); where the grid splits K (gridDim.z > 1), adds them to y atomically.
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
} // namespace

void buildQuantGemmKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name,
                          ScaleKind scales, bool zeroPoints, int64_t rowTiles, int64_t bits,
                          int64_t depth) {
  assert((bits == 4 || bits == 8) && "4- or 8-bit codes");
  using namespace qopt::cuda;
  constexpr int64_t tiles = kGemmTilesPerWarp;
  constexpr int64_t threads = 32 * kGemmWarps;
  const int64_t rows = 16 * rowTiles;
  // Bytes of one staged row (64 codes as f16, padded) and of one buffer.
  constexpr int64_t rowBytes = 2 * kGemmStepCodes + 16;
  const int64_t bufferBytes = rows * rowBytes;
  // Staging units: a row's 16 activations of one lane column t.
  const int64_t units = rows * 4;
  const int64_t unitsPerThread = (units + threads - 1) / threads;
  Location loc = module.getLoc();
  MLIRContext *ctx = b.getContext();
  KernelBuilder k(b, loc);
  Type i32 = k.i32(), f16 = b.getF16Type(), f32 = k.f32();
  Type half2 = VectorType::get({2}, f16), quad = VectorType::get({4}, f32);
  Type words4 = VectorType::get({4}, i32);
  // A lane's codes of one step: 16 codes, 8 or 16 bytes.
  const int64_t laneBytes = 2 * bits;
  Type laneWords = VectorType::get({laneBytes / 4}, i32);

  LLVM::GlobalOp sharedArray = declareSharedFloats(b, module, name, 2 * bufferBytes / 4);
  QuantMatMulParams params = createQuantMatMulKernel(b, module, name);
  Value x = params.x, codes = params.codes, scalePtr = params.scales, zeros = params.zeros,
        m = params.m, n = params.n, kdim = params.k, group = params.group;
  SharedFloats shared(k, sharedArray);

  Value tid = k.threadId(), c32 = k.i64c(32), c4 = k.i64c(4);
  Value warp = k.divu(tid, c32), lane = k.remu(tid, c32);
  Value g = k.divu(lane, c4), t = k.remu(lane, c4);
  Value n0 = k.add(k.mul(k.blockId(), k.i64c(kGemmChannelsPerBlock)), k.mul(warp, k.i64c(8 * tiles)));
  Value m0 = k.mul(k.blockId(gpu::Dimension::y), k.i64c(rows));
  Value lastRow = k.add(m, k.i64c(-1)), lastChannel = k.add(n, k.i64c(-1));
  // Loads past the matrices' ends read their last row or channel; those results are not written.
  Value codeBytes = k.divu(k.mul(kdim, k.i64c(bits)), k.i64c(8));
  Value groups = k.divu(k.add(kdim, k.add(group, k.i64c(-1))), group);
  SmallVector<Value> codeRow, scaleRow;
  for (int64_t j = 0; j < tiles; ++j) {
    Value channel = k.minu(k.add(n0, k.add(k.i64c(8 * j), g)), lastChannel);
    codeRow.push_back(k.add(k.mul(channel, codeBytes), k.mul(t, k.i64c(laneBytes))));
    scaleRow.push_back(k.mul(channel, groups));
  }
  // This thread's staging units: row (unit / 4) % rows, lane column unit % 4.
  SmallVector<Value> unitFrom, unitTo, unitUsed;
  for (int64_t i = 0; i < unitsPerThread; ++i) {
    Value unit = k.add(tid, k.i64c(i * threads));
    Value row = k.divu(unit, c4), column = k.remu(unit, c4);
    unitUsed.push_back(k.ult(unit, k.i64c(units)));
    Value source = k.minu(k.add(m0, k.minu(row, k.i64c(rows - 1))), lastRow);
    unitFrom.push_back(k.add(k.mul(source, kdim), k.mul(column, k.i64c(16))));
    unitTo.push_back(k.add(k.mul(row, k.i64c(rowBytes)), k.mul(column, k.i64c(32))));
  }

  Value steps = k.divu(kdim, k.i64c(kGemmStepCodes));
  Value stepsPerGroup = arith::TruncIOp::create(b, loc, i32, k.divu(group, k.i64c(kGemmStepCodes)));
  // This block's share of K: split z of gridDim.z.
  Value splits = k.id<gpu::GridDimOp>(gpu::Dimension::z);
  Value perSplit = k.divu(k.add(steps, k.add(splits, k.i64c(-1))), splits);
  Value begin = k.mul(k.blockId(gpu::Dimension::z), perSplit);
  Value end = k.minu(k.add(begin, perSplit), steps);

  // What a step loads into registers before it is staged or used: per unit four quads of
  // activations, per tile the codes, the scale and, with zero points, the two decoding biases
  // (symmetric codes have constant ones, built where they are used).
  const int64_t perTile = zeroPoints ? 4 : 2;
  SmallVector<Type> loadedTypes;
  for (int64_t i = 0; i < unitsPerThread; ++i)
    loadedTypes.append(4, quad);
  for (int64_t j = 0; j < tiles; ++j) {
    loadedTypes.append({laneWords, half2});
    if (zeroPoints)
      loadedTypes.append({half2, half2});
  }
  auto biasesOf = [&](Value z) {
    // Minus 1024 + zero for the pairs of codes in place, minus 64 + zero for the pairs of
    // 4-bit codes times 16.
    return std::pair(k.half2Splat(arith::NegFOp::create(b, loc, arith::AddFOp::create(b, loc, z, k.f16c(1024)))),
                     k.half2Splat(arith::NegFOp::create(b, loc, arith::AddFOp::create(b, loc, z, k.f16c(64)))));
  };
  auto loadStep = [&](Value step) {
    SmallVector<Value> values;
    Value stepCodes = k.mul(step, k.i64c(kGemmStepCodes));
    for (int64_t i = 0; i < unitsPerThread; ++i) {
      // Threads past the block's units (whole warps) load nothing.
      llvm::append_range(values, k.ifOrPoison(SmallVector<Type>(4, quad), unitUsed[i], [&] {
        SmallVector<Value> quads;
        for (int64_t q = 0; q < 4; ++q)
          quads.push_back(LLVM::LoadOp::create(
              b, loc, quad, k.gep(x, f32, k.add(unitFrom[i], k.add(stepCodes, k.i64c(4 * q)))),
              16));
        return quads;
      }));
    }
    Value groupOf = arith::ExtUIOp::create(
        b, loc, k.i64(),
        arith::DivUIOp::create(b, loc, arith::TruncIOp::create(b, loc, i32, step), stepsPerGroup));
    for (int64_t j = 0; j < tiles; ++j) {
      Value at = k.add(codeRow[j], k.mul(step, k.i64c(8 * bits)));
      values.push_back(
          LLVM::LoadOp::create(b, loc, laneWords, k.gep(codes, b.getI8Type(), at), laneBytes));
      Value index = k.add(scaleRow[j], groupOf);
      Value sc = scales == ScaleKind::F16
                     ? k.load(f16, scalePtr, index)
                     : arith::TruncFOp::create(b, loc, f16, loadScale(k, scales, scalePtr, index)).getResult();
      values.push_back(k.half2Splat(sc));
      if (zeroPoints) {
        auto [low, high] = biasesOf(
            arith::UIToFPOp::create(b, loc, f16, k.load(b.getI8Type(), zeros, index)));
        values.append({low, high});
      }
    }
    return values;
  };
  // The loads of `step` where it is before `end` (uniform over the block), poison otherwise.
  auto loadStepIf = [&](Value step) {
    return k.ifOrPoison(loadedTypes, k.ult(step, end), [&] { return loadStep(step); });
  };

  const int64_t accumulators = 4 * tiles * rowTiles;
  SmallVector<Value> init(accumulators, k.f32c(0.0f));
  init.push_back(k.i64c(0)); // the buffer this step stages into, in bytes
  // The loads of the next `depth` steps are in flight at the start of each.
  for (int64_t d = 0; d < depth; ++d)
    llvm::append_range(init, loadStepIf(k.add(begin, k.i64c(d))));
  const int64_t loadedCount = static_cast<int64_t>(loadedTypes.size());
  auto loop = scf::ForOp::create(b, loc, begin, end, k.i64c(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value step = loop.getInductionVar();
    auto args = loop.getRegionIterArgs();
    SmallVector<Value> acc(args.begin(), args.begin() + accumulators);
    Value buffer = args[accumulators];
    SmallVector<Value> loaded(args.begin() + accumulators + 1,
                              args.begin() + accumulators + 1 + loadedCount);
    SmallVector<Value> later(args.begin() + accumulators + 1 + loadedCount, args.end());

    // Stage: a unit's 16 floats become, per k-step, the pairs of its low and high slots, two
    // k-steps per 16-byte store.
    for (int64_t i = 0; i < unitsPerThread; ++i) {
      auto used = scf::IfOp::create(b, loc, unitUsed[i], /*withElse=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(&used.getThenRegion().front());
      ArrayRef<Value> v(loaded.begin() + 4 * i, 4);
      for (int64_t half = 0; half < 2; ++half) {
        Value packed = LLVM::PoisonOp::create(b, loc, words4);
        for (int32_t s2 = 0; s2 < 2; ++s2) {
          int32_t s = static_cast<int32_t>(2 * half) + s2;
          SlotPairs slots = slotPairs(bits, s);
          for (int32_t p = 0; p < 2; ++p) {
            const int32_t *at = p ? slots.high : slots.low;
            Value pair = LLVM::ShuffleVectorOp::create(b, loc, v[at[0] / 4], v[at[1] / 4],
                                                       ArrayRef<int32_t>{at[0] % 4, 4 + at[1] % 4});
            Value bits = LLVM::BitcastOp::create(b, loc, i32, arith::TruncFOp::create(b, loc, half2, pair));
            packed = LLVM::InsertElementOp::create(b, loc, packed, bits, k.i32c(2 * s2 + p));
          }
        }
        Value at = k.add(buffer, k.add(unitTo[i], k.i64c(16 * half)));
        LLVM::StoreOp::create(b, loc, packed, shared.at(k.divu(at, c4)), 16);
      }
    }
    gpu::BarrierOp::create(b, loc);
    SmallVector<Value> next = loadStepIf(k.add(step, k.i64c(depth)));

    // B fragments: per tile and k-step, the low slots' pair and the high slots'.
    const int64_t codeValues = 4 * unitsPerThread;
    Value one = k.half2Splat(k.f16c(1.0)), one16th = k.half2Splat(k.f16c(1.0 / 16));
    SmallVector<SmallVector<Value>> bFragments(4 * tiles);
    std::pair<Value, Value> symmetricBiases;
    if (!zeroPoints)
      symmetricBiases = biasesOf(k.f16c(bits == 4 ? 8 : 128));
    for (int64_t j = 0; j < tiles; ++j) {
      ArrayRef<Value> tile(loaded.begin() + codeValues + perTile * j, perTile);
      Value packedWords = tile[0], scale = tile[1];
      Value lowBias = zeroPoints ? tile[2] : symmetricBiases.first;
      Value highBias = zeroPoints ? tile[3] : symmetricBiases.second;
      auto decode = [&](Value word, int32_t mask, bool times16) -> Value {
        Value centered = LLVM::FMAOp::create(b, loc, k.maskedHalves(word, mask),
                                             times16 ? one16th : one,
                                             times16 ? highBias : lowBias);
        return arith::MulFOp::create(b, loc, centered, scale);
      };
      for (int32_t w = 0; w < laneBytes / 4; ++w) {
        Value word = LLVM::ExtractElementOp::create(b, loc, packedWords, k.i32c(w));
        Value shifted = arith::ShRUIOp::create(b, loc, word, k.i32c(8));
        if (bits == 8) {
          bFragments[w * tiles + j] = {decode(word, 0x00FF00FF, false),
                                       decode(shifted, 0x00FF00FF, false)};
          continue;
        }
        for (int64_t s = 0; s < 4; ++s) {
          bool times16 = s % 2;
          bFragments[s * tiles + j].push_back(
              decode(s < 2 ? word : shifted, times16 ? 0x00F000F0 : 0x000F000F, times16));
        }
      }
    }
    Type result = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
    auto pairAt = [&](Value four, int32_t i) -> Value {
      return LLVM::BitcastOp::create(b, loc, half2, LLVM::ExtractElementOp::create(b, loc, four, k.i32c(i)));
    };
    for (int64_t mt = 0; mt < rowTiles; ++mt) {
      Value top = k.add(buffer, k.add(k.mul(k.add(g, k.i64c(16 * mt)), k.i64c(rowBytes)),
                                      k.mul(t, k.i64c(32))));
      for (int64_t half = 0; half < 2; ++half) {
        Value atTop = k.add(top, k.i64c(16 * half));
        Value va = LLVM::LoadOp::create(b, loc, words4, shared.at(k.divu(atTop, c4)), 16);
        Value vb = LLVM::LoadOp::create(
            b, loc, words4, shared.at(k.divu(k.add(atTop, k.i64c(8 * rowBytes)), c4)), 16);
        for (int32_t s2 = 0; s2 < 2; ++s2) {
          int64_t s = 2 * half + s2;
          SmallVector<Value> a{pairAt(va, 2 * s2), pairAt(vb, 2 * s2), pairAt(va, 2 * s2 + 1),
                               pairAt(vb, 2 * s2 + 1)};
          for (int64_t j = 0; j < tiles; ++j) {
            int64_t sum = 4 * (mt * tiles + j);
            SmallVector<Value> c(acc.begin() + sum, acc.begin() + sum + 4);
            auto mma = NVVM::MmaOp::create(
                b, loc, result, a, bFragments[s * tiles + j], c, {16, 8, 16}, std::nullopt,
                std::nullopt,
                std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::f16, NVVM::MMATypes::f16},
                std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
            for (int64_t i = 0; i < 4; ++i)
              acc[sum + i] = LLVM::ExtractValueOp::create(b, loc, mma, ArrayRef<int64_t>{i});
          }
        }
      }
    }
    SmallVector<Value> yielded(acc);
    yielded.push_back(k.sub(k.i64c(bufferBytes), buffer));
    llvm::append_range(yielded, later);
    llvm::append_range(yielded, next);
    scf::YieldOp::create(b, loc, yielded);
  }

  storeMmaSums(k, params, SmallVector<Value>(loop.getResults().take_front(accumulators)), m0, n0,
               g, t, rowTiles, tiles);
}

} // namespace qopt::gpu_kernels
