//===- FloatMatMulKernel.cpp - f32 products by panel-packed weights on a GPU ===//
//
// qopt.fused_matmul multiplies rows by a constant f32 weight stored for the CPU kernels in
// panels, [P, K, panel]: a panel's K x panel floats are contiguous. A block of kFloatMatMulThreads
// threads computes one panel for `rows` activation rows and streams the panel once: at step i,
// thread t reads float i * threads + t of the panel, so the block's loads are contiguous, and
// that float always belongs to output column t % panel (threads is a multiple of the panel). The
// threads of a column then add their parts through shared memory and apply the epilogue (the
// op's body: bias, activation, residual) before the store. Unquantized layers (the output head
// of a quantized model, every layer of an fp32 one) run here instead of on the CPU.
//
#include "GpuKernelBuilder.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/IR/IRMapping.h"
#include "qopt/Runtime/CudaKernels.h"

using namespace mlir;
namespace Q = qopt::QOpt;

namespace qopt::gpu_kernels {

// Parameters: (x, w, y, epilogue inputs..., m, k, n, then per epilogue input its row stride: 0
// for one row shared by all, n for a row per output row).
void buildFloatMatMulKernel(OpBuilder &b, gpu::GPUModuleOp module, Operation *op,
                            StringRef name, int64_t rows) {
  auto fused = cast<Q::FusedMatMulOp>(op);
  Block &body = fused.getBody().front();
  unsigned epilogue = body.getNumArguments() - 1;
  int64_t panel = static_cast<int64_t>(fused.getPanel());
  const int64_t threads = qopt::cuda::kFloatMatMulThreads;
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  LLVM::GlobalOp sharedArray = declareSharedFloats(b, module, name, rows * threads);
  SmallVector<Type> params(3 + epilogue, k.ptr());
  params.append(3 + epilogue, k.i64());
  gpu::GPUFuncOp func = createKernel(b, module, name, params);
  markPointers(func, 2);
  for (unsigned e = 0; e < epilogue; ++e)
    func.setArgAttr(3 + e, LLVM::LLVMDialect::getReadonlyAttrName(), b.getUnitAttr());
  Block &entry = func.getBody().front();
  Value x = entry.getArgument(0), w = entry.getArgument(1), y = entry.getArgument(2);
  Value m = entry.getArgument(3 + epilogue), kDim = entry.getArgument(4 + epilogue),
        n = entry.getArgument(5 + epilogue);

  SharedFloats shared(k, sharedArray);

  Value tid = k.threadId(), p = k.blockId(), firstRow = k.mul(k.blockId(gpu::Dimension::y),
                                                               k.i64c(rows));
  Value column = k.remu(tid, k.i64c(panel)), slice = k.divu(tid, k.i64c(panel));
  Value slices = k.i64c(threads / panel);
  Value panelBase = k.mul(p, k.mul(kDim, k.i64c(panel)));
  // Rows past the last are computed on the last one (loads stay in bounds) and not stored.
  Value lastRow = k.sub(m, k.i64c(1));
  SmallVector<Value> rowBase;
  for (int64_t r = 0; r < rows; ++r)
    rowBase.push_back(k.mul(k.minu(k.add(firstRow, k.i64c(r)), lastRow), kDim));
  SmallVector<Value> init(rows, k.f32c(0.0f));
  auto loop = scf::ForOp::create(b, loc, slice, kDim, slices, init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kk = loop.getInductionVar();
    Value weight = k.load(k.f32(), w, k.add(panelBase, k.add(k.mul(kk, k.i64c(panel)), column)));
    SmallVector<Value> next;
    for (int64_t r = 0; r < rows; ++r)
      next.push_back(k.fma(k.load(k.f32(), x, k.add(rowBase[r], kk)), weight,
                           loop.getRegionIterArgs()[r]));
    scf::YieldOp::create(b, loc, next);
  }
  for (int64_t r = 0; r < rows; ++r)
    shared.store(loop.getResult(r), k.add(k.i64c(r * threads), tid));
  gpu::BarrierOp::create(b, loc);
  // Thread t < rows * panel finishes column t % panel of row t / panel.
  auto finish = scf::ForOp::create(b, loc, tid, k.i64c(rows * panel), k.i64c(threads));
  b.setInsertionPointToStart(finish.getBody());
  Value idx = finish.getInductionVar();
  Value r = k.divu(idx, k.i64c(panel)), col = k.remu(idx, k.i64c(panel));
  Value sum = k.f32c(0.0f);
  for (int64_t s = 0; s < threads / panel; ++s)
    sum = k.fadd(sum, shared.load(k.add(k.mul(r, k.i64c(threads)), k.add(k.i64c(s * panel), col))));
  Value row = k.add(firstRow, r), channel = k.add(k.mul(p, k.i64c(panel)), col);
  Value inside = arith::AndIOp::create(b, loc, k.ult(row, m), k.ult(channel, n));
  auto store = scf::IfOp::create(b, loc, inside, false);
  b.setInsertionPointToStart(&store.getThenRegion().front());
  IRMapping mapping;
  mapping.map(body.getArgument(0), sum);
  for (unsigned e = 0; e < epilogue; ++e) {
    Value stride = entry.getArgument(6 + epilogue + e);
    Value at = k.add(k.mul(row, stride), channel);
    mapping.map(body.getArgument(1 + e), k.load(k.f32(), entry.getArgument(3 + e), at));
  }
  for (Operation &inner : body.without_terminator())
    b.clone(inner, mapping);
  k.store(mapping.lookup(body.getTerminator()->getOperand(0)), y, k.add(k.mul(row, n), channel));
  b.setInsertionPointAfter(finish);
}

} // namespace qopt::gpu_kernels
