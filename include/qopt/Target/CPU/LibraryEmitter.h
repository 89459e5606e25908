//===- LibraryEmitter.h - a compiled model as a shared library ---*- C++ -*-===//
#ifndef QOPT_TARGET_CPU_LIBRARYEMITTER_H
#define QOPT_TARGET_CPU_LIBRARYEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"
#include <string>

namespace qopt {

/// Where the pieces of a compiled model go and what they are linked with.
struct LibraryOptions {
  std::string libraryPath;     // model.so
  std::string headerPath;      // model.h
  std::string runtimeArchive;  // libqopt_runtime.a
  std::string signature;       // for the header's comment
  std::string cpu;             // LLVM CPU name to compile for (TargetCPU)
};

/// Translates an LLVM-dialect module to LLVM IR (for --compile-to=llvm).
mlir::LogicalResult printLLVMIR(mlir::ModuleOp module, llvm::raw_ostream &os);

/// Compiles an LLVM-dialect module for `options.cpu` and links it with the runtime into a shared
/// library, then writes the C header. Diagnostics go to the module's context.
mlir::LogicalResult emitLibrary(mlir::ModuleOp module, const LibraryOptions &options);

} // namespace qopt

#endif // QOPT_TARGET_CPU_LIBRARYEMITTER_H
