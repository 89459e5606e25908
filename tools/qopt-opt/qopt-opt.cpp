//===- qopt-opt.cpp - run qopt and upstream passes on .mlir files ---------===//
#include "qopt/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  qopt::registerAllPasses();
  mlir::DialectRegistry registry;
  qopt::registerAllDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "qopt optimizer driver\n", registry));
}
