//===- Pipelines.h - qopt's pass pipelines -----------------------*- C++ -*-===//
#ifndef QOPT_PIPELINES_PIPELINES_H
#define QOPT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "dialects/QOpt/Transforms/Passes.h"

#include <memory>
#include <vector>

namespace qopt::quant {
struct CalibrationStats;
} // namespace qopt::quant

namespace qopt {

/// Options of the graph cleanup that follows import.
struct GraphPipelineOptions : public mlir::PassPipelineOptions<GraphPipelineOptions> {
  Option<bool> raisePatterns{*this, "raise-patterns",
                             llvm::cl::desc("Recognize RMSNorm, LayerNorm and SiLU"), llvm::cl::init(true)};
  Option<bool> mergeAdapters{*this, "merge-adapters",
                             llvm::cl::desc("Fold LoRA adapters into their base weights"),
                             llvm::cl::init(false)};
};

/// Shape refinement and folding, pattern raising, canonicalization and CSE: the graph that the
/// quantization passes work on.
void buildGraphPipeline(mlir::OpPassManager &pm, const GraphPipelineOptions &options);

/// Options of the `fused` stage.
struct FusionPipelineOptions : public mlir::PassPipelineOptions<FusionPipelineOptions> {
  Option<bool> fuseAttention{
      *this, "fuse-attention",
      llvm::cl::desc("Fuse attention chains into qopt.attention and let KV caches grow in place"),
      llvm::cl::init(true)};
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

/// Attention chains into one op, Gemm's general form and middle-axis softmax onto kernel forms, linear layers onto packed
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

/// Options of the quantization stage: which layers get which scheme, and the algorithm.
struct QuantizationPipelineOptions
    : public mlir::PassPipelineOptions<QuantizationPipelineOptions> {
  Option<unsigned> wbits{*this, "wbits", llvm::cl::desc("Weight bits (2-8)"), llvm::cl::init(0)};
  Option<int64_t> groupSize{*this, "group-size",
                            llvm::cl::desc("Weights per scale along K (0: per channel)"),
                            llvm::cl::init(128)};
  Option<bool> symmetric{*this, "sym", llvm::cl::desc("Symmetric (no zero points)"),
                         llvm::cl::init(true)};
  Option<std::string> wtype{*this, "wtype", llvm::cl::desc("int, nf4, fp4 or fp8"),
                            llvm::cl::init("int")};
  Option<std::string> scaleType{*this, "scale-type", llvm::cl::desc("f16, bf16 or f32"),
                                llvm::cl::init("f16")};
  Option<int64_t> doubleQuant{*this, "double-quant",
                              llvm::cl::desc("Scales quantized in blocks of this many (0: off)"),
                              llvm::cl::init(0)};
  Option<bool> quantizeEmbeddings{*this, "quantize-embeddings",
                                  llvm::cl::desc("Quantize embeddings and the output head"),
                                  llvm::cl::init(false)};
  Option<std::string> layerBits{*this, "layer-bits",
                                llvm::cl::desc("Per-layer overrides REGEX=BITS|none,...")};
  Option<bool> int8Activations{*this, "int8-activations",
                               llvm::cl::desc("int8 inputs for 4- and 8-bit matmuls"),
                               llvm::cl::init(false)};
  Option<std::string> algorithm{
      *this, "algorithm",
      llvm::cl::desc("rtn, gptq, awq, awq+gptq, smoothquant or smoothquant+gptq"),
      llvm::cl::init("rtn")};
  Option<std::string> activations{
      *this, "activations", llvm::cl::desc("none, int8-dynamic or int8-static"),
      llvm::cl::init("none")};
  Option<std::string> calibrator{*this, "calibrator",
                                 llvm::cl::desc("int8-static ranges: minmax, percentile, mse, entropy"),
                                 llvm::cl::init("minmax")};
  Option<double> percentile{*this, "percentile",
                            llvm::cl::desc("Percentile of |x| for the percentile calibrator"),
                            llvm::cl::init(99.99)};
  Option<double> smoothAlpha{*this, "smooth-alpha",
                             llvm::cl::desc("SmoothQuant migration strength"),
                             llvm::cl::init(0.5)};
  Option<std::string> calibration{
      *this, "calibration",
      llvm::cl::desc("Calibration statistics file, when none are handed over in memory")};
  Option<double> dampening{*this, "dampening", llvm::cl::desc("GPTQ dampening (of the mean diagonal)"),
                           llvm::cl::init(0.01)};
  Option<int64_t> blockSize{*this, "block-size", llvm::cl::desc("GPTQ lazy batch columns"),
                            llvm::cl::init(128)};
  Option<bool> actOrder{*this, "act-order", llvm::cl::desc("GPTQ activation order"),
                        llvm::cl::init(false)};
  Option<double> outliers{*this, "outliers",
                           llvm::cl::desc("Fraction of the weights kept in f16 (SpQR-style)"),
                           llvm::cl::init(0.0)};
  Option<bool> awqClip{*this, "awq-clip", llvm::cl::desc("AWQ clipping search"),
                       llvm::cl::init(true)};
  Option<std::string> candidates{
      *this, "candidates",
      llvm::cl::desc("Mixed precision: the schemes each layer may take (or a preset)"),
      llvm::cl::init("default")};
  Option<double> targetBits{*this, "target-bits",
                            llvm::cl::desc("Mixed precision: average bits per weight"),
                            llvm::cl::init(0.0)};
  Option<int64_t> targetSize{*this, "target-size",
                             llvm::cl::desc("Mixed precision: bytes of the model's constants"),
                             llvm::cl::init(0)};
  Option<double> maxLoss{*this, "max-loss",
                         llvm::cl::desc("Mixed precision: largest estimated loss increase"),
                         llvm::cl::init(-1.0)};
  Option<double> targetLatency{*this, "target-latency",
                               llvm::cl::desc("Mixed precision: milliseconds per decoded token"),
                               llvm::cl::init(0.0)};
  Option<std::string> loraBase{*this, "lora-base",
                               llvm::cl::desc("Scheme of LoRA base layers: nf4dq or flags"),
                               llvm::cl::init("nf4dq")};
  Option<bool> foldOnly{*this, "fold-only",
                        llvm::cl::desc("Stop before rounding: the weights stay f32, with the "
                                       "algorithm's scales folded in (to check that folding keeps "
                                       "the function)"),
                        llvm::cl::init(false)};
};

/// The parts of the quantization stage: the driver measures sensitivities after Select and runs
/// sequential calibration between Prepare and Quantize.
enum class QuantizationPhases { All, Select, Prepare, Quantize };

/// Whether the options ask for mixed precision under a budget.
bool hasPrecisionBudget(const QuantizationPipelineOptions &options);

/// Select precision (Select); with a budget, allocate each layer's scheme from the candidates
/// (which needs the layers' sensitivities), then for awq the activation-aware scales and clipping
/// (Prepare); then quantize with rtn or gptq (Quantize). `stats`, when given, are the calibration
/// statistics (else the `calibration` file); `report`, when given, receives one entry per
/// quantized layer, and `plan` what the allocation decided.
void buildQuantizationPipeline(mlir::OpPassManager &pm, const QuantizationPipelineOptions &options,
                               std::vector<QOpt::LayerQuantReport> *report = nullptr,
                               std::shared_ptr<quant::CalibrationStats> stats = nullptr,
                               QuantizationPhases phases = QuantizationPhases::All,
                               QOpt::PrecisionPlanReport *plan = nullptr);

/// The options of the pipeline's qopt-quantize-weights.
QOpt::QuantizeWeightsPassOptions quantizeWeightsOptions(const QuantizationPipelineOptions &options);

/// Registers the pipelines with the pass registry (`qopt-graph-pipeline`, `qopt-quantization-pipeline`,
/// `qopt-fusion-pipeline`).
void registerPipelines();

} // namespace qopt

#endif // QOPT_PIPELINES_PIPELINES_H
