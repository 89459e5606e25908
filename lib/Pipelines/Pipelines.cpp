//===- Pipelines.cpp - qopt's pass pipelines ------------------------------===//
#include "qopt/Pipelines/Pipelines.h"

#include "dialects/QOpt/Transforms/Passes.h"
#include "qopt/Conversion/Passes.h"
#include "qopt/Quant/CalibrationStats.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void qopt::buildGraphPipeline(OpPassManager &pm, const GraphPipelineOptions &options) {
  // Half-precision graphs compute in f32 from the start, so every later pass sees f32. (Like
  // the two weight-folding passes below, it names resources, so it runs on the whole module.)
  pm.addPass(QOpt::createWidenHalfFloatsPass());
  pm.addPass(QOpt::createInferShapesPass());
  if (options.raisePatterns)
    pm.addNestedPass<func::FuncOp>(QOpt::createRaisePatternsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Integer groups of QDQ models run as integer ops, as ONNX Runtime runs them; then the weights
  // that arrive quantized and still feed float matmuls stay packed.
  // A QAT export's float weights behind QuantizeLinear become the codes they round to first.
  // The passes that create weight resources run on the whole module, one function after the
  // other: run on functions in parallel, the resources' names (uniqued by a counter) depended on
  // the threads' order.
  pm.addPass(QOpt::createFoldConstantQuantizePass());
  pm.addNestedPass<func::FuncOp>(QOpt::createFuseQDQPass());
  pm.addPass(QOpt::createFoldWeightDequantizePass());
  // LoRA adapters: marked for the quantization passes, or merged into their base weights.
  QOpt::RecognizeLoRAPassOptions lora;
  lora.merge = options.mergeAdapters;
  pm.addPass(QOpt::createRecognizeLoRAPass(lora));
}

void qopt::buildFusionPipeline(OpPassManager &pm, const FusionPipelineOptions &options) {
  if (options.fuseAttention)
    pm.addNestedPass<func::FuncOp>(QOpt::createFuseAttentionPass());
  if (options.packMatMulWeights || options.decomposeSoftmax) {
    QOpt::DecomposeToKernelFormsPassOptions decompose;
    decompose.gemm = options.packMatMulWeights;
    decompose.softmax = options.decomposeSoftmax;
    pm.addNestedPass<func::FuncOp>(QOpt::createDecomposeToKernelFormsPass(decompose));
  }
  if (options.packMatMulWeights) {
    QOpt::PackMatMulWeightsPassOptions pack;
    pack.panelWidth = options.panelWidth;
    pm.addPass(QOpt::createPackMatMulWeightsPass(pack));
  }
  if (options.fuseElementwise)
    pm.addNestedPass<func::FuncOp>(QOpt::createFuseElementwisePass());
  // Merged bodies repeat their constants; this also drops the ones a folded exponent left.
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createCSEPass());
}

void qopt::buildKernelLoweringPipeline(OpPassManager &pm, const KernelOptions &options) {
  OutlineFusedKernelsPassOptions outline;
  outline.rowKernels = options.rowKernels;
  outline.matmulKernels = options.matmulKernels;
  outline.dataKernels = options.dataKernels;
  outline.lanes = options.lanes;
  pm.addPass(createOutlineFusedKernelsPass(outline));
  pm.addPass(createLowerKernelsToLLVMPass());
}

qopt::QOpt::QuantizeWeightsPassOptions
qopt::quantizeWeightsOptions(const QuantizationPipelineOptions &options) {
  QOpt::QuantizeWeightsPassOptions quantize;
  StringRef algorithm = options.algorithm;
  quantize.int8Activations = options.int8Activations;
  quantize.activations = options.activations;
  quantize.calibrator = options.calibrator;
  quantize.percentile = options.percentile;
  // awq and smoothquant only rewrite f32 weights: the codes then come from rounding or GPTQ.
  quantize.algorithm = algorithm.ends_with("gptq")                             ? std::string("gptq")
                       : algorithm == "awq" || algorithm == "smoothquant" ? std::string("rtn")
                                                                          : algorithm.str();
  quantize.calibration = options.calibration;
  quantize.dampening = options.dampening;
  quantize.blockSize = options.blockSize;
  quantize.actOrder = options.actOrder;
  quantize.outliers = options.outliers;
  return quantize;
}

bool qopt::hasPrecisionBudget(const QuantizationPipelineOptions &options) {
  return options.targetBits > 0.0 || options.targetSize > 0 || options.maxLoss >= 0.0 ||
         options.targetLatency > 0.0;
}

void qopt::buildQuantizationPipeline(OpPassManager &pm, const QuantizationPipelineOptions &options,
                                     std::vector<QOpt::LayerQuantReport> *report,
                                     std::shared_ptr<quant::CalibrationStats> stats,
                                     QuantizationPhases phases, QOpt::PrecisionPlanReport *plan) {
  // One object for every pass: AWQ rescales the statistics that GPTQ then reads.
  if (!stats && !options.calibration.empty())
    stats = std::make_shared<quant::CalibrationStats>();
  bool all = phases == QuantizationPhases::All;
  if (all || phases == QuantizationPhases::Select) {
    QOpt::SelectPrecisionPassOptions select;
    select.wbits = options.wbits;
    select.groupSize = options.groupSize;
    select.symmetric = options.symmetric;
    select.wtype = options.wtype;
    select.scaleType = options.scaleType;
    select.doubleQuant = options.doubleQuant;
    select.quantizeEmbeddings = options.quantizeEmbeddings;
    select.layerBits = options.layerBits;
    select.markPinned = hasPrecisionBudget(options);
    select.loraBase = options.loraBase;
    pm.addPass(QOpt::createSelectPrecisionPass(select));
  }
  if (all || phases == QuantizationPhases::Prepare) {
    if (hasPrecisionBudget(options)) {
      QOpt::AllocatePrecisionPassOptions allocate;
      allocate.candidates = options.candidates;
      allocate.targetBits = options.targetBits;
      allocate.targetSize = options.targetSize;
      allocate.maxLoss = options.maxLoss;
      allocate.targetLatency = options.targetLatency;
      pm.addPass(QOpt::createAllocatePrecisionPass(allocate, plan));
    }
    if (StringRef(options.algorithm).starts_with("smoothquant")) {
      QOpt::FoldScalesPassOptions smooth;
      smooth.alpha = options.smoothAlpha;
      smooth.calibration = options.calibration;
      pm.addPass(QOpt::createFoldScalesPass(smooth, stats));
    }
    if (StringRef(options.algorithm).starts_with("awq")) {
      QOpt::ApplyAWQPassOptions awq;
      awq.calibration = options.calibration;
      awq.clip = options.awqClip;
      // GPTQ corrects what the q and k projections' scaling leaves: with it, the search weighs
      // all three projections (qlm_llama w4g128 awq+gptq, one-shot: 3.2503 against 3.2551).
      awq.valueErrorOnly = !StringRef(options.algorithm).ends_with("gptq");
      pm.addPass(QOpt::createApplyAWQPass(awq, stats));
    }
  }
  if ((all || phases == QuantizationPhases::Quantize) && !options.foldOnly)
    pm.addPass(QOpt::createQuantizeWeightsPass(quantizeWeightsOptions(options), report, stats));
}

void qopt::registerPipelines() {
  PassPipelineRegistration<QuantizationPipelineOptions>(
      "qopt-quantization-pipeline",
      "Select each layer's scheme, apply the algorithm (rtn, gptq, awq, awq+gptq, smoothquant, "
      "smoothquant+gptq) and quantize",
      [](OpPassManager &pm, const QuantizationPipelineOptions &options) {
        buildQuantizationPipeline(pm, options);
      });
  PassPipelineRegistration<FusionPipelineOptions>(
      "qopt-fusion-pipeline",
      "Pack linear layers' weights, fuse elementwise chains (into matmul epilogues where they "
      "consume one)",
      buildFusionPipeline);
  PassPipelineRegistration<GraphPipelineOptions>(
      "qopt-graph-pipeline", "Clean up an imported graph: refine shapes, fold, raise patterns",
      buildGraphPipeline);
}
