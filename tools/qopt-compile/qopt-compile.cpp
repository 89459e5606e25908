//===- qopt-compile.cpp - ONNX model in, compiled model out ---------------===//
//
// A thin driver: parses flags into the pipeline option structs, imports the model, runs the
// pipeline up to the requested stage and writes the result. Every failure is one diagnostic
// naming the file, node or flag, and exit code 1.
//
#include "qopt/Conversion/Passes.h"
#include "qopt/Importer/ONNX/ONNXImporter.h"
#include "qopt/Target/CPU/LibraryEmitter.h"
#include "qopt/InitAll.h"
#include "qopt/Pipelines/Pipelines.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SmallString.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class Stage { Import, Graph, Runtime, LLVM, Library };

cl::OptionCategory category("qopt-compile options");
cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"), cl::Required,
                               cl::cat(category));
cl::opt<std::string> outputFile("o", cl::desc("Output file"), cl::value_desc("file"),
                                cl::init("-"), cl::cat(category));
cl::opt<Stage> compileTo(
    "compile-to",
    cl::desc("Stop after a stage and write its IR (default: library for -o *.so, else graph)"),
    cl::values(clEnumValN(Stage::Import, "import", "the qopt dialect as imported"),
               clEnumValN(Stage::Graph, "graph",
                          "after shape refinement, folding and pattern raising"),
               clEnumValN(Stage::Runtime, "runtime", "LLVM dialect calling the kernel runtime"),
               clEnumValN(Stage::LLVM, "llvm", "LLVM IR"),
               clEnumValN(Stage::Library, "library",
                          "a shared library, its weights file and C header")),
    cl::cat(category));
cl::opt<std::string> runtimeLibrary(
    "runtime-lib", cl::desc("The kernel runtime archive to link (default: beside the tool)"),
    cl::value_desc("libqopt_runtime.a"), cl::cat(category), cl::Hidden);
cl::list<std::string> inputShapes(
    "input-shape", cl::desc("Fix the shape of a graph input, e.g. input_ids=1x128"),
    cl::value_desc("name=DxD..."), cl::cat(category));
cl::opt<bool> splitInputFile("split-input-file",
                             cl::desc("Import each '# -----' separated chunk on its own"),
                             cl::cat(category));

/// Prints diagnostics as `FILE[:LINE:COL]: error: message`, naming the model file.
void printDiagnostic(Diagnostic &diag) {
  std::string where = "qopt-compile";
  if (auto fileLoc = diag.getLocation()->findInstanceOf<FileLineColLoc>()) {
    where = fileLoc.getFilename().str();
    if (fileLoc.getLine() != 0)
      where += ":" + std::to_string(fileLoc.getLine()) + ":" + std::to_string(fileLoc.getColumn());
  }
  auto &os = llvm::errs();
  const char *kind = diag.getSeverity() == DiagnosticSeverity::Error     ? "error"
                     : diag.getSeverity() == DiagnosticSeverity::Warning ? "warning"
                                                                         : "note";
  os << where << ": " << kind << ": " << diag.str() << "\n";
  for (Diagnostic &note : diag.getNotes())
    os << where << ": note: " << note.str() << "\n";
}

bool parseInputShapes(qopt::onnx_importer::ImportOptions &options) {
  for (const std::string &spec : inputShapes) {
    auto [name, dims] = StringRef(spec).rsplit('=');
    std::vector<int64_t> shape;
    bool ok = !name.empty() && !dims.empty();
    SmallVector<StringRef> parts;
    dims.split(parts, 'x');
    for (StringRef part : parts) {
      int64_t d;
      if (part.getAsInteger(10, d) || d < 0)
        ok = false;
      shape.push_back(d);
    }
    if (!ok) {
      llvm::errs() << "qopt-compile: error: --input-shape='" << spec
                   << "' is not NAME=DIMxDIM... with non-negative sizes\n";
      return false;
    }
    options.inputShapes[name.str()] = shape;
  }
  return true;
}

/// Paths of what a library build writes next to `-o model.so`.
std::string siblingPath(StringRef libraryPath, StringRef extension) {
  SmallString<256> path(libraryPath);
  llvm::sys::path::replace_extension(path, extension);
  return path.str().str();
}

/// The signature text the conversion stored in the module.
std::string moduleSignature(ModuleOp module) {
  auto global = module.lookupSymbol<LLVM::GlobalOp>("qopt_signature");
  auto text = global ? dyn_cast_or_null<StringAttr>(global.getValueOrNull()) : StringAttr();
  return text ? text.getValue().rtrim(StringRef("\0", 1)).str() : "";
}

LogicalResult compileBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, raw_ostream &os,
                            const qopt::onnx_importer::ImportOptions &importOptions,
                            StringRef modelDir, Stage stage) {
  DialectRegistry registry;
  qopt::registerAllDialects(registry);
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  ScopedDiagnosticHandler handler(&context, [](Diagnostic &diag) {
    printDiagnostic(diag);
    return success();
  });
  OwningOpRef<ModuleOp> module = qopt::onnx_importer::importONNXBuffer(
      buffer->getBuffer(), inputFile, modelDir, &context, importOptions);
  if (!module)
    return failure();
  if (failed(verify(*module)))
    return failure();
  if (stage != Stage::Import) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    qopt::buildGraphPipeline(pm, qopt::GraphPipelineOptions());
    if (stage >= Stage::Runtime) {
      qopt::ConvertQOptToRuntimePassOptions lowering;
      if (stage == Stage::Library)
        lowering.weightsFile = siblingPath(outputFile, "weights");
      pm.addPass(qopt::createConvertQOptToRuntimePass(lowering));
    }
    if (failed(pm.run(*module)))
      return failure();
  }
  if (stage == Stage::LLVM)
    return qopt::printLLVMIR(*module, os);
  if (stage == Stage::Library) {
    qopt::LibraryOptions options;
    options.libraryPath = outputFile;
    options.headerPath = siblingPath(outputFile, "h");
    options.signature = moduleSignature(*module);
    options.runtimeArchive = runtimeLibrary;
    if (options.runtimeArchive.empty()) {
      // The archive is installed beside the tools: bin/../lib/libqopt_runtime.a.
      SmallString<256> path(llvm::sys::fs::getMainExecutable(nullptr, nullptr));
      llvm::sys::path::remove_filename(path);
      llvm::sys::path::append(path, "..", "lib", "libqopt_runtime.a");
      options.runtimeArchive = path.str().str();
    }
    return qopt::emitLibrary(*module, options);
  }
  module->print(os);
  os << "\n";
  return success();
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  cl::HideUnrelatedOptions({&category, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(argc, argv, "qopt: quantizing compiler for ONNX transformer models\n");

  qopt::onnx_importer::ImportOptions importOptions;
  if (!parseInputShapes(importOptions))
    return 1;
  Stage stage = compileTo.getNumOccurrences()
                    ? compileTo.getValue()
                    : (StringRef(outputFile).ends_with(".so") ? Stage::Library : Stage::Graph);
  if (stage == Stage::Library && (outputFile == "-" || splitInputFile)) {
    llvm::errs() << "qopt-compile: error: a library needs an output file: -o model.so\n";
    return 1;
  }

  std::string errorMessage;
  auto buffer = openInputFile(inputFile, &errorMessage);
  if (!buffer) {
    llvm::errs() << inputFile << ": error: cannot open the model: " << errorMessage << "\n";
    return 1;
  }
  SmallString<256> modelDir(inputFile);
  llvm::sys::path::remove_filename(modelDir);
  if (modelDir.empty())
    modelDir = ".";

  // Nothing is written unless the whole compilation succeeds.
  std::string result;
  llvm::raw_string_ostream os(result);
  auto processChunk = [&](std::unique_ptr<llvm::MemoryBuffer> chunk,
                          raw_ostream &out) -> LogicalResult {
    return compileBuffer(std::move(chunk), out, importOptions, modelDir, stage);
  };
  // In split mode every chunk is compiled and reported; one failed chunk fails the run.
  LogicalResult status =
      splitInputFile
          ? splitAndProcessBuffer(std::move(buffer), NoSourceChunkBufferHandler(processChunk), os,
                                  "# -----", "// -----")
          : compileBuffer(std::move(buffer), os, importOptions, modelDir, stage);
  if (failed(status))
    return 1;
  if (stage == Stage::Library)
    return 0; // The emitter wrote the library, its weights and header.
  auto output = openOutputFile(outputFile, &errorMessage);
  if (!output) {
    llvm::errs() << "qopt-compile: error: -o " << outputFile << ": " << errorMessage << "\n";
    return 1;
  }
  output->os() << result;
  output->keep();
  return 0;
}
