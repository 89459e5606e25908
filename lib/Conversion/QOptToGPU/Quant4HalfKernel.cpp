//===- Quant4HalfKernel.cpp - the 4-bit GPU matmul in f16 arithmetic ------===//
//
// y[m, n] = sum_k x[m, k] * scale[n, k / group] * (code[n, k] - zero[n, k / group])
//
// For 1 row (decoding) and blocks of 4 rows, where the f32 kernel (Quant4MatMulKernel.cpp)
// spent about three instructions a code: a logic operation and an FMA to decode it, an FMA to
// multiply it. Here a pair of codes costs one logic operation, one f16 FMA to decode and one f16
// FMA to multiply, and the activations come from shared memory already in f16 and in the order
// the decoding leaves the codes.
//
// Decoding (as in QuantGemmKernel.cpp): (w & 0x000F000F) | 0x64006400 is the f16 pair
// 1024 + code for codes 0 and 4 of a 32-bit word, (w & 0x00F000F0) | 0x64006400 is 1024 + 16 *
// code for codes 1 and 5, and w >> 8 gives codes 2, 6 and 3, 7 alike. One FMA (times 1/16 or
// 1/256, minus 64 + zero / 16 or 4 + zero / 16) leaves (code - zero) / 16, exact in f16. The
// 1/16 keeps the f16 sums far from overflow: each half of a lane's f16 sum adds 8 products, at
// most 7.5 |x|, so activations stay exact up to |x| of about 8700; the f32 sums are multiplied
// by 16 at the end.
//
// Each lane takes 8 bytes (two words, 16 codes) of each of its warp's kQ4ChannelsPerWarp
// channels at a time: pair-words lane, lane + 32, ... of a chunk of kHalfChunkCodes codes. The
// block first stages the chunk's activations in shared memory as f16 pairs: for each 16 codes,
// the pairs of the first word ((x0, x4), (x1, x5), (x2, x6), (x3, x7)) in one array and those of
// the second word in another, so that a lane's two 16-byte loads and a warp's 512 contiguous
// bytes meet no bank conflict. Codes and scales of a chunk are loaded before the staging, so that
// they are in flight across it. The product of each 16 codes is summed in f16, then scaled into
// f32 sums.
//
#include "GpuKernelBuilder.h"

#include "qopt/Runtime/CudaQuantMatMul.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;

namespace qopt::gpu_kernels {

void buildQuant4HalfKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name,
                           ScaleKind scales, bool zeroPoints, int64_t rows) {
  using namespace qopt::cuda;
  constexpr int64_t channels = kQ4ChannelsPerWarp;
  constexpr int64_t chunk = kHalfChunkCodes;
  // Pair-words (16 codes) a lane takes per channel and chunk.
  constexpr int64_t slots = chunk / 16 / 32;
  // Floats of shared memory per staged row: chunk halves, in two arrays.
  constexpr int64_t rowFloats = chunk / 2, arrayFloats = chunk / 4;
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  Type i32 = k.i32(), f16 = b.getF16Type(), f32 = k.f32();
  Type half2 = VectorType::get({2}, f16), quad = VectorType::get({4}, f32);
  Type words2 = VectorType::get({2}, i32), words4 = VectorType::get({4}, i32);
  LLVM::GlobalOp sharedArray = declareSharedFloats(b, module, name, rows * rowFloats);
  QuantMatMulParams params = createQuantMatMulKernel(b, module, name);
  Value x = params.x, codes = params.codes, scalePtr = params.scales, zeros = params.zeros,
        kdim = params.k, group = params.group;
  SharedFloats shared(k, sharedArray);

  WarpTile tile = warpTile(k, params, rows);
  Value tid = k.threadId(), lane = tile.lane;
  ArrayRef<Value> codeRow = tile.codeRow, scaleRow = tile.scaleRow, xRow = tile.xRow;
  Value pairWords = k.divu(kdim, k.i64c(16));
  Value lastPairWord = k.add(pairWords, k.i64c(-1));
  Value pairWordsPerGroup = arith::TruncIOp::create(b, loc, i32, k.divu(group, k.i64c(16)));
  Value one16th = k.half2Splat(k.f16c(1.0 / 16)), one256th = k.half2Splat(k.f16c(1.0 / 256));
  Value zeroPair = k.half2Splat(k.f16c(0.0));

  // Per slot and channel: the two code words, the scale and, with zero points, the two decoding
  // biases (minus 64 + zero / 16 for the even pairs, minus 4 + zero / 16 for the odd).
  const int64_t perChannel = zeroPoints ? 4 : 2;
  SmallVector<Type> loadedTypes;
  for (int64_t c = 0; c < channels; ++c) {
    loadedTypes.append({words2, f32});
    if (zeroPoints)
      loadedTypes.append({half2, half2});
  }
  auto biasesOf = [&](Value z) {
    Value zOver16 = arith::MulFOp::create(b, loc, z, k.f16c(1.0 / 16));
    return std::pair(
        k.half2Splat(arith::NegFOp::create(b, loc, arith::AddFOp::create(b, loc, zOver16, k.f16c(64.0)))),
        k.half2Splat(arith::NegFOp::create(b, loc, arith::AddFOp::create(b, loc, zOver16, k.f16c(4.0)))));
  };
  std::pair<Value, Value> symmetricBiases;
  if (!zeroPoints)
    symmetricBiases = biasesOf(k.f16c(8.0));

  // Each chunk's loads are issued at the start of its iteration, before the staging. (Issuing the
  // next chunk's there instead, software-pipelined, took 168 registers a thread for one row
  // against 128, and on an H100 one row ran 1.2-1.5x slower: fewer warps per multiprocessor
  // hid less of the memory's latency than the pipelining did.)
  SmallVector<Value> init(rows * channels, k.f32c(0.0f));
  auto loop = scf::ForOp::create(b, loc, k.i64c(0), kdim, k.i64c(chunk), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value chunkStart = loop.getInductionVar();
    Value firstPairWord = k.divu(chunkStart, k.i64c(16));
    // A slot holds pair-word lane + 32 * slot of the chunk; a slot past K for the whole warp is
    // skipped (its condition is uniform), a pair-word past K within one reads zero activations.
    SmallVector<Value> slotUsed;
    SmallVector<SmallVector<Value>> loaded;
    for (int64_t s = 0; s < slots; ++s) {
      Value slotFirst = k.add(firstPairWord, k.i64c(32 * s));
      slotUsed.push_back(k.ult(slotFirst, pairWords));
      loaded.push_back(k.ifOrPoison(loadedTypes, slotUsed.back(), [&] {
        Value pairWord = k.minu(k.add(slotFirst, lane), lastPairWord);
        Value groupOf = arith::ExtUIOp::create(
            b, loc, k.i64(),
            arith::DivUIOp::create(b, loc, arith::TruncIOp::create(b, loc, i32, pairWord),
                                   pairWordsPerGroup));
        SmallVector<Value> values;
        for (int64_t c = 0; c < channels; ++c) {
          Value at = k.add(codeRow[c], k.mul(pairWord, k.i64c(8)));
          values.push_back(
              LLVM::LoadOp::create(b, loc, words2, k.gep(codes, b.getI8Type(), at), 8));
          Value index = k.add(scaleRow[c], groupOf);
          values.push_back(loadScale(k, scales, scalePtr, index));
          if (zeroPoints) {
            auto [even, odd] = biasesOf(
                arith::UIToFPOp::create(b, loc, f16, k.load(b.getI8Type(), zeros, index)));
            values.append({even, odd});
          }
        }
        return values;
      }));
    }

    // Staging: thread `tid` converts 8-code units tid, tid + blockDim, ... of each row.
    Value blockThreads = k.i64c(32 * kQ4WarpsPerBlock);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < chunk / 8 / (32 * kQ4WarpsPerBlock); ++i) {
        Value unit = k.add(tid, k.mul(k.i64c(i), blockThreads));
        Value position = k.add(chunkStart, k.mul(unit, k.i64c(8)));
        Value inside = k.ult(position, kdim);
        Value from = k.add(xRow[r], arith::SelectOp::create(b, loc, inside, position, k.i64c(0)));
        Value lo = LLVM::LoadOp::create(b, loc, quad, k.gep(x, f32, from), 16);
        Value hi = LLVM::LoadOp::create(b, loc, quad, k.gep(x, f32, k.add(from, k.i64c(4))), 16);
        Value packed = LLVM::PoisonOp::create(b, loc, words4);
        for (int32_t p = 0; p < 4; ++p) {
          Value pair = LLVM::ShuffleVectorOp::create(b, loc, lo, hi, ArrayRef<int32_t>{p, p + 4});
          Value h = arith::TruncFOp::create(b, loc, half2, pair);
          h = arith::SelectOp::create(b, loc, inside, h, zeroPair);
          Value bits = LLVM::BitcastOp::create(b, loc, i32, h);
          packed = LLVM::InsertElementOp::create(b, loc, packed, bits, k.i32c(p));
        }
        // Even units (a pair-word's first word) in the first array, odd ones in the second.
        Value array = k.mul(k.remu(unit, k.i64c(2)), k.i64c(arrayFloats));
        Value at = k.add(k.i64c(r * rowFloats), k.add(array, k.mul(k.divu(unit, k.i64c(2)), k.i64c(4))));
        LLVM::StoreOp::create(b, loc, packed, shared.at(at), 16);
      }
    }
    gpu::BarrierOp::create(b, loc);

    SmallVector<Value> acc(loop.getRegionIterArgs());
    for (int64_t s = 0; s < slots; ++s) {
      auto used = scf::IfOp::create(b, loc, TypeRange(ValueRange(acc)), slotUsed[s],
                                    /*withElse=*/true);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(&used.getElseRegion().front());
      scf::YieldOp::create(b, loc, acc);
      b.setInsertionPointToStart(&used.getThenRegion().front());
      // The activations of the slot's pair-word: both arrays of each row, four pairs each.
      Value local = k.add(k.i64c(32 * s), lane);
      SmallVector<SmallVector<Value>> xPairs(rows);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t w = 0; w < 2; ++w) {
          Value at = k.add(k.i64c(r * rowFloats + w * arrayFloats), k.mul(local, k.i64c(4)));
          Value four = LLVM::LoadOp::create(b, loc, words4, shared.at(at), 16);
          for (int32_t p = 0; p < 4; ++p)
            xPairs[r].push_back(LLVM::BitcastOp::create(
                b, loc, half2, LLVM::ExtractElementOp::create(b, loc, four, k.i32c(p))));
        }
      }
      SmallVector<Value> next(acc);
      for (int64_t c = 0; c < channels; ++c) {
        Value packedWords = loaded[s][perChannel * c], scale = loaded[s][perChannel * c + 1];
        Value evenBias = zeroPoints ? loaded[s][perChannel * c + 2] : symmetricBiases.first;
        Value oddBias = zeroPoints ? loaded[s][perChannel * c + 3] : symmetricBiases.second;
        SmallVector<Value> q;
        for (int32_t w = 0; w < 2; ++w) {
          Value word = LLVM::ExtractElementOp::create(b, loc, packedWords, k.i32c(w));
          Value shifted = arith::ShRUIOp::create(b, loc, word, k.i32c(8));
          for (int64_t p = 0; p < 4; ++p) {
            Value h = k.maskedHalves(p < 2 ? word : shifted, p % 2 ? 0x00F000F0 : 0x000F000F);
            q.push_back(LLVM::FMAOp::create(b, loc, h, p % 2 ? one256th : one16th,
                                            p % 2 ? oddBias : evenBias));
          }
        }
        for (int64_t r = 0; r < rows; ++r) {
          Value sum = arith::MulFOp::create(b, loc, q[0], xPairs[r][0]);
          for (int64_t p = 1; p < 8; ++p)
            sum = LLVM::FMAOp::create(b, loc, q[p], xPairs[r][p], sum);
          Value halves[2];
          for (int32_t h = 0; h < 2; ++h)
            halves[h] = arith::ExtFOp::create(
                b, loc, f32, LLVM::ExtractElementOp::create(b, loc, sum, k.i32c(h)).getResult());
          Value &total = next[r * channels + c];
          total = k.fma(k.fadd(halves[0], halves[1]), scale, total);
        }
      }
      scf::YieldOp::create(b, loc, next);
      acc.assign(used.getResults().begin(), used.getResults().end());
    }
    // The next chunk's staging overwrites this one's activations.
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, acc);
  }

  // The f32 sums carry (code - zero) / 16.
  storeWarpSums(k, params, tile, SmallVector<Value>(loop.getResults()), rows, 16.0f);
}

} // namespace qopt::gpu_kernels
