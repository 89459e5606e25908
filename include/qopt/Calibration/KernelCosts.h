//===- KernelCosts.h - what each candidate's kernel costs on this machine -*- C++ -*-===//
//
// A latency budget needs the time of every layer under every candidate, on the machine the model
// will run on: qopt's own kernels, measured, not the bit count (a 5-bit layer runs on a slower
// kernel than a 4-bit one). Each (shape, candidate) is compiled once into a small library holding
// enough copies of the layer to occupy as much memory as the model's decided layers do, and timed
// at one token; the results are cached in a cost table (JSON) keyed by the CPU and thread count.
// What the decided layers do not account for (attention, norms, the head, the call) is the
// model's own one-token time at a reference plan minus its layers' table times.
//
#ifndef QOPT_CALIBRATION_KERNELCOSTS_H
#define QOPT_CALIBRATION_KERNELCOSTS_H

#include "qopt/Calibration/Calibrator.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>

namespace qopt {

struct LatencyOptions {
  /// Candidate list or presets.
  std::string candidates = "default";
  /// The cost table: read if present, extended with what had to be measured and written back.
  std::string costTablePath;
  /// The CPU the kernels are compiled for (part of the table's key).
  std::string cpu;
  int threads = 0;
  /// Quantizes (round to nearest) and compiles a graph-level module whose layers carry schemes
  /// into a library at the given path, as the driver compiles a model.
  std::function<mlir::LogicalResult(mlir::ModuleOp, const std::string &)> buildLibrary;
  bool progress = false;
};

/// Attaches `qopt.latency` (microseconds per candidate) to every layer that carries a scheme and
/// is not pinned, and `qopt.fixed_latency_us` to the module.
mlir::LogicalResult attachLatencies(mlir::ModuleOp module, const LatencyOptions &options);

/// Median milliseconds of a one-token run of the library at `libraryPath` (built from `module`,
/// whose inputs say how to feed it).
mlir::FailureOr<double> measureTokenLatency(mlir::ModuleOp module, const std::string &libraryPath,
                                            int threads);

} // namespace qopt

#endif // QOPT_CALIBRATION_KERNELCOSTS_H
