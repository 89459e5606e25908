//===- GpuKernelBuilder.h - helpers for building gpu.func kernels -*- C++ -*-===//
//
// The GPU kernels take raw global pointers (!llvm.ptr<1>) and i64 sizes rather than memrefs, so
// that the runtime launches them with a flat parameter list (a pointer or a scalar per argument)
// and no descriptor layout is shared between the compiler and the runtime.
//
#ifndef QOPT_LIB_CONVERSION_QOPTTOGPU_GPUKERNELBUILDER_H
#define QOPT_LIB_CONVERSION_QOPTTOGPU_GPUKERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

namespace qopt::gpu_kernels {

/// Threads per block of the elementwise and row kernels.
constexpr int64_t kBlockThreads = 256;

/// Builds arithmetic, loads and stores inside one gpu.func.
struct KernelBuilder {
  mlir::OpBuilder &b;
  mlir::Location loc;

  KernelBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  mlir::Type i32() { return b.getI32Type(); }
  mlir::Type i64() { return b.getI64Type(); }
  mlir::Type f32() { return b.getF32Type(); }
  /// A pointer to global memory.
  mlir::Type ptr() { return mlir::LLVM::LLVMPointerType::get(b.getContext(), 1); }

  mlir::Value i64c(int64_t v) { return mlir::arith::ConstantIntOp::create(b, loc, v, 64); }
  mlir::Value i32c(int32_t v) { return mlir::arith::ConstantIntOp::create(b, loc, v, 32); }
  mlir::Value f32c(float v) {
    return mlir::arith::ConstantFloatOp::create(b, loc, b.getF32Type(), llvm::APFloat(v));
  }
  /// An f16 constant (`v` rounded to nearest).
  mlir::Value f16c(double v);
  /// The f16 pair (v, v): the operand form of the kernels' f16x2 arithmetic.
  mlir::Value half2Splat(mlir::Value v);
  /// `(word & mask) | 0x64006400` as an f16 pair: each half is 1024 plus the bits `mask` keeps
  /// of it (below 1024), the quantized kernels' decoding of packed codes without a conversion.
  mlir::Value maskedHalves(mlir::Value word, int32_t mask);
  /// scf.if `cond` yielding what `then` builds, poison of `types` otherwise (values a warp or
  /// block computes only where a uniform condition holds); returns its results.
  llvm::SmallVector<mlir::Value> ifOrPoison(mlir::TypeRange types, mlir::Value cond,
                                            llvm::function_ref<llvm::SmallVector<mlir::Value>()> then);

  /// A hardware index (thread or block id, block size) as i64.
  template <typename IdOp> mlir::Value id(mlir::gpu::Dimension d = mlir::gpu::Dimension::x) {
    mlir::Value v = IdOp::create(b, loc, d);
    return mlir::arith::IndexCastUIOp::create(b, loc, i64(), v);
  }
  mlir::Value threadId() { return id<mlir::gpu::ThreadIdOp>(); }
  mlir::Value blockId(mlir::gpu::Dimension d = mlir::gpu::Dimension::x) {
    return id<mlir::gpu::BlockIdOp>(d);
  }

  mlir::Value add(mlir::Value a, mlir::Value c) { return mlir::arith::AddIOp::create(b, loc, a, c); }
  mlir::Value sub(mlir::Value a, mlir::Value c) { return mlir::arith::SubIOp::create(b, loc, a, c); }
  mlir::Value mul(mlir::Value a, mlir::Value c) { return mlir::arith::MulIOp::create(b, loc, a, c); }
  mlir::Value divu(mlir::Value a, mlir::Value c) { return mlir::arith::DivUIOp::create(b, loc, a, c); }
  mlir::Value remu(mlir::Value a, mlir::Value c) { return mlir::arith::RemUIOp::create(b, loc, a, c); }
  mlir::Value minu(mlir::Value a, mlir::Value c) { return mlir::arith::MinUIOp::create(b, loc, a, c); }
  mlir::Value ult(mlir::Value a, mlir::Value c) {
    return mlir::arith::CmpIOp::create(b, loc, mlir::arith::CmpIPredicate::ult, a, c);
  }
  mlir::Value fadd(mlir::Value a, mlir::Value c) { return mlir::arith::AddFOp::create(b, loc, a, c); }
  mlir::Value fsub(mlir::Value a, mlir::Value c) { return mlir::arith::SubFOp::create(b, loc, a, c); }
  mlir::Value fmul(mlir::Value a, mlir::Value c) { return mlir::arith::MulFOp::create(b, loc, a, c); }
  mlir::Value fdiv(mlir::Value a, mlir::Value c) { return mlir::arith::DivFOp::create(b, loc, a, c); }
  mlir::Value fma(mlir::Value a, mlir::Value c, mlir::Value acc);
  /// The sum of `v` over the 32 lanes of a warp, in every lane (butterfly shuffles).
  mlir::Value warpSum(mlir::Value v);

  /// The address of element `index` of type `elem` from `base`.
  mlir::Value gep(mlir::Value base, mlir::Type elem, mlir::Value index) {
    return mlir::LLVM::GEPOp::create(b, loc, ptr(), elem, base, mlir::ValueRange{index});
  }
  mlir::Value load(mlir::Type t, mlir::Value base, mlir::Value index, unsigned align = 0) {
    return mlir::LLVM::LoadOp::create(b, loc, t, gep(base, t, index), align);
  }
  void store(mlir::Value v, mlir::Value base, mlir::Value index) {
    mlir::LLVM::StoreOp::create(b, loc, v, gep(base, v.getType(), index));
  }
};

/// Creates `gpu.func @name(params) kernel` at the end of `module` and returns it with the
/// builder's insertion point at the start of its body.
mlir::gpu::GPUFuncOp createKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                                  llvm::StringRef name, llvm::ArrayRef<mlir::Type> params);

/// Declares `<kernel>_shared`, an array of `count` floats in shared memory (address space 3), at
/// the start of `module`: a kernel's shared memory, addressed like global memory (no memref).
mlir::LLVM::GlobalOp declareSharedFloats(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                                         llvm::StringRef kernel, int64_t count);

/// Loads and stores of a shared array's floats inside its kernel.
struct SharedFloats {
  KernelBuilder &k;
  mlir::Value base; // !llvm.ptr<3>

  /// Takes the array's address at the builder's insertion point.
  SharedFloats(KernelBuilder &k, mlir::LLVM::GlobalOp array);
  mlir::Value at(mlir::Value index);
  mlir::Value load(mlir::Value index);
  void store(mlir::Value v, mlir::Value index);
};

/// Marks the pointer parameters of `func`: every one `noalias` (results are fresh buffers), the
/// first `inputs` also `readonly`, which lets NVPTX read them through the non-coherent cache.
void markPointers(mlir::gpu::GPUFuncOp func, unsigned inputs);

/// Builds `gpu.func @name` computing `op`'s fused elementwise body; see GenerateGpuKernels.
mlir::LogicalResult buildElementwiseKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                                           mlir::Operation *fused, llvm::StringRef name);
/// Builds the row kernel of a softmax, RMSNorm or LayerNorm over the last axis.
mlir::LogicalResult buildRowKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                                   mlir::Operation *op, llvm::StringRef name);

/// Builds the attention kernel `name` for query rows of `width` and value rows of `valueWidth`
/// (include/qopt/Runtime/CudaKernels.h).
void buildAttentionKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                          llvm::StringRef name, int64_t width, int64_t valueWidth);
/// Builds qopt_gpu_copy, the strided copy of 4-byte elements that runs data movement on the GPU.
void buildCopyKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module);

/// Builds `name` computing the f32 qopt.fused_matmul `op` (weights in panels, its epilogue
/// built in) for blocks of `rows` rows.
void buildFloatMatMulKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                            mlir::Operation *op, llvm::StringRef name, int64_t rows);

/// The scale storage of a quantized kernel.
enum class ScaleKind { F32, F16, BF16 };

/// The parameters every quantized matmul kernel takes, in order.
struct QuantMatMulParams {
  mlir::gpu::GPUFuncOp func;
  mlir::Value x, codes, scales, zeros, y, m, n, k, group;
};
/// Creates the kernel `name` with the quantized matmul's parameters (x, codes, scales, zero
/// points, y as pointers, then m, n, k and the group size), the four inputs readonly.
QuantMatMulParams createQuantMatMulKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                                          llvm::StringRef name);
/// Loads scale `index` stored as `kind`, as f32.
mlir::Value loadScale(KernelBuilder &k, ScaleKind kind, mlir::Value scales, mlir::Value index);
/// Where a warp of the CUDA-core quantized matmuls works: its lane, its first channel (of
/// kQ4ChannelsPerWarp) and its block's first row, and per channel the element offsets of its
/// code and scale rows, per row that of its activations. Channels past n and rows past m read
/// the last one; storeWarpSums writes only those inside.
struct WarpTile {
  mlir::Value lane, firstChannel, m0;
  llvm::SmallVector<mlir::Value> codeRow, scaleRow, xRow;
};
WarpTile warpTile(KernelBuilder &k, const QuantMatMulParams &p, int64_t rows);
/// Adds each of `sums` (row-major, rows by channels) over the warp, multiplies it by `factor`
/// and stores it from lane 0 where it lies inside y.
void storeWarpSums(KernelBuilder &k, const QuantMatMulParams &p, const WarpTile &tile,
                   llvm::ArrayRef<mlir::Value> sums, int64_t rows, float factor);

/// Builds the 4-bit quantized matmul `name` for blocks of `rows` activation rows.
void buildQuant4MatMulKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                             llvm::StringRef name, ScaleKind scales, bool zeroPoints,
                             int64_t rows);

/// Builds its f16-arithmetic form `name` (the `_h` kernels), for blocks of `rows` rows; K and
/// the group must be multiples of 16.
void buildQuant4HalfKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                           llvm::StringRef name, ScaleKind scales, bool zeroPoints,
                           int64_t rows);

/// Builds the staged tensor-core GEMM `name` (the `_g` kernels, QuantGemmKernel.cpp) of
/// `bits` (4 or 8) bit codes for blocks of 16 * `rowTiles` rows, with the loads of the next
/// `depth` steps in flight; K and the group must be multiples of 64.
void buildQuantGemmKernel(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp module,
                          llvm::StringRef name, ScaleKind scales, bool zeroPoints,
                          int64_t rowTiles, int64_t bits, int64_t depth);

} // namespace qopt::gpu_kernels

#endif // QOPT_LIB_CONVERSION_QOPTTOGPU_GPUKERNELBUILDER_H
