//===- Passes.h - qopt dialect passes ----------------------------*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_TRANSFORMS_PASSES_H
#define QOPT_DIALECTS_QOPT_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace qopt::quant {
struct CalibrationStats;
} // namespace qopt::quant

namespace qopt::QOpt {
/// What `qopt-quantize-weights` did to one layer.
struct LayerQuantReport {
  std::string name;
  std::string scheme;
  /// The weight constant's name (the ONNX initializer) and its layout, "KxN" or "NxK".
  std::string weight, weightLayout;
  int64_t outFeatures = 0, inFeatures = 0;
  int64_t bytesBefore = 0, bytesAfter = 0;
  /// ||W - dequantize(quantize(W))|| / ||W|| (Frobenius).
  double relativeError = 0.0;
  /// The static int8 scale of the layer's input (activations=int8-static), else 0.
  double activationScale = 0.0;
};

/// What `qopt-allocate-precision` decided, for the reports.
struct PrecisionPlanReport {
  struct Option {
    std::string candidate;
    int64_t bytes = 0;
    double loss = 0.0;
    double latencyUs = -1.0; ///< negative: not measured
  };
  struct Layer {
    std::string name;
    int64_t outFeatures = 0, inFeatures = 0;
    bool pinned = false;
    std::string chosen;
    std::vector<Option> options;
  };
  std::string budgetKind; ///< bits, size, loss or latency
  double target = 0.0, achieved = 0.0;
  std::vector<std::string> candidates;
  std::vector<Layer> layers;
  double estimatedLoss = 0.0;
  int64_t totalBytes = 0;        ///< all constants after quantization (estimated)
  double bitsPerWeight = 0.0;    ///< over the decided and pinned layers
  double latencyMs = -1.0;       ///< estimated, with latencies given
  double measuredLatencyMs = -1.0; ///< the compiled model's, when it was timed
  /// Least estimated loss against size in bytes (or latency in ms for latency budgets).
  std::vector<std::pair<double, double>> curve;
};

#define GEN_PASS_DECL
#include "dialects/QOpt/Transforms/Passes.h.inc"

/// The quantization pass, appending one entry per quantized layer to `report`; with
/// `int8Activations` the int4/int8 matmuls quantize their input to int8 per group.
std::unique_ptr<mlir::Pass> createQuantizeWeightsPass(std::vector<LayerQuantReport> *report,
                                                      bool int8Activations = false);
/// The quantization pass with its options and calibration statistics held in memory (which
/// take the place of the `calibration` file option).
std::unique_ptr<mlir::Pass>
createQuantizeWeightsPass(const QuantizeWeightsPassOptions &options,
                          std::vector<LayerQuantReport> *report,
                          std::shared_ptr<qopt::quant::CalibrationStats> stats);
/// SmoothQuant on statistics held in memory; it rescales them to the smoothed activations.
std::unique_ptr<mlir::Pass>
createFoldScalesPass(const FoldScalesPassOptions &options,
                     std::shared_ptr<qopt::quant::CalibrationStats> stats);
/// AWQ on statistics held in memory; it rescales them to the scaled layers' inputs.
std::unique_ptr<mlir::Pass>
createApplyAWQPass(const ApplyAWQPassOptions &options,
                   std::shared_ptr<qopt::quant::CalibrationStats> stats);

/// The allocation pass, recording its plan in `report`.
std::unique_ptr<mlir::Pass> createAllocatePrecisionPass(const AllocatePrecisionPassOptions &options,
                                                        PrecisionPlanReport *report);

#define GEN_PASS_REGISTRATION
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

#endif // QOPT_DIALECTS_QOPT_TRANSFORMS_PASSES_H
