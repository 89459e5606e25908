//===- InitAll.cpp - register qopt's dialects and passes ------------------===//
#include "qopt/InitAll.h"

#include "dialects/QOpt/IR/QOptDialect.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "qopt/Conversion/Passes.h"
#include "qopt/Pipelines/Pipelines.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void qopt::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<QOpt::QOptDialect>();
  mlir::registerAllDialects(registry);
  // convert-gpu-to-nvvm lowers arith, math and cf through their ConvertToLLVM interfaces.
  mlir::registerAllExtensions(registry);
  // Serializing GPU kernels (gpu-module-to-binary) translates them to LLVM IR for NVPTX.
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
}

void qopt::registerAllPasses() {
  mlir::registerAllPasses();
  QOpt::registerQOptPasses();
  registerQoptConversionPasses();
  registerPipelines();
}
