//===- LowerGpuKernels.cpp - GPU kernels to NVVM and an embedded fatbin ---===//
#include "qopt/Conversion/Passes.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/Endian.h"

namespace qopt {
#define GEN_PASS_DEF_LOWERGPUKERNELSPASS
#include "qopt/Conversion/Passes.h.inc"
} // namespace qopt

using namespace mlir;

namespace {
/// The number of a CUDA architecture: 90 for sm_90 (and sm_90a), none for anything else.
std::optional<int64_t> chipNumber(StringRef chip) {
  int64_t number = 0;
  if (!chip.consume_front("sm_") || chip.take_while(llvm::isDigit).getAsInteger(10, number))
    return std::nullopt;
  return number;
}

void appendWord(std::string &out, uint64_t v) {
  char bytes[8];
  llvm::support::endian::write64le(bytes, v);
  out.append(bytes, 8);
}

/// The upstream conversions from the kernels' dialects to NVVM.
OpPassManager nvvmLowering() {
  OpPassManager pm(ModuleOp::getOperationName());
  pm.addNestedPass<gpu::GPUModuleOp>(createSCFToControlFlowPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());
  return pm;
}

struct LowerGpuKernelsPass : public qopt::impl::LowerGpuKernelsPassBase<LowerGpuKernelsPass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    nvvmLowering().getDependentDialects(registry);
    registry.insert<cf::ControlFlowDialect>();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto kernels = module.lookupSymbol<gpu::GPUModuleOp>("qopt_gpu");
    if (!kernels)
      return;
    // The same polynomial forms of exp, tanh, erf... as the CPU kernels, so that the two targets
    // agree to rounding. What remains of math (fma, fabs, sqrt) becomes libdevice calls, which
    // serialization links from the toolkit and inlines into single instructions.
    {
      RewritePatternSet patterns(&getContext());
      populateMathPolynomialApproximationPatterns(patterns);
      if (failed(applyPatternsGreedily(kernels, std::move(patterns))))
        return signalPassFailure();
    }
    OpPassManager pm = nvvmLowering();
    if (failed(runPipeline(pm, module)))
      return signalPassFailure();
    if (chips.empty())
      return;

    SmallVector<Attribute> targets;
    SmallVector<StringRef> names;
    StringRef(chips).split(names, ',', -1, false);
    for (StringRef chip : names) {
      if (!chipNumber(chip)) {
        module.emitError() << "'" << chip << "' is not a CUDA architecture (sm_80, sm_90, ...)";
        return signalPassFailure();
      }
      targets.push_back(NVVM::NVVMTargetAttr::get(&getContext(), /*optLevel=*/3,
                                                  "nvptx64-nvidia-cuda", chip));
    }
    kernels.setTargetsAttr(ArrayAttr::get(&getContext(), targets));
    OpPassManager serialize(ModuleOp::getOperationName());
    GpuModuleToBinaryPassOptions binary;
    binary.toolkitPath = toolkit;
    binary.compilationTarget = "fatbin";
    serialize.addPass(createGpuModuleToBinaryPass(binary));
    if (failed(runPipeline(serialize, module)))
      return signalPassFailure();

    auto binaryOp = module.lookupSymbol<gpu::BinaryOp>("qopt_gpu");
    if (!binaryOp) {
      module.emitError() << "serializing the GPU kernels produced no binary";
      return signalPassFailure();
    }
    std::string images("QOPTCUDA", 8);
    appendWord(images, binaryOp.getObjects().size());
    for (Attribute a : binaryOp.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(a);
      auto target = cast<NVVM::NVVMTargetAttr>(object.getTarget());
      StringRef bytes = object.getObject().getValue();
      appendWord(images, *chipNumber(target.getChip()));
      appendWord(images, bytes.size());
      images.append(bytes.data(), bytes.size());
    }
    OpBuilder b(binaryOp);
    LLVM::GlobalOp::create(b, binaryOp.getLoc(),
                           LLVM::LLVMArrayType::get(b.getI8Type(), images.size()),
                           /*isConstant=*/true, LLVM::Linkage::External, "qopt_cuda_images",
                           b.getStringAttr(images), /*alignment=*/16);
    binaryOp.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }
};
} // namespace
