//===- Pipelines.cpp - qopt's pass pipelines ------------------------------===//
#include "qopt/Pipelines/Pipelines.h"

#include "dialects/QOpt/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void qopt::buildGraphPipeline(OpPassManager &pm, const GraphPipelineOptions &options) {
  pm.addPass(QOpt::createInferShapesPass());
  if (options.raisePatterns)
    pm.addNestedPass<func::FuncOp>(QOpt::createRaisePatternsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Weights that arrive quantized (QDQ format) stay packed.
  pm.addNestedPass<func::FuncOp>(QOpt::createFoldWeightDequantizePass());
}

void qopt::registerPipelines() {
  PassPipelineRegistration<GraphPipelineOptions>(
      "qopt-graph-pipeline", "Clean up an imported graph: refine shapes, fold, raise patterns",
      buildGraphPipeline);
}
