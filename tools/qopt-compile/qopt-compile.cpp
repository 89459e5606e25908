//===- qopt-compile.cpp - ONNX model in, compiled model out ---------------===//
//
// A thin driver: parses flags into the pipeline option structs, imports the model, runs the
// pipeline up to the requested stage and writes the result. Every failure is one diagnostic
// naming the file, node or flag, and exit code 1.
//
#include "qopt/Importer/ONNX/ONNXImporter.h"
#include "qopt/InitAll.h"
#include "qopt/Pipelines/Pipelines.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SmallString.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class Stage { Import, Graph };

cl::OptionCategory category("qopt-compile options");
cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"), cl::Required,
                               cl::cat(category));
cl::opt<std::string> outputFile("o", cl::desc("Output file"), cl::value_desc("file"),
                                cl::init("-"), cl::cat(category));
cl::opt<Stage> compileTo(
    "compile-to", cl::desc("Stop after a stage and write its IR"), cl::init(Stage::Graph),
    cl::values(clEnumValN(Stage::Import, "import", "the qopt dialect as imported"),
               clEnumValN(Stage::Graph, "graph",
                          "after shape refinement, folding and pattern raising")),
    cl::cat(category));
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

LogicalResult compileBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, raw_ostream &os,
                            const qopt::onnx_importer::ImportOptions &importOptions,
                            StringRef modelDir) {
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
  if (compileTo != Stage::Import) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    qopt::buildGraphPipeline(pm, qopt::GraphPipelineOptions());
    if (failed(pm.run(*module)))
      return failure();
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
  if (StringRef(outputFile).ends_with(".so")) {
    llvm::errs() << "qopt-compile: error: -o " << outputFile
                 << ": writing a shared library needs code generation, which this build does not "
                    "have yet; use --compile-to=import or --compile-to=graph with an .mlir output\n";
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
    return compileBuffer(std::move(chunk), out, importOptions, modelDir);
  };
  // In split mode every chunk is compiled and reported; one failed chunk fails the run.
  LogicalResult status =
      splitInputFile
          ? splitAndProcessBuffer(std::move(buffer), NoSourceChunkBufferHandler(processChunk), os,
                                  "# -----", "// -----")
          : compileBuffer(std::move(buffer), os, importOptions, modelDir);
  if (failed(status))
    return 1;
  auto output = openOutputFile(outputFile, &errorMessage);
  if (!output) {
    llvm::errs() << "qopt-compile: error: -o " << outputFile << ": " << errorMessage << "\n";
    return 1;
  }
  output->os() << result;
  output->keep();
  return 0;
}
