//===- TargetCPU.cpp - the CPU a model is compiled for --------------------===//
//
// The kernels' shapes (vector width, panel width, register blocks) and LLVM's instruction
// selection both follow the target CPU. By default that is the compiling machine; a build
// pipeline that compiles for other machines names their CPU.
//
#include "qopt/Target/CPU/TargetCPU.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <memory>

llvm::Expected<qopt::TargetCPU> qopt::resolveTargetCPU(llvm::StringRef name) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  TargetCPU cpu;
  if (name == "native") {
    // The host's features as the OS reports them (AVX-512 may be switched off).
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    cpu.name = llvm::sys::getHostCPUName().str();
    if (!features.lookup("avx2") || !features.lookup("fma"))
      return error("this machine's CPU (" + cpu.name +
                   ") lacks AVX2 and FMA, which compiled models need");
    cpu.vectorBits = features.lookup("avx512f") ? 512 : 256;
    cpu.avx512Vnni = features.lookup("avx512f") && features.lookup("avx512bw") &&
                     features.lookup("avx512vl") && features.lookup("avx512vnni");
    return cpu;
  }
  llvm::InitializeNativeTarget();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string message;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, message);
  if (!target)
    return error("no code generator for " + triple.str() + ": " + message);
  // The name is checked against a generic subtarget's table first: building a subtarget for an
  // unknown name prints LLVM's own warning.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(target->createMCSubtargetInfo(triple, "", ""));
  if (!generic || !generic->isCPUStringValid(name))
    return error("unknown CPU '" + name + "' (an LLVM CPU name such as haswell, skylake-avx512 " +
                 "or znver4, or native)");
  std::unique_ptr<llvm::MCSubtargetInfo> info(target->createMCSubtargetInfo(triple, name, ""));
  if (!info->checkFeatures("+avx2,+fma"))
    return error("CPU '" + name + "' lacks AVX2 and FMA, which compiled models need");
  cpu.name = name.str();
  cpu.vectorBits = info->checkFeatures("+avx512f") ? 512 : 256;
  cpu.avx512Vnni = info->checkFeatures("+avx512f,+avx512bw,+avx512vl,+avx512vnni");
  return cpu;
}
