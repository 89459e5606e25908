//===- Pipelines.h - qopt's pass pipelines -----------------------*- C++ -*-===//
#ifndef QOPT_PIPELINES_PIPELINES_H
#define QOPT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace qopt {

/// Options of the graph cleanup that follows import.
struct GraphPipelineOptions : public mlir::PassPipelineOptions<GraphPipelineOptions> {
  Option<bool> raisePatterns{*this, "raise-patterns",
                             llvm::cl::desc("Recognize RMSNorm, LayerNorm and SiLU"), llvm::cl::init(true)};
};

/// Shape refinement and folding, pattern raising, canonicalization and CSE: the graph that the
/// quantization passes work on.
void buildGraphPipeline(mlir::OpPassManager &pm, const GraphPipelineOptions &options);

/// Options of the `fused` stage.
struct FusionPipelineOptions : public mlir::PassPipelineOptions<FusionPipelineOptions> {
  Option<bool> fuseElementwise{*this, "fuse-elementwise",
                               llvm::cl::desc("Fuse chains of elementwise ops"),
                               llvm::cl::init(true)};
  Option<bool> packMatMulWeights{
      *this, "pack-matmul-weights",
      llvm::cl::desc("Put linear layers with f32 weights onto packed panels (generated kernels); "
                     "Gemm's other forms become matmuls and elementwise ops"),
      llvm::cl::init(true)};
  Option<bool> decomposeSoftmax{
      *this, "decompose-softmax",
      llvm::cl::desc("Turn a softmax over a middle axis into transposes around a last-axis one"),
      llvm::cl::init(true)};
  Option<int64_t> panelWidth{*this, "panel-width",
                             llvm::cl::desc("Output columns per packed weight panel"),
                             llvm::cl::init(32)};
};

/// Gemm's general form and middle-axis softmax onto kernel forms, linear layers onto packed
/// weights, elementwise fusion (chains into the matmuls' epilogues) and
/// cleanup of the fused bodies: the `fused` stage of qopt-compile.
void buildFusionPipeline(mlir::OpPassManager &pm, const FusionPipelineOptions &options);


/// Which kernels the `llvm` stage generates besides the fused ones.
struct KernelOptions {
  bool rowKernels = true;    // softmax over the last axis, RMSNorm, LayerNorm
  bool matmulKernels = true; // products of two activations
  bool dataKernels = true;   // data movement, gathers, reductions, position-computed ops
  int64_t lanes = 16;        // f32 per vector register
};

/// Outlines the fused kernels, generates the other kernels `options` asks for and lowers them
/// to LLVM, ahead of the graph's own lowering.
void buildKernelLoweringPipeline(mlir::OpPassManager &pm, const KernelOptions &options);

/// Registers the pipelines with the pass registry (`qopt-graph-pipeline`, `qopt-fusion-pipeline`).
void registerPipelines();

} // namespace qopt

#endif // QOPT_PIPELINES_PIPELINES_H
