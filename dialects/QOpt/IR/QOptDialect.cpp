//===- QOptDialect.cpp - the qopt dialect ---------------------------------===//
#include "dialects/QOpt/IR/QOptDialect.h"

#include "dialects/QOpt/IR/QOptOps.h"

using namespace mlir;
using namespace qopt::QOpt;

#include "dialects/QOpt/IR/QOptDialect.cpp.inc"

void QOptDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/QOpt/IR/QOptOps.cpp.inc"
      >();
  registerAttributes();
}

/// Folded values become `arith.constant`, the one constant op of a qopt module.
Operation *QOptDialect::materializeConstant(OpBuilder &builder, Attribute value, Type type,
                                            Location loc) {
  auto typed = dyn_cast<TypedAttr>(value);
  if (!typed || typed.getType() != type)
    return nullptr;
  return arith::ConstantOp::create(builder, loc, type, typed);
}
