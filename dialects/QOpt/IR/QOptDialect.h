//===- QOptDialect.h - the qopt dialect ---------------------------*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_IR_QOPTDIALECT_H
#define QOPT_DIALECTS_QOPT_IR_QOPTDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Dialect.h"

#include "dialects/QOpt/IR/QOptDialect.h.inc"

#endif // QOPT_DIALECTS_QOPT_IR_QOPTDIALECT_H
