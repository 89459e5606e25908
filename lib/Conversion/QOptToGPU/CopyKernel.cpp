//===- CopyKernel.cpp - strided copies on a GPU ---------------------------===//
//
// One kernel serves every data-movement op the GPU runs (transpose, slice, concat, split,
// expand) and the KV-cache append: the runtime computes each op's source and destination
// strides, as it does for the CPU's copies, and merges them into at most four dims
// (include/qopt/Runtime/CudaKernels.h). Elements move as 32-bit words; the runtime splits
// 8-byte elements into two.
//
#include "GpuKernelBuilder.h"

#include "qopt/Runtime/CudaKernels.h"

using namespace mlir;

namespace qopt::gpu_kernels {

// Parameters: (dst, src, total, d1, d2, d3, ds0..ds3, ss0..ss3).
void buildCopyKernel(OpBuilder &b, gpu::GPUModuleOp module) {
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  SmallVector<Type> params = {k.ptr(), k.ptr()};
  params.append(12, k.i64());
  gpu::GPUFuncOp func = createKernel(b, module, qopt::cuda::kCopyKernel, params);
  markPointers(func, 0);
  func.setArgAttr(1, LLVM::LLVMDialect::getReadonlyAttrName(), b.getUnitAttr());
  Block &entry = func.getBody().front();
  auto arg = [&](unsigned i) -> Value { return entry.getArgument(i); };
  Value index = k.add(k.mul(k.blockId(), k.i64c(qopt::cuda::kCopyThreads)), k.threadId());
  auto inRange = scf::IfOp::create(b, loc, k.ult(index, arg(2)), false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  Value pos[4], rest = index;
  for (int d = 3; d >= 1; --d) {
    pos[d] = k.remu(rest, arg(2 + d));
    rest = k.divu(rest, arg(2 + d));
  }
  pos[0] = rest;
  Value dst = k.i64c(0), src = k.i64c(0);
  for (int d = 0; d < 4; ++d) {
    dst = k.add(dst, k.mul(pos[d], arg(6 + d)));
    src = k.add(src, k.mul(pos[d], arg(10 + d)));
  }
  k.store(k.load(k.i32(), arg(1), src), arg(0), dst);
  b.setInsertionPointAfter(inRange);
}

} // namespace qopt::gpu_kernels
