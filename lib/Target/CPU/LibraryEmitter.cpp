//===- LibraryEmitter.cpp - a compiled model as a shared library ----------===//
#include "qopt/Target/CPU/LibraryEmitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace {
/// The C ABI header, embedded at build time so every model.h is self-contained.
const char kABIHeader[] =
#include "qopt/Runtime/qopt_model.h.inc"
    ;

/// LLVM's -O2 pipeline for the host CPU: it vectorizes the generated kernels' inner loops (with a
/// unit-stride version where strides are only known at run time) and inlines nothing across the
/// runtime boundary, which is a separate archive.
void optimize(llvm::Module &module, llvm::TargetMachine &machine) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(module, mam);
}

std::unique_ptr<llvm::Module> translate(ModuleOp module, llvm::LLVMContext &llvmContext) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  module.getContext()->appendDialectRegistry(registry);
  return translateModuleToLLVMIR(module, llvmContext, "qopt_model");
}
} // namespace

LogicalResult qopt::printLLVMIR(ModuleOp module, llvm::raw_ostream &os) {
  llvm::LLVMContext llvmContext;
  auto llvmModule = translate(module, llvmContext);
  if (!llvmModule)
    return module.emitError() << "cannot translate the module to LLVM IR";
  llvmModule->print(os, nullptr);
  return success();
}

LogicalResult qopt::emitLibrary(ModuleOp module, const LibraryOptions &options) {
  llvm::LLVMContext llvmContext;
  auto llvmModule = translate(module, llvmContext);
  if (!llvmModule)
    return module.emitError() << "cannot translate the module to LLVM IR";

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string error;
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return module.emitError() << "no code generator for " << triple.str() << ": " << error;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, options.cpu.empty() ? llvm::sys::getHostCPUName() : llvm::StringRef(options.cpu),
      "", llvm::TargetOptions(), llvm::Reloc::PIC_));
  // The instruction set the runtime's kernels may use (KernelABI.h: qopt_isa), from the CPU's
  // features; the library refuses to load on a CPU without them.
  const llvm::MCSubtargetInfo *subtarget = machine->getMCSubtargetInfo();
  const char *avx512 = "+avx512f,+avx512bw,+avx512vl,+avx512vnni";
  int32_t isa = subtarget->checkFeatures(std::string(avx512) + ",+avx512bf16") ? 3
                : subtarget->checkFeatures(avx512)                            ? 2
                : subtarget->checkFeatures("+avxvnni")                        ? 1
                                                                              : 0;
  new llvm::GlobalVariable(*llvmModule, llvm::Type::getInt32Ty(llvmContext), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(llvm::Type::getInt32Ty(llvmContext), isa),
                           "qopt_isa");
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(triple);
  optimize(*llvmModule, *machine);

  // The object goes to a temporary file that only the linker reads.
  llvm::SmallString<128> objPath;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("qopt-model", "o", fd, objPath))
    return module.emitError() << "cannot create a temporary object file: " << ec.message();
  llvm::FileRemover removeObject(objPath);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    llvm::legacy::PassManager pm;
    if (machine->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile))
      return module.emitError() << "the code generator cannot write object files";
    pm.run(*llvmModule);
  }

  auto linker = llvm::sys::findProgramByName("clang++-22");
  if (!linker)
    linker = llvm::sys::findProgramByName("clang++");
  if (!linker)
    return module.emitError() << "cannot find clang++ to link the library";
  // The session API is called by users only, so nothing in the generated code pulls its object
  // out of the runtime archive: ask for it by name.
  SmallVector<StringRef> args = {*linker, "-shared", "-o", options.libraryPath, objPath,
                                 "-Wl,-u,qopt_session_create"};
  // A CUDA library (qopt-lower-gpu-kernels embedded its kernels) takes the runtime's GPU half,
  // which opens the driver with dlopen.
  bool cuda = llvmModule->getGlobalVariable("qopt_cuda_images") != nullptr;
  if (cuda)
    args.push_back("-Wl,-u,qopt_cuda_create");
  args.append({options.runtimeArchive, "-lopenblas", "-pthread", "-Wl,--no-undefined"});
  if (cuda)
    args.push_back("-ldl");
  std::string linkError;
  int status = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0, &linkError);
  if (status != 0)
    return module.emitError() << "linking " << options.libraryPath << " failed"
                              << (linkError.empty() ? "" : ": " + linkError);

  std::error_code ec;
  llvm::raw_fd_ostream header(options.headerPath, ec);
  if (ec)
    return module.emitError() << "cannot write " << options.headerPath << ": " << ec.message();
  header << "/* Generated by qopt-compile. The model's inputs and outputs\n"
            " * (in|out NAME DTYPE RANK DIMS..., -1 where symbolic):\n";
  llvm::SmallVector<StringRef> lines;
  StringRef(options.signature).split(lines, '\n', -1, false);
  for (StringRef line : lines)
    header << " *   " << line << "\n";
  header << " */\n" << kABIHeader;
  return success();
}
