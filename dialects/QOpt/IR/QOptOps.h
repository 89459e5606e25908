//===- QOptOps.h - qopt dialect ops ------------------------------*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_IR_QOPTOPS_H
#define QOPT_DIALECTS_QOPT_IR_QOPTOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/QOpt/IR/QOptAttrs.h"
#include "dialects/QOpt/IR/QOptDialect.h"

namespace qopt::QOpt {
/// Checks that an op's declared result types are compatible with (equal to or less refined than
/// nothing: the same rank, element type and every static dim agreeing) the ones it infers.
llvm::LogicalResult verifyInferredShapes(mlir::Operation *op);
} // namespace qopt::QOpt

#include "dialects/QOpt/IR/QOptInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialects/QOpt/IR/QOptOps.h.inc"

#endif // QOPT_DIALECTS_QOPT_IR_QOPTOPS_H
