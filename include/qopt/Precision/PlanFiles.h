//===- PlanFiles.h - a mixed-precision plan as JSON, text and back -*- C++ -*-===//
#ifndef QOPT_PRECISION_PLANFILES_H
#define QOPT_PRECISION_PLANFILES_H

#include "dialects/QOpt/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace qopt::precision {

/// The `precision` object of qopt-compile's JSON report (also what --plan replays).
llvm::json::Object planToJson(const QOpt::PrecisionPlanReport &plan, llvm::StringRef algorithm,
                              llvm::StringRef sensitivity);

/// The plan as a table: per layer the scheme, bytes, estimated loss and kernel time, then the
/// budget and by how much it is met.
void printPlan(const QOpt::PrecisionPlanReport &plan, llvm::raw_ostream &os);

/// Gives every linear layer the scheme a saved plan (a report written with --report) chose for
/// it. A layer of the model missing from the plan, or a plan entry naming no layer, is an error
/// naming the file.
mlir::LogicalResult applyPlanFile(mlir::ModuleOp module, llvm::StringRef path);

} // namespace qopt::precision

#endif // QOPT_PRECISION_PLANFILES_H
