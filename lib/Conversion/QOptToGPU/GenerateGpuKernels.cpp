//===- GenerateGpuKernels.cpp - gpu.func kernels for the ops a GPU runs ---===//
//
// Marks each op of @main that has a GPU form with `qopt.gpu_kernel` and builds that kernel in
// gpu.module @qopt_gpu. Ops left unmarked run on the CPU in a CUDA library.
//
#include "qopt/Conversion/Passes.h"

#include "GpuKernelBuilder.h"
#include "dialects/QOpt/IR/QOptOps.h"
#include "qopt/Runtime/CudaKernels.h"
#include "qopt/Runtime/CudaQuantMatMul.h"
#include "llvm/ADT/StringSet.h"

namespace qopt {
#define GEN_PASS_DEF_GENERATEGPUKERNELSPASS
#include "qopt/Conversion/Passes.h.inc"
} // namespace qopt

using namespace mlir;
using namespace qopt::gpu_kernels;
namespace Q = qopt::QOpt;

namespace {
bool isF32Tensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isF32();
}

/// A per-column operand of a row kernel: f32 [width] (or absent), width being the last dim.
bool isRowVector(Value v, int64_t width) {
  if (!v)
    return true;
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isF32() && t.getRank() == 1 &&
         (t.getDimSize(0) == width || ShapedType::isDynamic(width));
}

/// Whether `op` normalizes or takes the softmax of f32 rows of its last dim.
bool hasRowKernel(Operation *op) {
  if (!isF32Tensor(op->getOperand(0)))
    return false;
  auto type = cast<RankedTensorType>(op->getOperand(0).getType());
  int64_t rank = type.getRank(), width = rank ? type.getDimSize(rank - 1) : 1;
  if (rank == 0)
    return false;
  if (auto s = dyn_cast<Q::SoftmaxOp>(op))
    return static_cast<int64_t>(s.getAxis()) == -1 || static_cast<int64_t>(s.getAxis()) == rank - 1;
  if (auto r = dyn_cast<Q::RMSNormOp>(op))
    return isRowVector(r.getScale(), width);
  if (auto l = dyn_cast<Q::LayerNormOp>(op))
    return (static_cast<int64_t>(l.getAxis()) == -1 ||
            static_cast<int64_t>(l.getAxis()) == rank - 1) && isRowVector(l.getScale(), width) &&
           isRowVector(l.getBias(), width);
  return false;
}

/// Whether every result of `op` is an f32 tensor: the GPU moves activations; integer and mask
/// chains stay on the CPU, beside the ops that read them.
bool allF32Results(Operation *op) {
  return op->getNumResults() > 0 &&
         llvm::all_of(op->getResults(), [](Value r) { return isF32Tensor(r); });
}

/// The query's and value's row widths the attention kernel for `op` is built for, or none where
/// they are not static or are wider than the kernel takes.
std::optional<std::pair<int64_t, int64_t>> attentionWidths(Q::AttentionOp op) {
  auto q = cast<RankedTensorType>(op.getQuery().getType());
  auto v = cast<RankedTensorType>(op.getValue().getType());
  if (q.getRank() != 4 || v.getRank() != 4)
    return std::nullopt;
  int64_t width = q.getDimSize(3), valueWidth = v.getDimSize(3);
  auto fits = [](int64_t w) {
    return !ShapedType::isDynamic(w) && w > 0 && w <= qopt::cuda::kAttentionMaxWidth;
  };
  if (!fits(width) || !fits(valueWidth))
    return std::nullopt;
  return std::make_pair(width, valueWidth);
}

/// The kernel family of a quantized matmul the 4-bit GPU kernel computes, or "".
std::string quantKernelFamily(Q::QuantizedMatMulOp q) {
  Q::SchemeAttr s = q.getScheme();
  int64_t k = q.getInFeatures(), group = s.getGroupSize() ? s.getGroupSize() : k;
  if (static_cast<int64_t>(s.getCodebook()) != 0 || s.getDoubleQuantBlock() ||
      q.getInt8Activations() || q.getBf16Activations() || k % 32 || group % 32 || !isF32Tensor(q.getInput()))
    return "";
  // 8-bit codes have only the tensor-core GEMM, which steps through K 64 codes at a time.
  if (s.getBits() != 4 &&
      (s.getBits() != 8 || k % qopt::cuda::kGemmStepCodes || group % qopt::cuda::kGemmStepCodes))
    return "";
  Type st = cast<RankedTensorType>(q.getScales().getType()).getElementType();
  const char *scales = st.isF16() ? "f16" : st.isBF16() ? "bf16" : st.isF32() ? "f32" : nullptr;
  if (!scales || s.getSymmetric() == static_cast<bool>(q.getZeroPoints()))
    return "";
  return "qopt_gpu_q" + std::to_string(s.getBits()) + "_" + scales +
         (s.getSymmetric() ? "_sym" : "_zp");
}

struct GenerateGpuKernelsPass
    : public qopt::impl::GenerateGpuKernelsPassBase<GenerateGpuKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main)
      return;
    OpBuilder b(module.getContext());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), b.getUnitAttr());
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), "qopt_gpu");
    unsigned counter = 0;
    llvm::StringSet<> families;
    WalkResult result = main.walk([&](Operation *op) -> WalkResult {
      std::string name;
      // Integer and mask chains are shape and position arithmetic, which the CPU computes
      // where the ops reading it run.
      if (isa<Q::FusedElementwiseOp>(op) && isF32Tensor(op->getResult(0))) {
        name = "qopt_gpu_ew_" + std::to_string(counter++);
        if (failed(buildElementwiseKernel(b, gpuModule, op, name)))
          return WalkResult::interrupt();
        ++numGpuKernels;
      } else if (isa<Q::SoftmaxOp, Q::RMSNormOp, Q::LayerNormOp>(op) && hasRowKernel(op)) {
        name = "qopt_gpu_row_" + std::to_string(counter++);
        if (failed(buildRowKernel(b, gpuModule, op, name)))
          return WalkResult::interrupt();
        ++numGpuKernels;
      } else if (isa<Q::TransposeOp, Q::SliceOp, Q::ConcatOp, Q::SplitOp, Q::ExpandOp,
                     Q::KVAppendOp>(op) && allF32Results(op)) {
        // One strided copy serves them all; the runtime computes each op's strides.
        name = qopt::cuda::kCopyKernel;
        if (families.insert(name).second) {
          buildCopyKernel(b, gpuModule);
          ++numGpuKernels;
        }
      } else if (auto mm = dyn_cast<Q::FusedMatMulOp>(op)) {
        // The block's threads must split evenly into the panel's columns.
        int64_t panel = static_cast<int64_t>(mm.getPanel());
        if (!isF32Tensor(mm.getInput()) || panel <= 0 ||
            qopt::cuda::kFloatMatMulThreads % panel != 0)
          return WalkResult::advance();
        name = "qopt_gpu_mm_" + std::to_string(counter++);
        for (int v = 0; v < 2; ++v)
          buildFloatMatMulKernel(b, gpuModule, op, name + qopt::cuda::kFloatMatMulSuffix[v],
                                 qopt::cuda::kFloatMatMulRows[v]);
        numGpuKernels += 2;
      } else if (auto attention = dyn_cast<Q::AttentionOp>(op)) {
        auto widths = attentionWidths(attention);
        if (!widths)
          return WalkResult::advance();
        name = "qopt_gpu_attention_" + std::to_string(widths->first) + "_" +
               std::to_string(widths->second);
        if (families.insert(name).second) {
          buildAttentionKernel(b, gpuModule, name, widths->first, widths->second);
          ++numGpuKernels;
        }
      } else if (auto q = dyn_cast<Q::QuantizedMatMulOp>(op)) {
        name = quantKernelFamily(q);
        if (name.empty())
          return WalkResult::advance();
        if (families.insert(name).second) {
          Type st = cast<RankedTensorType>(q.getScales().getType()).getElementType();
          ScaleKind scales = st.isF16() ? ScaleKind::F16 : st.isBF16() ? ScaleKind::BF16
                                                                       : ScaleKind::F32;
          // Kernels shared by every layer of the scheme. 4 bits: one row per block for
          // decoding, four for a few rows (each decoded chunk of codes then serves four), in f16
          // and in f32 arithmetic; the tensor-core GEMM from 16 rows, 16, 32 or 64 rows a block.
          // 8 bits: the GEMM at every size.
          bool zeroPoints = !q.getScheme().getSymmetric();
          int64_t bits = q.getScheme().getBits();
          if (bits == 4) {
            for (int64_t rows : {1, 4}) {
              buildQuant4HalfKernel(b, gpuModule, name + "_h" + std::to_string(rows), scales,
                                    zeroPoints, rows);
              buildQuant4MatMulKernel(b, gpuModule, name + "_r" + std::to_string(rows), scales,
                                      zeroPoints, rows);
            }
            numGpuKernels += 4;
          }
          for (int64_t rowTiles : {1, 2, 4})
            buildQuantGemmKernel(b, gpuModule, name + "_g" + std::to_string(rowTiles), scales,
                                 zeroPoints, rowTiles, bits,
                                 qopt::cuda::gemmPrefetchSteps(rowTiles));
          numGpuKernels += 3;
        }
      } else {
        return WalkResult::advance();
      }
      op->setAttr("qopt.gpu_kernel", b.getStringAttr(name));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
  }
};
} // namespace
