//===- InitAll.cpp - register qopt's dialects and passes ------------------===//
#include "qopt/InitAll.h"

#include "dialects/QOpt/IR/QOptDialect.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "qopt/Conversion/Passes.h"
#include "qopt/Pipelines/Pipelines.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllPasses.h"

void qopt::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<QOpt::QOptDialect>();
  mlir::registerAllDialects(registry);
}

void qopt::registerAllPasses() {
  mlir::registerAllPasses();
  QOpt::registerQOptPasses();
  registerQoptConversionPasses();
  registerPipelines();
}
