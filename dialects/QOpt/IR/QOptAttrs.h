//===- QOptAttrs.h - quantization scheme attributes --------------*- C++ -*-===//
#ifndef QOPT_DIALECTS_QOPT_IR_QOPTATTRS_H
#define QOPT_DIALECTS_QOPT_IR_QOPTATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialects/QOpt/IR/QOptEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/QOpt/IR/QOptAttrs.h.inc"

#endif // QOPT_DIALECTS_QOPT_IR_QOPTATTRS_H
