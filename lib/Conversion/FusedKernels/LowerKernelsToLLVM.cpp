//===- LowerKernelsToLLVM.cpp - outlined kernels to the LLVM dialect ------===//
//
// The kernels are moved into a module of their own, lowered there by the upstream conversions,
// and moved back, so the graph in @main (tensors, qopt ops) is never offered to them.
//
#include "qopt/Conversion/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

namespace qopt {
#define GEN_PASS_DEF_LOWERKERNELSTOLLVMPASS
#include "qopt/Conversion/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace {
/// The math functions libm computes one scalar call at a time; their polynomial forms are
/// straight-line f32 code (accurate to a few ulp), which the loop vectorizer widens.
bool approximated(StringRef name) {
  name.consume_front("math.");
  return llvm::is_contained({"exp", "log", "tanh", "erf", "sin", "cos", "expm1", "log1p", "log2"},
                            name);
}

struct LowerKernelsToLLVMPass
    : public qopt::impl::LowerKernelsToLLVMPassBase<LowerKernelsToLLVMPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr("qopt.kernel"))
        kernels.push_back(fn);
    if (kernels.empty())
      return;

    OpBuilder b(&getContext());
    b.setInsertionPointToEnd(module.getBody());
    auto scratch = ModuleOp::create(b, module.getLoc());
    for (func::FuncOp fn : kernels)
      fn->moveBefore(scratch.getBody(), scratch.getBody()->end());

    RewritePatternSet approximations(&getContext());
    populateMathPolynomialApproximationPatterns(approximations, approximated);
    FrozenRewritePatternSet frozen(std::move(approximations));

    OpPassManager pm(ModuleOp::getOperationName());
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(createConvertVectorToLLVMPass());
    pm.addPass(createFinalizeMemRefToLLVMConversionPass());
    pm.addPass(createConvertMathToLLVMPass());
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertIndexToLLVMPass());
    pm.addPass(createUBToLLVMConversionPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    pm.addPass(createCanonicalizerPass());

    if (failed(applyPatternsGreedily(scratch, frozen)) || failed(runPipeline(pm, scratch))) {
      scratch.emitError() << "cannot lower the fused kernels to LLVM";
      return signalPassFailure();
    }
    // Back into the module, next to the graph that calls them.
    Block *body = scratch.getBody();
    while (!body->empty())
      body->front().moveBefore(scratch);
    scratch.erase();
  }
};
} // namespace
