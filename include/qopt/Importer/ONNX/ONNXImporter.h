//===- ONNXImporter.h - ONNX models into the qopt dialect --------*- C++ -*-===//
//
// Translates an ONNX model (binary protobuf or ONNX's text syntax) into a module holding one
// `func.func @main` of qopt ops. Weights become dense resource blobs. Errors are reported as MLIR
// diagnostics that name the file and the offending node; nothing here throws or aborts.
//
#ifndef QOPT_IMPORTER_ONNX_ONNXIMPORTER_H
#define QOPT_IMPORTER_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include <map>
#include <string>
#include <functional>
#include <vector>

namespace qopt::onnx_importer {

struct ImportOptions {
  /// Replaces the declared shape of named graph inputs (e.g. to make a symbolic length static).
  std::map<std::string, std::vector<int64_t>> inputShapes;
  /// Called with each part of the model's bytes the parser is done with (they are not read
  /// again), so that a caller can drop them from memory while the rest is parsed.
  std::function<void(llvm::StringRef)> releaseParsed;
};

/// Imports the model at `path`. External data is resolved inside the model's own folder.
mlir::OwningOpRef<mlir::ModuleOp> importONNXFile(llvm::StringRef path, mlir::MLIRContext *ctx,
                                                 const ImportOptions &options = {});

/// Imports a model held in memory; `displayName` names it in diagnostics and `modelDir` is where
/// external data files are looked up.
mlir::OwningOpRef<mlir::ModuleOp> importONNXBuffer(llvm::StringRef buffer,
                                                   llvm::StringRef displayName,
                                                   llvm::StringRef modelDir,
                                                   mlir::MLIRContext *ctx,
                                                   const ImportOptions &options = {});

/// The default-domain opsets the importer accepts.
constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 23;

} // namespace qopt::onnx_importer

#endif // QOPT_IMPORTER_ONNX_ONNXIMPORTER_H
