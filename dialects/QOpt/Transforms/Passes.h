//===- Passes.h - qopt dialect passes ----------------------------*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_TRANSFORMS_PASSES_H
#define QOPT_DIALECTS_QOPT_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace qopt::QOpt {
#define GEN_PASS_DECL
#include "dialects/QOpt/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

#endif // QOPT_DIALECTS_QOPT_TRANSFORMS_PASSES_H
