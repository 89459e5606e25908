//===- Pipelines.cpp - qopt's pass pipelines ------------------------------===//
#include "qopt/Pipelines/Pipelines.h"

#include "dialects/QOpt/Transforms/Passes.h"
#include "qopt/Conversion/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void qopt::buildGraphPipeline(OpPassManager &pm, const GraphPipelineOptions &options) {
  pm.addPass(QOpt::createInferShapesPass());
  if (options.raisePatterns)
    pm.addNestedPass<func::FuncOp>(QOpt::createRaisePatternsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Integer groups of QDQ models run as integer ops, as ONNX Runtime runs them; then the weights
  // that arrive quantized and still feed float matmuls stay packed.
  pm.addNestedPass<func::FuncOp>(QOpt::createFuseQDQPass());
  pm.addNestedPass<func::FuncOp>(QOpt::createFoldWeightDequantizePass());
}

void qopt::buildFusionPipeline(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(QOpt::createFuseElementwisePass());
  // Merged bodies repeat their constants; this also drops the ones a folded exponent left.
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createCSEPass());
}

void qopt::buildKernelLoweringPipeline(OpPassManager &pm) {
  pm.addPass(createOutlineFusedKernelsPass());
  pm.addPass(createLowerKernelsToLLVMPass());
}

void qopt::registerPipelines() {
  PassPipelineRegistration<>("qopt-fusion-pipeline",
                             "Fuse elementwise chains into qopt.fused_elementwise",
                             buildFusionPipeline);
  PassPipelineRegistration<GraphPipelineOptions>(
      "qopt-graph-pipeline", "Clean up an imported graph: refine shapes, fold, raise patterns",
      buildGraphPipeline);
}
