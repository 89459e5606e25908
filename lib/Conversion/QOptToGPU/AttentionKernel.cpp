//===- AttentionKernel.cpp - attention over the KV cache on a GPU ---------===//
//
// out[b, h, s] = softmax(q[b, h, s] · k[b, h / groups]ᵀ * scale + mask[b, h, s]) · v[b, h / groups]
//
// One block per query row, kAttentionWarps warps (include/qopt/Runtime/CudaKernels.h). The
// query row is staged in shared memory; the warps take chunks of 32 keys in turn, lane l
// scoring key 32c + l against the whole row, so a chunk costs one pass over its keys and no
// shuffles per key. Each warp keeps a running maximum, the sum of exp(score - maximum) and the
// weighted values, rescaled when the maximum grows (online softmax), and lane l holds values
// l, l + 32, ... of the output row. The block merges its warps' parts through shared memory.
// Keys and values are read through strides, so a session's cache views and the key heads that
// grouped-query attention shares are read in place.
//
// Masked keys follow the CPU kernel: a mask value at or below -1e30 replaces the score (no
// product is computed); a row masked everywhere by -inf gives zeros.
//
#include "GpuKernelBuilder.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "qopt/Runtime/CudaKernels.h"

#include <limits>

using namespace mlir;
using namespace qopt::cuda;

namespace qopt::gpu_kernels {

namespace {
/// The kernel's parameters after the five pointers, in order (CudaKernels.h).
enum Param : unsigned {
  kQ, kK, kV, kMask, kOut,
  kHeads, kRows, kLength, kGroups, kScaleBits, kMasked,
  kQStride, kKStride = kQStride + 3, kVStride = kKStride + 3, kMaskStride = kVStride + 3,
  kNumParams = kMaskStride + 4
};

} // namespace

void buildAttentionKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name, int64_t width,
                          int64_t valueWidth) {
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  // Shared memory: the query row, then per warp its maximum, sum and output row.
  LLVM::GlobalOp sharedArray =
      declareSharedFloats(b, module, name, width + kAttentionWarps * (2 + valueWidth));
  SmallVector<Type> params(5, k.ptr());
  params.append(kNumParams - 5, k.i64());
  gpu::GPUFuncOp func = createKernel(b, module, name, params);
  markPointers(func, 4);
  Block &entry = func.getBody().front();
  auto arg = [&](unsigned i) -> Value { return entry.getArgument(i); };

  SharedFloats shared(k, sharedArray);
  auto select = [&](Value c, Value t, Value f) {
    return arith::SelectOp::create(b, loc, c, t, f).getResult();
  };
  auto fcmp = [&](arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y).getResult();
  };
  auto fmax = [&](Value x, Value y) { return arith::MaximumFOp::create(b, loc, x, y).getResult(); };
  auto exp = [&](Value x) { return math::ExpOp::create(b, loc, x).getResult(); };
  auto warpMax = [&](Value v) {
    for (int32_t offset = 16; offset >= 1; offset /= 2)
      v = fmax(v, gpu::ShuffleOp::create(b, loc, v, offset, 32, gpu::ShuffleMode::XOR)
                      .getShuffleResult());
    return v;
  };
  // Builds `body(i, iterArgs)` in a loop over [lo, hi) by `step`, returning the loop's results.
  auto loop = [&](Value lo, Value hi, Value step, ValueRange init,
                  function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(b, loc, lo, hi, step, init);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forOp.getBody());
    SmallVector<Value> next = body(forOp.getInductionVar(), forOp.getRegionIterArgs());
    // A loop without results comes with its terminator.
    if (!init.empty())
      scf::YieldOp::create(b, loc, next);
    return SmallVector<Value>(forOp.getResults());
  };
  auto ifThen = [&](Value cond, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    body();
  };
  // An f32 that is `then()` where `cond` holds, else `otherwise()`, each built in its branch.
  auto ifValue = [&](Value cond, function_ref<Value()> then, function_ref<Value()> otherwise) {
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{k.f32()}, cond, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    scf::YieldOp::create(b, loc, then());
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    scf::YieldOp::create(b, loc, otherwise());
    return ifOp.getResult(0);
  };

  const float lowest = -std::numeric_limits<float>::infinity();
  Value zero = k.i64c(0), one = k.i64c(1), warpSize = k.i64c(32);
  Value tid = k.threadId();
  Value lane = k.remu(tid, warpSize), warp = k.divu(tid, warpSize);
  Value row = k.blockId(), rows = arg(kRows), heads = arg(kHeads);
  Value s = k.remu(row, rows), bh = k.divu(row, rows);
  Value h = k.remu(bh, heads), batch = k.divu(bh, heads);
  Value kh = k.divu(h, arg(kGroups));
  Value qBase = k.add(k.add(k.mul(batch, arg(kQStride)), k.mul(h, arg(kQStride + 1))),
                      k.mul(s, arg(kQStride + 2)));
  Value kBase = k.add(k.mul(batch, arg(kKStride)), k.mul(kh, arg(kKStride + 1)));
  Value vBase = k.add(k.mul(batch, arg(kVStride)), k.mul(kh, arg(kVStride + 1)));
  Value mBase = k.add(k.add(k.mul(batch, arg(kMaskStride)), k.mul(h, arg(kMaskStride + 1))),
                      k.mul(s, arg(kMaskStride + 2)));
  Value scaleBits = arith::TruncIOp::create(b, loc, k.i32(), arg(kScaleBits));
  Value scale = arith::BitcastOp::create(b, loc, k.f32(), scaleBits);
  Value masked = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, arg(kMasked), zero);
  Value length = arg(kLength);

  // The query row into shared memory.
  Value threads = k.i64c(kAttentionThreads);
  loop(tid, k.i64c(width), threads, {}, [&](Value d, ValueRange) {
    shared.store(k.load(k.f32(), arg(kQ), k.add(qBase, d)), d);
    return SmallVector<Value>{};
  });
  gpu::BarrierOp::create(b, loc);

  const int64_t perLane = (valueWidth + 31) / 32;
  Value negInf = k.f32c(lowest), fzero = k.f32c(0.0f), fone = k.f32c(1.0f);
  Value chunks = k.divu(k.add(length, k.i64c(31)), warpSize);
  SmallVector<Value> init = {negInf, fzero};
  init.append(perLane, fzero);
  // Iteration state: running maximum, running sum, then this lane's output values.
  SmallVector<Value> state = loop(warp, chunks, k.i64c(kAttentionWarps), init,
                                  [&](Value c, ValueRange carried) {
    Value first = k.mul(c, warpSize);
    Value t = k.add(first, lane);
    Value score = ifValue(k.ult(t, length), [&] {
      Value m = ifValue(masked, [&] {
        return k.load(k.f32(), arg(kMask), k.add(mBase, k.mul(t, arg(kMaskStride + 3))));
      }, [&] { return fzero; });
      Value skip = arith::AndIOp::create(b, loc, masked,
                                         fcmp(arith::CmpFPredicate::OLE, m, k.f32c(-1e30f)));
      return ifValue(skip, [&] { return m; }, [&] {
        Value key = k.add(kBase, k.mul(t, arg(kKStride + 2)));
        Value dot = loop(zero, k.i64c(width), one, {fzero}, [&](Value d, ValueRange acc) {
          Value x = k.load(k.f32(), arg(kK), k.add(key, d));
          return SmallVector<Value>{k.fma(shared.load(d), x, acc[0])};
        })[0];
        return k.fadd(k.fmul(dot, scale), m);
      });
    }, [&] { return negInf; });
    Value runMax = carried[0], runSum = carried[1];
    Value newMax = fmax(runMax, warpMax(score));
    // exp(-inf) stays out of the polynomial: a maximum or score of -inf weighs 0.
    Value dead = fcmp(arith::CmpFPredicate::OEQ, newMax, negInf);
    Value wasDead = fcmp(arith::CmpFPredicate::OEQ, runMax, negInf);
    Value correction = select(wasDead, fzero, exp(k.fsub(runMax, select(dead, fzero, newMax))));
    correction = select(dead, fone, correction);
    Value scoreDead = fcmp(arith::CmpFPredicate::OEQ, score, negInf);
    Value p = select(arith::OrIOp::create(b, loc, dead, scoreDead), fzero,
                     exp(k.fsub(score, select(dead, fzero, newMax))));
    Value chunkSum = k.warpSum(p);
    SmallVector<Value> next = {newMax, k.fma(runSum, correction, chunkSum)};
    SmallVector<Value> acc;
    for (int64_t j = 0; j < perLane; ++j)
      acc.push_back(k.fmul(carried[2 + j], correction));
    // Values of the chunk's keys, weighted; a chunk that weighs nothing (masked) is skipped.
    auto weigh = scf::IfOp::create(b, loc, TypeRange(ValueRange(acc)),
                                   fcmp(arith::CmpFPredicate::ONE, chunkSum, fzero), true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&weigh.getThenRegion().front());
      Value count = k.minu(warpSize, k.sub(length, first));
      SmallVector<Value> sums = loop(zero, count, one, acc, [&](Value u, ValueRange partial) {
        Value uI32 = arith::TruncIOp::create(b, loc, k.i32(), u);
        Value pu = gpu::ShuffleOp::create(b, loc, p, uI32, k.i32c(32), gpu::ShuffleMode::IDX)
                       .getShuffleResult();
        Value value = k.add(vBase, k.mul(k.add(first, u), arg(kVStride + 2)));
        SmallVector<Value> out;
        for (int64_t j = 0; j < perLane; ++j) {
          Value d = k.add(lane, k.i64c(32 * j));
          if ((j + 1) * 32 <= valueWidth) {
            out.push_back(k.fma(pu, k.load(k.f32(), arg(kV), k.add(value, d)), partial[j]));
            continue;
          }
          out.push_back(ifValue(k.ult(d, k.i64c(valueWidth)), [&] {
            return k.fma(pu, k.load(k.f32(), arg(kV), k.add(value, d)), partial[j]);
          }, [&] { return partial[j]; }));
        }
        return out;
      });
      scf::YieldOp::create(b, loc, sums);
      b.setInsertionPointToStart(&weigh.getElseRegion().front());
      scf::YieldOp::create(b, loc, acc);
    }
    next.append(weigh.getResults().begin(), weigh.getResults().end());
    return next;
  });

  // Each warp's part into shared memory, then one output value per thread.
  Value stats = k.i64c(width), values = k.i64c(width + 2 * kAttentionWarps);
  ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, zero), [&] {
    shared.store(state[0], k.add(stats, warp));
    shared.store(state[1], k.add(stats, k.add(warp, k.i64c(kAttentionWarps))));
  });
  Value warpValues = k.add(values, k.mul(warp, k.i64c(valueWidth)));
  for (int64_t j = 0; j < perLane; ++j) {
    Value d = k.add(lane, k.i64c(32 * j));
    ifThen(k.ult(d, k.i64c(valueWidth)), [&] { shared.store(state[2 + j], k.add(warpValues, d)); });
  }
  gpu::BarrierOp::create(b, loc);
  Value outBase = k.mul(row, k.i64c(valueWidth));
  loop(tid, k.i64c(valueWidth), threads, {}, [&](Value d, ValueRange) {
    SmallVector<Value> maxima;
    Value best = negInf;
    for (int64_t w = 0; w < kAttentionWarps; ++w) {
      maxima.push_back(shared.load(k.add(stats, k.i64c(w))));
      best = fmax(best, maxima.back());
    }
    Value dead = fcmp(arith::CmpFPredicate::OEQ, best, negInf);
    Value num = fzero, den = fzero;
    for (int64_t w = 0; w < kAttentionWarps; ++w) {
      Value m = maxima[w];
      Value weight = select(fcmp(arith::CmpFPredicate::OEQ, m, negInf), fzero,
                            exp(k.fsub(m, select(dead, fzero, best))));
      den = k.fma(shared.load(k.add(stats, k.i64c(kAttentionWarps + w))), weight, den);
      num = k.fma(shared.load(k.add(values, k.add(k.i64c(w * valueWidth), d))), weight, num);
    }
    k.store(select(dead, fzero, k.fdiv(num, den)), arg(kOut), k.add(outBase, d));
    return SmallVector<Value>{};
  });
}

} // namespace qopt::gpu_kernels
