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

/// Elementwise fusion and cleanup of the fused bodies: the `fused` stage of qopt-compile.
void buildFusionPipeline(mlir::OpPassManager &pm);

/// Outlines the fused kernels and lowers them to LLVM, ahead of the graph's own lowering.
void buildKernelLoweringPipeline(mlir::OpPassManager &pm);

/// Registers the pipelines with the pass registry (`qopt-graph-pipeline`, `qopt-fusion-pipeline`).
void registerPipelines();

} // namespace qopt

#endif // QOPT_PIPELINES_PIPELINES_H
