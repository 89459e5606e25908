//===- Sensitivity.h - how much each layer's quantization costs the model -*- C++ -*-===//
//
// Mixed precision needs, for every layer it decides and every candidate scheme, the increase of
// the model's loss when that layer alone takes that scheme. Three ways to get it:
//  - hessian: the layer's output error on the calibration data, tr(dW H dW^T) / tokens with
//    H = X^T X, the same for every layer (cheap: the statistics are already there);
//  - measured: the KL divergence of the model's next-token distribution from the f32 model's,
//    the layer's weight replaced by what the candidate makes of it (one model run per layer and
//    candidate over a few calibration windows);
//  - hybrid: measured once per layer, at its middle candidate by size, and carried to the others by
//    the ratio of their output errors (one run per layer).
//  - auto: measured where that costs a few minutes (small models), hybrid beyond.
// The results are attached to the layers as `qopt.sensitivity` (qopt-allocate-precision).
//
#ifndef QOPT_CALIBRATION_SENSITIVITY_H
#define QOPT_CALIBRATION_SENSITIVITY_H

#include "qopt/Calibration/Calibrator.h"
#include "qopt/Quant/GPTQ.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>

namespace qopt {

enum class SensitivityMethod { Auto, Hessian, Measured, Hybrid };
std::optional<SensitivityMethod> parseSensitivityMethod(llvm::StringRef name);
const char *sensitivityMethodName(SensitivityMethod method);

struct SensitivityOptions {
  SensitivityMethod method = SensitivityMethod::Auto;
  /// Candidate list or presets (qopt/Quant/PrecisionCandidates.h).
  std::string candidates = "default";
  /// How a candidate's weights are made: rtn, or gptq with `gptq`'s options.
  bool gptq = false;
  quant::GPTQOptions gptqOptions;
  /// Measured and hybrid: the model runs (data, library builder) and how many windows.
  CalibrationOptions calibration;
  int64_t windows = 8;
  /// Progress on standard error.
  bool progress = false;
};

/// Attaches `qopt.sensitivity` to every layer that carries a `qopt.scheme` and is not pinned;
/// returns the method used (what `auto` chose).
mlir::FailureOr<SensitivityMethod> attachSensitivities(mlir::ModuleOp module,
                                                       const SensitivityOptions &options,
                                                       quant::CalibrationStats &stats);

} // namespace qopt

#endif // QOPT_CALIBRATION_SENSITIVITY_H
