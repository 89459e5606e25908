//===- qopt-compile.cpp - ONNX model in, compiled model out ---------------===//
//
// A thin driver: parses flags into the pipeline option structs, imports the model, runs the
// pipeline up to the requested stage and writes the result. Every failure is one diagnostic
// naming the file, node or flag, and exit code 1.
//
#include "qopt/Calibration/Calibrator.h"
#include "qopt/Calibration/KernelCosts.h"
#include "qopt/Calibration/Sensitivity.h"
#include "qopt/Precision/PlanFiles.h"
#include "qopt/Precision/PlanReport.h"
#include "qopt/Quant/PrecisionCandidates.h"
#include "qopt/Quant/ActivationRange.h"
#include "qopt/Conversion/Passes.h"
#include "qopt/Export/ONNXExport.h"
#include "qopt/Importer/ONNX/ONNXImporter.h"
#include "qopt/Target/CPU/LibraryEmitter.h"
#include "qopt/Target/CPU/TargetCPU.h"
#include "qopt/InitAll.h"
#include "qopt/Pipelines/Pipelines.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SmallString.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <sys/mman.h>
#include <unistd.h>

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class Stage { Import, Graph, Quant, QAT, Fused, Runtime, LLVM, Library };
enum class Emit { Library, QATONNX, ONNX };

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
               clEnumValN(Stage::Quant, "quant",
                          "after precision selection and weight quantization"),
               clEnumValN(Stage::QAT, "qat",
                          "the quantized layers in trainable form: fake-quant weights (and "
                          "activations) starting from the quantized values"),
               clEnumValN(Stage::Fused, "fused",
                          "after elementwise fusion (qopt.fused_elementwise)"),
               clEnumValN(Stage::Runtime, "runtime",
                          "LLVM dialect: generated kernels and calls into the kernel runtime"),
               clEnumValN(Stage::LLVM, "llvm", "LLVM IR"),
               clEnumValN(Stage::Library, "library",
                          "a shared library, its weights file and C header")),
    cl::cat(category));
cl::opt<Emit> emitFlag(
    "emit", cl::desc("What -o receives once the model is quantized (default: library)"),
    cl::values(clEnumValN(Emit::Library, "library", "a shared library (or the --compile-to stage)"),
               clEnumValN(Emit::QATONNX, "qat-onnx",
                          "ONNX for quantization-aware training: QuantizeLinear/DequantizeLinear "
                          "(opset 21) on every quantized weight, scales as initializers"),
               clEnumValN(Emit::ONNX, "onnx",
                          "ONNX for ONNX Runtime: MatMulNBits where it holds the scheme, "
                          "DequantizeLinear of the codes elsewhere")),
    cl::init(Emit::Library), cl::cat(category));
cl::opt<int> onnxAccuracyLevel(
    "onnx-accuracy-level",
    cl::desc("MatMulNBits accuracy_level of --emit=onnx (default: 4 where qopt quantizes the "
             "layer's activations to int8, else 0)"),
    cl::init(-1), cl::cat(category));
cl::opt<std::string> runtimeLibrary(
    "runtime-lib", cl::desc("The kernel runtime archive to link (default: beside the tool)"),
    cl::value_desc("libqopt_runtime.a"), cl::cat(category), cl::Hidden);
cl::list<std::string> inputShapes(
    "input-shape", cl::desc("Fix the shape of a graph input, e.g. input_ids=1x128"),
    cl::value_desc("name=DxD..."), cl::cat(category));
cl::opt<bool> fuseElementwise(
    "fuse-elementwise",
    cl::desc("Generate fused loops for chains of f32 elementwise ops (default on; off runs each "
             "op as a runtime kernel)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> fuseAttention(
    "fuse-attention",
    cl::desc("Run attention chains as one kernel that reads keys and values in place, and let a "
             "generation session append to KV-cache inputs in place (default on)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> generateMatMul(
    "generate-matmul",
    cl::desc("Generate register-tiled kernels for f32 matmuls: linear layers on packed weights with "
             "fused epilogues, and products of two activations (default on; off calls BLAS)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> packChannelPanels(
    "pack-channel-panels",
    cl::desc("Store 4-bit weights in panels of 16 output channels, the layout the AVX-512 VNNI "
             "kernels read (default on where --cpu has AVX-512 VNNI)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> generateRowKernels(
    "generate-row-kernels",
    cl::desc("Generate vector kernels for softmax, RMSNorm and LayerNorm (default on; off calls the "
             "runtime's kernels)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> generateDataKernels(
    "generate-data-kernels",
    cl::desc("Generate kernels for data movement (transpose, slice, split, concat, expand, tile, "
             "gather, gather_elements, gather_nd), f32 and i64 reductions, range, trilu, "
             "cum_sum and constant_of_shape (default on; off calls the runtime's loops)"),
    cl::init(true), cl::cat(category));
cl::opt<std::string> cpuFlag(
    "cpu",
    cl::desc("Compile for this CPU: an LLVM CPU name such as haswell (AVX2), skylake-avx512 or "
             "znver4 (AVX-512); default native, the machine compiling"),
    cl::value_desc("name"), cl::init("native"), cl::cat(category));
enum class Target { CPU, CUDA };
cl::opt<Target> targetFlag(
    "target", cl::desc("Where the compiled model runs (default cpu)"),
    cl::values(clEnumValN(Target::CPU, "cpu", "the CPU (--cpu)"),
               clEnumValN(Target::CUDA, "cuda",
                          "NVIDIA GPUs (--cuda-arch): the quantized matmuls, norms, softmax and "
                          "elementwise chains run on the GPU, the rest on the CPU")),
    cl::init(Target::CPU), cl::cat(category));
cl::opt<std::string> cudaArch(
    "cuda-arch", cl::desc("GPU architectures of --target=cuda, comma-separated (default "
                          "sm_80,sm_90: machine code for each, and PTX)"),
    cl::value_desc("sm_NN,..."), cl::init("sm_80,sm_90"), cl::cat(category));
cl::opt<std::string> cudaToolkit(
    "cuda-toolkit", cl::desc("The CUDA toolkit whose ptxas and fatbinary --target=cuda uses "
                             "(default $CUDA_PATH, else /usr/local/cuda)"),
    cl::value_desc("dir"), cl::cat(category));
cl::opt<bool> splitInputFile("split-input-file",
                             cl::desc("Import each '# -----' separated chunk on its own"),
                             cl::cat(category));

cl::OptionCategory quantCategory("weight quantization");
cl::opt<unsigned> wbits("wbits", cl::desc("Quantize the weights of linear layers to 2, 3, 4 or 8 bits"),
                        cl::value_desc("bits"), cl::init(0), cl::cat(quantCategory));
cl::opt<std::string> groupSizeFlag(
    "group-size", cl::desc("Weights per scale along the input dimension, or 'channel' (default 128)"),
    cl::value_desc("N|channel"), cl::init("128"), cl::cat(quantCategory));
cl::opt<bool> symFlag("sym", cl::desc("Symmetric quantization (the default)"), cl::cat(quantCategory));
cl::opt<bool> asymFlag("asym", cl::desc("Asymmetric quantization with a zero point per group"),
                       cl::cat(quantCategory));
cl::opt<std::string> wtype("wtype", cl::desc("Weight codebook: int, nf4, fp4 or fp8 (e4m3)"),
                           cl::value_desc("int|nf4|fp4|fp8"), cl::init("int"),
                           cl::cat(quantCategory));
cl::opt<std::string> scaleTypeFlag("scale-type", cl::desc("Scale storage: f16 (default), bf16 or f32"),
                                   cl::value_desc("f16|bf16|f32"), cl::init("f16"),
                                   cl::cat(quantCategory));
cl::opt<bool> doubleQuant("double-quant",
                          cl::desc("Quantize the scales to 8 bits in blocks of 256 (QLoRA)"),
                          cl::cat(quantCategory));
cl::opt<bool> int8Activations(
    "int8-activations",
    cl::desc("The same as --activations=int8-dynamic"), cl::cat(quantCategory));
cl::opt<std::string> activationsFlag(
    "activations",
    cl::desc("Inputs of the quantized matmuls: none (f32, default), int8-dynamic (4- and "
             "8-bit integer codes; quantized per group at run time: integer dot products, about "
             "twice as fast when decoding), int8-static (one scale per tensor from calibration) "
             "or bf16 (rounded to bf16: AVX-512-BF16 pair dot products on CPUs that have them)"),
    cl::value_desc("none|int8-dynamic|int8-static|bf16"), cl::init("none"), cl::cat(quantCategory));
cl::opt<std::string> calibratorFlag(
    "calibrator",
    cl::desc("int8-static ranges: minmax (default), percentile, mse or entropy (KL divergence)"),
    cl::value_desc("name"), cl::init("minmax"), cl::cat(quantCategory));
cl::opt<double> percentileFlag("percentile",
                               cl::desc("The percentile calibrator's percentile (default 99.99)"),
                               cl::init(99.99), cl::cat(quantCategory));
cl::opt<double> smoothAlpha("smooth-alpha",
                            cl::desc("SmoothQuant's migration strength (default 0.5)"),
                            cl::init(0.5), cl::cat(quantCategory));
cl::opt<bool> quantizeEmbeddings("quantize-embeddings",
                                 cl::desc("Quantize the embeddings and the output head too"),
                                 cl::cat(quantCategory));
cl::opt<std::string> layerBits(
    "layer-bits", cl::desc("Per-layer bits by name, first match wins: 'REGEX=BITS|none,...'"),
    cl::value_desc("rules"), cl::cat(quantCategory));
cl::opt<bool> mergeAdapters(
    "merge-adapters",
    cl::desc("Fold LoRA adapters (x·W + x·A·B·s) into their base weights before quantization, "
             "instead of keeping them as float matmuls beside the quantized base"),
    cl::cat(quantCategory));
cl::opt<std::string> loraBase(
    "lora-base",
    cl::desc("Scheme of the base layers of LoRA adapters: nf4dq (QLoRA's NF4, blocks of 64, "
             "double-quantized scales; default) or flags (the other layers' scheme)"),
    cl::value_desc("nf4dq|flags"), cl::init("nf4dq"), cl::cat(quantCategory));
cl::opt<bool> requantize("requantize",
                          cl::desc("Quantize a model that arrived quantized again: expand its "
                                   "weights to f32, then apply the flags' scheme"),
                          cl::cat(quantCategory));
cl::opt<std::string> algorithmFlag(
    "algorithm",
    cl::desc("rtn (round to nearest, default), gptq, awq, awq+gptq (AWQ's scales and "
             "clipping, then GPTQ), smoothquant or smoothquant+gptq (for int8 activations); all "
             "but rtn need calibration"),
    cl::value_desc("rtn|gptq|awq|awq+gptq|smoothquant|smoothquant+gptq"), cl::init("rtn"), cl::cat(quantCategory));
cl::opt<std::string> calibrationData(
    "calibration",
    cl::desc("Calibration data: a text file read as bytes, or an .npy of int64/int32 token "
             "windows [N, seq]"),
    cl::value_desc("file"), cl::cat(quantCategory));
cl::opt<int64_t> calibrationSamples("calibration-samples",
                                    cl::desc("Calibration windows (default 128)"),
                                    cl::init(128), cl::cat(quantCategory));
cl::opt<int64_t> calibrationSeq(
    "calibration-seq",
    cl::desc("Tokens per calibration window (default: the model's length, else 256)"),
    cl::init(0), cl::cat(quantCategory));
cl::opt<std::string> saveCalibration("save-calibration",
                                     cl::desc("Write the calibration statistics to a file"),
                                     cl::value_desc("file"), cl::cat(quantCategory));
cl::opt<std::string> loadCalibration(
    "load-calibration", cl::desc("Use calibration statistics saved by --save-calibration"),
    cl::value_desc("file"), cl::cat(quantCategory));
cl::opt<double> dampening("dampening",
                          cl::desc("GPTQ: Hessian dampening, a fraction of its mean diagonal "
                                   "(default 0.01)"),
                          cl::init(0.01), cl::cat(quantCategory));
cl::opt<int64_t> gptqBlockSize("gptq-block-size",
                               cl::desc("GPTQ: columns per lazy batch update (default 128)"),
                               cl::init(128), cl::cat(quantCategory));
cl::opt<bool> actOrder("act-order",
                       cl::desc("GPTQ: quantize columns in order of decreasing activation "
                                "energy (static groups: same packed format)"),
                       cl::cat(quantCategory));
cl::opt<cl::boolOrDefault> sequential(
    "sequential",
    cl::desc("GPTQ: measure each block's statistics with the blocks before it already "
             "quantized, as the published algorithm runs (one more calibration per block; on "
             "by default for gptq and awq+gptq with --calibration)"),
    cl::cat(quantCategory));
cl::opt<bool> awqClip("awq-clip",
                      cl::desc("AWQ: search a clipping range for each group of weights (default "
                               "on)"),
                      cl::init(true), cl::cat(quantCategory));
cl::opt<bool> foldOnly("fold-only",
                       cl::desc("Fold the algorithm's scales but keep the weights f32 (checks "
                                "that folding keeps the function)"),
                       cl::cat(quantCategory), cl::Hidden);
cl::opt<double> outliersFlag(
    "outliers",
    cl::desc("Keep this fraction of each linear layer's weights in f16 beside the codes, those "
             "whose rounding costs most (SpQR-style, e.g. 0.01); they count in bits per weight"),
    cl::value_desc("fraction"), cl::init(0.0), cl::cat(quantCategory));
cl::opt<bool> quiet("quiet", cl::desc("No progress on standard error"), cl::cat(quantCategory));
cl::opt<std::string> reportFile("report",
                                cl::desc("Write a JSON report of every quantized layer"),
                                cl::value_desc("report.json"), cl::cat(quantCategory));

cl::OptionCategory precisionCategory("mixed precision (one budget; needs calibration)");
cl::opt<double> targetBits("target-bits",
                           cl::desc("Average bits per weight of the quantized layers, scales "
                                    "included, e.g. 3.5"),
                           cl::value_desc("bits"), cl::init(0.0), cl::cat(precisionCategory));
cl::opt<std::string> targetSize("target-size",
                                cl::desc("Size of the weights file, e.g. 5MB, 800KiB or bytes"),
                                cl::value_desc("size"), cl::cat(precisionCategory));
cl::opt<double> targetLatency(
    "target-latency",
    cl::desc("Decode time per token on this machine, in milliseconds: kernels chosen by their "
             "measured time, not their bits"),
    cl::value_desc("ms"), cl::init(0.0), cl::cat(precisionCategory));
cl::opt<std::string> costTable(
    "cost-table",
    cl::desc("Kernel times for --target-latency: read, extended and written back (default "
             "$XDG_CACHE_HOME/qopt/kernel-costs.json; 'none' measures every time)"),
    cl::value_desc("file"), cl::cat(precisionCategory));
cl::opt<int> latencyThreads("latency-threads",
                            cl::desc("Threads the latency is measured with (default 0: all cores, "
                                     "as qopt-run runs)"),
                            cl::init(0), cl::cat(precisionCategory));
cl::opt<double> maxLoss("max-loss",
                        cl::desc("The smallest model whose estimated loss increase (nats per "
                                 "token) stays under this"),
                        cl::value_desc("nats"), cl::init(-1.0), cl::cat(precisionCategory));
cl::opt<std::string> candidatesFlag(
    "candidates",
    cl::desc("Schemes a layer may take: intN[gG|ch][asym], nf4, fp4, fp8, f32, or a preset "
             "(default: int2g64,int3g128,int3g64,int4g128,int4g64,int8g128; int; wide)"),
    cl::value_desc("list"), cl::init("default"), cl::cat(precisionCategory));
cl::opt<std::string> sensitivityFlag(
    "sensitivity",
    cl::desc("How each layer's loss per candidate is estimated: measured (the KL divergence of "
             "the model's output with only that layer quantized, for every candidate), hybrid "
             "(measured at two candidates, carried to the others by their output errors), "
             "hessian (output errors only) or auto (default: measured where that takes a few "
             "minutes, else hybrid)"),
    cl::value_desc("auto|measured|hybrid|hessian"), cl::init("auto"), cl::cat(precisionCategory));
cl::opt<int64_t> sensitivityWindows("sensitivity-windows",
                                    cl::desc("Calibration windows the KL divergence is measured "
                                             "on (default 8)"),
                                    cl::init(8), cl::cat(precisionCategory));
cl::opt<bool> dryRun("dry-run",
                     cl::desc("Print the plan (and write --report/--report-html) without "
                              "compiling"),
                     cl::cat(precisionCategory));
cl::opt<std::string> planFile("plan",
                              cl::desc("Replay the plan of a report written with --report"),
                              cl::value_desc("report.json"), cl::cat(precisionCategory));
cl::opt<std::string> reportHtml("report-html",
                                cl::desc("Write the plan as one self-contained HTML page"),
                                cl::value_desc("report.html"), cl::cat(precisionCategory));

/// Whether GPTQ's statistics are measured block by block (decided with the other flags).
bool runSequential = false;

/// `5MB`, `800KiB`, `1.5GB` or a byte count; -1 when it is none of these.
int64_t parseSize(StringRef text) {
  static const std::pair<const char *, double> units[] = {
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"KB", 1e3}, {"MB", 1e6},
      {"GB", 1e9},     {"kB", 1e3},        {"B", 1.0}};
  double scale = 1.0;
  for (auto [suffix, factor] : units)
    if (text.consume_back(suffix)) {
      scale = factor;
      break;
    }
  double value;
  // Anything past an exabyte is a typo, and would not fit the byte count.
  if (text.trim().getAsDouble(value) || !(value > 0.0) || !(value * scale < 1e18))
    return -1;
  return static_cast<int64_t>(value * scale);
}

/// The mixed-precision flags into `o`, or a diagnostic naming the bad flag.
bool parsePrecisionFlags(qopt::QuantizationPipelineOptions &o, bool calibrated) {
  auto bad = [](const std::string &msg) {
    llvm::errs() << "qopt-compile: error: " << msg << "\n";
    return false;
  };
  int budgets = targetBits.getNumOccurrences() + targetSize.getNumOccurrences() +
                maxLoss.getNumOccurrences() + targetLatency.getNumOccurrences();
  if (budgets > 1)
    return bad("--target-bits, --target-size, --max-loss and --target-latency exclude each "
               "other: give one budget");
  if (targetLatency.getNumOccurrences() && !(targetLatency > 0.0 && targetLatency < 1e9))
    return bad("--target-latency: expected milliseconds per token, more than 0");
  if ((costTable.getNumOccurrences() || latencyThreads.getNumOccurrences()) &&
      !targetLatency.getNumOccurrences())
    return bad("--cost-table and --latency-threads apply to --target-latency");
  if (latencyThreads < 0)
    return bad("--latency-threads: expected a count (0: all cores)");
  if (targetBits.getNumOccurrences() && !(targetBits > 0.0 && targetBits <= 32.0))
    return bad("--target-bits: expected bits per weight in (0, 32]");
  int64_t size = 0;
  if (targetSize.getNumOccurrences() && (size = parseSize(targetSize)) <= 0)
    return bad("--target-size=" + targetSize + ": expected a size such as 5MB, 800KiB or 123456");
  if (maxLoss.getNumOccurrences() && !(maxLoss >= 0.0))
    return bad("--max-loss: expected a non-negative loss increase");
  if (!qopt::parseSensitivityMethod(sensitivityFlag))
    return bad("--sensitivity=" + sensitivityFlag + ": expected auto, measured, hybrid or hessian");
  if (sensitivityWindows <= 0)
    return bad("--sensitivity-windows: expected a positive count");
  bool anyPrecisionFlag = candidatesFlag.getNumOccurrences() ||
                          sensitivityFlag.getNumOccurrences() ||
                          sensitivityWindows.getNumOccurrences() || dryRun ||
                          reportHtml.getNumOccurrences();
  if (!planFile.empty() && budgets)
    return bad("--plan replays a plan: it excludes the budgets (--target-bits, --target-size, "
               "--max-loss, --target-latency)");
  if (anyPrecisionFlag && !budgets && planFile.empty())
    return bad("--candidates, --sensitivity, --dry-run and --report-html need a budget "
               "(--target-bits, --target-size, --max-loss or --target-latency) or --plan");
  if (budgets && !calibrated)
    return bad("a mixed-precision budget measures each layer's sensitivity: it needs "
               "--calibration=FILE or --load-calibration=FILE");
  if (budgets) {
    qopt::quant::Scheme defaults;
    std::string error;
    if (!qopt::quant::parseCandidates(candidatesFlag, defaults, error))
      return bad("--candidates: " + error);
  }
  o.candidates = candidatesFlag;
  o.targetBits = targetBits;
  o.targetSize = size;
  o.maxLoss = maxLoss;
  o.targetLatency = targetLatency;
  return true;
}

/// The quantization options from the flags, or a diagnostic naming the bad flag.
bool parseQuantFlags(qopt::QuantizationPipelineOptions &o, bool &enabled) {
  auto bad = [](const std::string &msg) {
    llvm::errs() << "qopt-compile: error: " << msg << "\n";
    return false;
  };
  bool anyQuantFlag = groupSizeFlag.getNumOccurrences() || symFlag || asymFlag ||
                      wtype.getNumOccurrences() || scaleTypeFlag.getNumOccurrences() ||
                      doubleQuant || quantizeEmbeddings || reportFile.getNumOccurrences() ||
                      requantize || int8Activations || algorithmFlag.getNumOccurrences() ||
                      activationsFlag.getNumOccurrences() || smoothAlpha.getNumOccurrences() ||
                      outliersFlag.getNumOccurrences() ||
                      calibrationData.getNumOccurrences() || loadCalibration.getNumOccurrences() ||
                      actOrder || sequential.getNumOccurrences();
  bool mixed = targetBits.getNumOccurrences() || targetSize.getNumOccurrences() ||
               maxLoss.getNumOccurrences() || targetLatency.getNumOccurrences() ||
               planFile.getNumOccurrences();
  enabled = wbits.getNumOccurrences() || !layerBits.empty() || wtype != "int" || mixed;
  if (anyQuantFlag && !enabled)
    return bad("quantization flags need --wbits (or --layer-bits, or a --wtype codebook)");
  if (wbits.getNumOccurrences() && (wbits < 2 || wbits > 8))
    return bad("--wbits=" + std::to_string(wbits) + ": expected 2 to 8");
  if (wtype != "int" && wtype != "nf4" && wtype != "fp4" && wtype != "fp8")
    return bad("--wtype=" + wtype + ": expected int, nf4, fp4 or fp8");
  unsigned bits = wbits.getNumOccurrences() ? wbits.getValue() : (wtype == "fp8" ? 8 : 4);
  if ((wtype == "nf4" || wtype == "fp4") && bits != 4)
    return bad("--wtype=" + wtype + " has 4-bit codes; it cannot be combined with --wbits=" +
               std::to_string(bits));
  if (wtype == "fp8" && bits != 8)
    return bad("--wtype=fp8 has 8-bit codes; it cannot be combined with --wbits=" +
               std::to_string(bits));
  if (symFlag && asymFlag)
    return bad("--sym and --asym exclude each other");
  if (asymFlag && wtype != "int")
    return bad("--asym: only --wtype=int has zero points");
  if (scaleTypeFlag != "f16" && scaleTypeFlag != "bf16" && scaleTypeFlag != "f32")
    return bad("--scale-type=" + scaleTypeFlag + ": expected f16, bf16 or f32");
  int64_t group = 0;
  if (groupSizeFlag != "channel" &&
      (StringRef(groupSizeFlag).getAsInteger(10, group) || group <= 0))
    return bad("--group-size=" + groupSizeFlag + ": expected a positive integer or 'channel'");
  std::string algorithm = algorithmFlag;
  if (algorithm != "rtn" && algorithm != "gptq" && algorithm != "awq" && algorithm != "awq+gptq" &&
      algorithm != "smoothquant" && algorithm != "smoothquant+gptq")
    return bad("--algorithm=" + algorithm +
               ": expected rtn, gptq, awq, awq+gptq, smoothquant or smoothquant+gptq");
  std::string activations = activationsFlag;
  if (activations != "none" && activations != "int8-dynamic" && activations != "int8-static" &&
      activations != "bf16")
    return bad("--activations=" + activations +
               ": expected none, int8-dynamic, int8-static or bf16");
  if (int8Activations && (activations == "int8-static" || activations == "bf16"))
    return bad("--int8-activations (int8-dynamic) and --activations=" + activations +
               " exclude each other");
  if (int8Activations)
    activations = "int8-dynamic";
  if (activations != "none" && activations != "bf16" && wtype != "int")
    return bad("--activations=" + activations + " needs integer codes, not --wtype=" + wtype);
  if (activations == "int8-static" && calibrationData.empty() && loadCalibration.empty())
    return bad("--activations=int8-static needs calibration data: --calibration=FILE or "
               "--load-calibration=FILE");
  if (calibratorFlag.getNumOccurrences() && activations != "int8-static")
    return bad("--calibrator applies to --activations=int8-static");
  if (!qopt::quant::parseRangeCalibrator(calibratorFlag))
    return bad("--calibrator=" + calibratorFlag + ": expected minmax, percentile, mse or entropy");
  if (!(percentileFlag > 0.0 && percentileFlag <= 100.0))
    return bad("--percentile: expected a value in (0, 100]");
  if (!(outliersFlag >= 0.0 && outliersFlag <= 1.0))
    return bad("--outliers: expected a fraction in [0, 1]");
  if (!(smoothAlpha >= 0.0 && smoothAlpha <= 1.0))
    return bad("--smooth-alpha: expected a value in [0, 1]");
  bool calibrated = !calibrationData.empty() || !loadCalibration.empty();
  if (algorithm != "rtn" && !calibrated)
    return bad("--algorithm=" + algorithm +
               " needs calibration data: --calibration=FILE or --load-calibration=FILE");
  if (!calibrationData.empty() && !loadCalibration.empty())
    return bad("--calibration and --load-calibration exclude each other");
  if (!saveCalibration.empty() && calibrationData.empty())
    return bad("--save-calibration needs --calibration=FILE");
  if (calibrationSamples <= 0)
    return bad("--calibration-samples=" + std::to_string(calibrationSamples) +
               ": expected a positive count");
  if (calibrationSeq < 0)
    return bad("--calibration-seq=" + std::to_string(calibrationSeq) +
               ": expected a positive length");
  if (!(dampening > 0.0) || dampening > 10.0)
    return bad("--dampening: expected a fraction in (0, 10]");
  if (gptqBlockSize <= 0)
    return bad("--gptq-block-size: expected a positive count");
  if (actOrder && algorithm != "gptq" && algorithm != "awq+gptq")
    return bad("--act-order applies to --algorithm=gptq or awq+gptq");
  bool gptq = StringRef(algorithm).ends_with("gptq");
  if (sequential == cl::BOU_TRUE && !gptq)
    return bad("--sequential applies to --algorithm=gptq, awq+gptq or smoothquant+gptq");
  if (sequential == cl::BOU_TRUE && calibrationData.empty())
    return bad("--sequential calibrates block by block: it needs --calibration=FILE");
  runSequential = gptq && !calibrationData.empty() && sequential != cl::BOU_FALSE;
  // Mixed precision starts every layer from the flags' scheme (4 bits unless --wbits says).
  o.wbits = wbits.getNumOccurrences() || wtype != "int" || mixed ? bits : 0;
  o.groupSize = group;
  o.symmetric = !asymFlag;
  o.wtype = wtype;
  o.scaleType = scaleTypeFlag;
  o.doubleQuant = doubleQuant ? 256 : 0;
  o.quantizeEmbeddings = quantizeEmbeddings;
  o.layerBits = layerBits;
  if (loraBase != "nf4dq" && loraBase != "flags")
    return bad("--lora-base=" + loraBase + ": expected nf4dq or flags");
  o.loraBase = loraBase;
  o.activations = activations;
  o.calibrator = calibratorFlag;
  o.percentile = percentileFlag;
  o.smoothAlpha = smoothAlpha;
  o.algorithm = algorithm;
  o.dampening = dampening;
  o.blockSize = gptqBlockSize;
  o.actOrder = actOrder;
  o.awqClip = awqClip;
  o.outliers = outliersFlag;
  o.foldOnly = foldOnly;
  return parsePrecisionFlags(o, calibrated);
}

/// Bytes of all constants in the module.
int64_t constantBytes(ModuleOp module) {
  int64_t bytes = 0;
  module.walk([&](arith::ConstantOp c) {
    if (auto t = dyn_cast<RankedTensorType>(c.getType()); t && t.hasStaticShape())
      bytes += t.getNumElements() * std::max<int64_t>(1, t.getElementTypeBitWidth() / 8);
  });
  return bytes;
}

/// The summary table after quantization.
void printQuantizationSummary(const std::vector<qopt::QOpt::LayerQuantReport> &layers,
                              int64_t modelBefore, int64_t modelAfter, raw_ostream &os) {
  std::map<std::string, std::array<int64_t, 4>> byScheme; // layers, weights, before, after
  int64_t weights = 0, after = 0;
  for (const auto &l : layers) {
    auto &row = byScheme[l.scheme];
    row[0] += 1;
    row[1] += l.outFeatures * l.inFeatures;
    row[2] += l.bytesBefore;
    row[3] += l.bytesAfter;
    weights += l.outFeatures * l.inFeatures;
    after += l.bytesAfter;
  }
  os << llvm::format("%-58s %6s %12s %8s\n", "scheme", "layers", "weights", "bits/w");
  for (const auto &[scheme, row] : byScheme)
    os << llvm::format("%-58s %6lld %12lld %8.3f\n", scheme.c_str(), (long long)row[0],
                       (long long)row[1], row[1] ? 8.0 * row[3] / row[1] : 0.0);
  os << llvm::format("model: %.2f MB -> %.2f MB (%.2fx smaller); quantized layers: %.3f bits per "
                     "weight including scales\n",
                     modelBefore / 1e6, modelAfter / 1e6,
                     modelAfter ? double(modelBefore) / modelAfter : 0.0,
                     weights ? 8.0 * after / weights : 0.0);
}

/// Paths of what a library build writes next to `-o model.so`.
std::string siblingPath(StringRef libraryPath, StringRef extension) {
  SmallString<256> path(libraryPath);
  llvm::sys::path::replace_extension(path, extension);
  return path.str().str();
}

/// Writes `text` to `path`, or a diagnostic naming `flag`.
LogicalResult writeTextFile(StringRef flag, StringRef path, StringRef text) {
  std::string error;
  auto out = openOutputFile(path, &error);
  if (!out) {
    llvm::errs() << "qopt-compile: error: --" << flag << "=" << path << ": " << error << "\n";
    return failure();
  }
  out->os() << text;
  out->keep();
  return success();
}

/// The JSON report (--report) and the plan's page (--report-html) when asked for. `modelAfter`
/// is negative for a dry run, which quantized nothing.
LogicalResult writeReports(const std::vector<qopt::QOpt::LayerQuantReport> &layers,
                           int64_t modelBefore, int64_t modelAfter,
                           const qopt::QOpt::PrecisionPlanReport *plan,
                           const qopt::QuantizationPipelineOptions &quant,
                           StringRef sensitivity) {
  if (reportFile.empty() && reportHtml.empty())
    return success();
  llvm::json::Array array;
  for (const auto &l : layers)
    array.push_back(llvm::json::Object{
        {"name", l.name},
        {"scheme", l.scheme},
        {"weight", l.weight},
        {"weight_layout", l.weightLayout},
        {"out_features", l.outFeatures},
        {"in_features", l.inFeatures},
        {"bytes_before", l.bytesBefore},
        {"bytes_after", l.bytesAfter},
        {"bits_per_weight", 8.0 * l.bytesAfter / double(l.outFeatures * l.inFeatures)},
        {"relative_error", l.relativeError},
        {"activation_scale", l.activationScale}});
  llvm::json::Object root{{"model", inputFile.getValue()},
                          {"model_bytes_before", modelBefore},
                          {"layers", std::move(array)}};
  if (modelAfter >= 0)
    root["model_bytes_after"] = modelAfter;
  if (plan) {
    llvm::json::Object precision =
        qopt::precision::planToJson(*plan, quant.algorithm, sensitivity);
    // What the weights file came to, against the plan's estimate.
    uint64_t fileBytes = 0;
    if (modelAfter >= 0 && StringRef(outputFile).ends_with(".so") &&
        !llvm::sys::fs::file_size(siblingPath(outputFile, "weights"), fileBytes))
      precision["measured_total_bytes"] = static_cast<int64_t>(fileBytes);
    root["precision"] = std::move(precision);
  }
  if (!reportHtml.empty() &&
      failed(writeTextFile("report-html", reportHtml, qopt::precision::renderPlanHtml(root))))
    return failure();
  if (reportFile.empty())
    return success();
  return writeTextFile("report", reportFile,
                       llvm::formatv("{0:2}", llvm::json::Value(std::move(root))).str() + "\n");
}

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
  // A diagnostic raised on an op (a verifier's) names the ONNX node the op came from.
  std::string node;
  std::string message = diag.str();
  if (auto name = diag.getLocation()->findInstanceOf<NameLoc>();
      name && !StringRef(message).starts_with("node '"))
    node = "node '" + name.getName().str() + "': ";
  os << where << ": " << kind << ": " << node << message << "\n";
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


/// The signature text the conversion stored in the module.
std::string moduleSignature(ModuleOp module) {
  auto global = module.lookupSymbol<LLVM::GlobalOp>("qopt_signature");
  auto text = global ? dyn_cast_or_null<StringAttr>(global.getValueOrNull()) : StringAttr();
  return text ? text.getValue().rtrim(StringRef("\0", 1)).str() : "";
}

/// The CPU the kernels are shaped and compiled for (--cpu), resolved once in main.
qopt::TargetCPU targetCPU;

/// The stages after quantization, up to `stage`: fusion, kernel generation and lowering, the
/// conversion to runtime calls (writing the constants to `weightsFile` for a library).
LogicalResult lowerModule(ModuleOp module, Stage stage, const std::string &weightsFile) {
  PassManager pm(module.getContext());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  if (stage >= Stage::Fused &&
      (fuseAttention || fuseElementwise || generateMatMul || generateRowKernels ||
       generateDataKernels)) {
    qopt::FusionPipelineOptions fusion;
    fusion.fuseAttention = fuseAttention;
    fusion.fuseElementwise = fuseElementwise;
    fusion.packMatMulWeights = generateMatMul;
    fusion.decomposeSoftmax = generateRowKernels;
    fusion.panelWidth = targetCPU.panelWidth();
    qopt::buildFusionPipeline(pm, fusion);
    if (stage >= Stage::Runtime)
      qopt::buildKernelLoweringPipeline(
          pm, {generateRowKernels, generateMatMul, generateDataKernels, targetCPU.lanes()});
  }
  // The CPU kernels' weight layout; GPU kernels read rows.
  if (stage >= Stage::Fused && packChannelPanels && targetCPU.avx512Vnni &&
      targetFlag != Target::CUDA)
    pm.addPass(qopt::QOpt::createPackChannelPanelsPass());
  if (stage >= Stage::Runtime && targetFlag == Target::CUDA) {
    pm.addPass(qopt::createGenerateGpuKernelsPass());
    qopt::LowerGpuKernelsPassOptions gpu;
    // The runtime stage shows the kernels in NVVM; the library embeds them compiled.
    if (stage >= Stage::LLVM)
      gpu.chips = cudaArch;
    gpu.toolkit = cudaToolkit;
    pm.addPass(qopt::createLowerGpuKernelsPass(gpu));
  }
  if (stage >= Stage::Runtime) {
    qopt::ConvertQOptToRuntimePassOptions lowering;
    if (stage == Stage::Library)
      lowering.weightsFile = weightsFile;
    pm.addPass(qopt::createConvertQOptToRuntimePass(lowering));
  }
  return pm.run(module);
}

/// Links a lowered module into `libraryPath` with the runtime, and writes its header.
LogicalResult emitLibraryFiles(ModuleOp module, const std::string &libraryPath) {
  qopt::LibraryOptions options;
  options.libraryPath = libraryPath;
  options.headerPath = siblingPath(libraryPath, "h");
  options.signature = moduleSignature(module);
  options.runtimeArchive = runtimeLibrary;
  options.cpu = targetCPU.name;
  return qopt::emitLibrary(module, options);
}

/// How calibration runs: the flags' data, and the model compiled without generated kernels (they
/// take longer to compile than they save over a calibration's few hundred runs).
qopt::CalibrationOptions calibrationOptions() {
  qopt::CalibrationOptions options;
  options.dataPath = calibrationData;
  options.samples = calibrationSamples;
  options.sequenceLength = calibrationSeq;
  options.progress = !quiet && llvm::sys::Process::StandardErrIsDisplayed();
  options.buildLibrary = [](ModuleOp instrumented, const std::string &libraryPath) {
    PassManager pm(instrumented.getContext());
    qopt::ConvertQOptToRuntimePassOptions lowering;
    lowering.weightsFile = siblingPath(libraryPath, "weights");
    pm.addPass(qopt::createConvertQOptToRuntimePass(lowering));
    if (failed(pm.run(instrumented)))
      return failure();
    return emitLibraryFiles(instrumented, libraryPath);
  };
  return options;
}

/// How sensitivities are measured: the flags' method, candidates and algorithm, calibration's
/// data and library builder.
qopt::SensitivityOptions sensitivityOptions(const qopt::QuantizationPipelineOptions &quant) {
  qopt::SensitivityOptions options;
  options.method = *qopt::parseSensitivityMethod(sensitivityFlag);
  options.candidates = quant.candidates;
  options.gptq = StringRef(quant.algorithm).ends_with("gptq");
  options.gptqOptions.dampening = quant.dampening;
  options.gptqOptions.blockSize = quant.blockSize;
  options.gptqOptions.actOrder = quant.actOrder;
  options.calibration = calibrationOptions();
  options.windows = sensitivityWindows;
  options.progress = !quiet && llvm::sys::Process::StandardErrIsDisplayed();
  return options;
}

/// The cost table's path: the flag's, or the user's cache; empty for none.
std::string costTablePath() {
  if (costTable == "none")
    return "";
  if (!costTable.empty())
    return costTable;
  SmallString<256> path;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    path = xdg;
  else if (const char *home = std::getenv("HOME"); home && *home)
    llvm::sys::path::append(path, home, ".cache");
  else
    return "";
  llvm::sys::path::append(path, "qopt", "kernel-costs.json");
  return path.str().str();
}

qopt::LatencyOptions latencyOptions(const qopt::QuantizationPipelineOptions &quant) {
  qopt::LatencyOptions options;
  options.candidates = quant.candidates;
  options.costTablePath = costTablePath();
  options.cpu = targetCPU.name;
  options.threads = latencyThreads;
  options.progress = !quiet && llvm::sys::Process::StandardErrIsDisplayed();
  // Timing libraries are compiled as the model will be: rounded to nearest (the algorithm does
  // not change a kernel's time), with the same activations (static int8 times as dynamic: it
  // needs no statistics here), then every later stage.
  qopt::QOpt::QuantizeWeightsPassOptions timing;
  timing.activations = quant.activations == "int8-static" ? std::string("int8-dynamic")
                                                          : std::string(quant.activations);
  options.buildLibrary = [timing](ModuleOp m, const std::string &libraryPath) -> LogicalResult {
    PassManager pm(m.getContext());
    pm.addPass(qopt::QOpt::createQuantizeWeightsPass(timing, nullptr, nullptr));
    if (failed(pm.run(m)))
      return failure();
    if (failed(lowerModule(m, Stage::Library, siblingPath(libraryPath, "weights"))))
      return failure();
    return emitLibraryFiles(m, libraryPath);
  };
  return options;
}

/// The calibration statistics the flags ask for: measured on --calibration data (and saved with
/// --save-calibration), or loaded with --load-calibration and checked against this model.
std::shared_ptr<qopt::quant::CalibrationStats> calibrationStatistics(ModuleOp module,
                                                                     StringRef modelBytes) {
  auto stats = std::make_shared<qopt::quant::CalibrationStats>();
  std::string digest = llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(modelBytes)),
                                   /*LowerCase=*/true);
  if (!loadCalibration.empty()) {
    std::string error;
    if (!stats->load(loadCalibration, error)) {
      llvm::errs() << loadCalibration << ": error: " << error << "\n";
      return nullptr;
    }
    if (stats->stamp.modelDigest != digest) {
      llvm::errs() << loadCalibration << ": error: the statistics were made for another model ("
                   << "SHA-256 " << stats->stamp.modelDigest.substr(0, 16) << "..., this is "
                   << digest.substr(0, 16) << "...)\n";
      return nullptr;
    }
    return stats;
  }
  if (failed(qopt::calibrate(module, calibrationOptions(), *stats)))
    return nullptr;
  stats->stamp.modelDigest = digest;
  if (!saveCalibration.empty()) {
    std::string error;
    if (!stats->save(saveCalibration, error)) {
      llvm::errs() << "qopt-compile: error: --save-calibration: " << error << "\n";
      return nullptr;
    }
  }
  return stats;
}

/// Drops the pages of `range`, part of a memory-mapped model file, from this process once the
/// parser is done with them: the protobuf, then the constants, hold the weights, and a mapped
/// file's resident pages would count against the compile's peak memory as much as the weights
/// themselves. Calibration and ONNX export read the file again later; its pages then come back
/// from the page cache. Buffers read into the heap are left alone.
void releaseResidentPages(const llvm::MemoryBuffer &buffer, StringRef range) {
  if (buffer.getBufferKind() != llvm::MemoryBuffer::MemoryBuffer_MMap)
    return;
  uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(range.begin()) + page - 1) & ~(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(range.end()) & ~(page - 1);
  if (end > begin)
    madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

/// Frees the data of the resource blobs that no op of `modules` refers to any more (the f32
/// weights quantization replaced): the context would otherwise hold every blob it was ever given
/// until the compile ends, the original weights beside their quantized form.
void releaseUnusedBlobs(MLIRContext &context, ArrayRef<ModuleOp> modules) {
  llvm::StringSet<> used;
  for (ModuleOp m : modules) {
    if (!m)
      continue;
    // An op's attribute dictionary holds its inherent attributes too (a constant's value).
    m.walk([&](Operation *op) {
      op->getAttrDictionary().walk(
          [&](DenseResourceElementsAttr r) { used.insert(r.getRawHandle().getKey()); });
    });
  }
  DialectResourceBlobManager &manager =
      DenseResourceElementsHandle::getManagerInterface(&context).getBlobManager();
  std::vector<std::string> unused;
  manager.getBlobMap([&](const llvm::StringMap<DialectResourceBlobManager::BlobEntry> &blobs) {
    for (const auto &entry : blobs)
      if (!used.contains(entry.getKey()) && entry.getValue().getBlob())
        unused.push_back(entry.getKey().str());
  });
  for (const std::string &name : unused)
    manager.update(name, AsmResourceBlob());
}

LogicalResult compileBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, raw_ostream &os,
                            const qopt::onnx_importer::ImportOptions &importOptions,
                            StringRef modelDir, Stage stage,
                            const qopt::QuantizationPipelineOptions *quant) {
  DialectRegistry registry;
  qopt::registerAllDialects(registry);
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  ScopedDiagnosticHandler handler(&context, [](Diagnostic &diag) {
    printDiagnostic(diag);
    return success();
  });
  // What the reports need once the model is compiled.
  std::vector<qopt::QOpt::LayerQuantReport> layers;
  std::optional<qopt::QOpt::PrecisionPlanReport> plan;
  int64_t before = -1, after = -1; // after >= 0 once the model is quantized
  std::string sensitivityUsed;
  OwningOpRef<ModuleOp> graphForTiming;
  qopt::onnx_importer::ImportOptions importing = importOptions;
  importing.releaseParsed = [&](StringRef range) { releaseResidentPages(*buffer, range); };
  OwningOpRef<ModuleOp> module = qopt::onnx_importer::importONNXBuffer(
      buffer->getBuffer(), inputFile, modelDir, &context, importing);
  if (!module)
    return failure();
  if (failed(verify(*module)))
    return failure();
  if (stage != Stage::Import) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    qopt::GraphPipelineOptions graphOptions;
    graphOptions.mergeAdapters = mergeAdapters;
    qopt::buildGraphPipeline(pm, graphOptions);
    if (failed(pm.run(*module)))
      return failure();
    pm.clear();
    if (quant && stage >= Stage::Quant) {
      // A model that arrives quantized keeps its quantization.
      int64_t quantized = 0;
      module->walk([&](Operation *op) {
        quantized += isa<qopt::QOpt::QuantizedMatMulOp, qopt::QOpt::QuantizedGatherOp>(op);
      });
      if (quantized && !requantize) {
        llvm::errs() << inputFile << ": error: the model is already quantized (" << quantized
                     << " quantized layers); its quantization is kept unless --requantize is "
                        "given\n";
        return failure();
      }
      if (quantized) {
        pm.addPass(qopt::QOpt::createDequantizeWeightsPass());
        if (failed(pm.run(*module)))
          return failure();
        pm.clear();
      }
      std::shared_ptr<qopt::quant::CalibrationStats> stats;
      if (!calibrationData.empty() || !loadCalibration.empty()) {
        stats = calibrationStatistics(*module, buffer->getBuffer());
        if (!stats)
          return failure();
      }
      before = constantBytes(*module);
      raw_ostream &summary = outputFile == "-" ? llvm::errs() : llvm::outs();
      // Each layer's scheme: the flags' (and --layer-bits rules'), then a budget's plan or a
      // replayed one.
      qopt::buildQuantizationPipeline(pm, *quant, nullptr, stats, qopt::QuantizationPhases::Select);
      if (failed(pm.run(*module)))
        return failure();
      pm.clear();
      if (qopt::hasPrecisionBudget(*quant)) {
        FailureOr<qopt::SensitivityMethod> method =
            qopt::attachSensitivities(*module, sensitivityOptions(*quant), *stats);
        if (failed(method))
          return failure();
        sensitivityUsed = qopt::sensitivityMethodName(*method);
        if (quant->targetLatency > 0.0 &&
            failed(qopt::attachLatencies(*module, latencyOptions(*quant))))
          return failure();
        plan.emplace();
      }
      if (!planFile.empty() && failed(qopt::precision::applyPlanFile(*module, planFile)))
        return failure();
      // Static activation ranges need histograms of what the quantized layers will read: after
      // AWQ or SmoothQuant rescaled the activations, the prepared model is calibrated again.
      StringRef algorithm = quant->algorithm;
      bool remeasure = quant->activations == "int8-static" && !calibrationData.empty() &&
                       (algorithm.starts_with("awq") || algorithm.starts_with("smoothquant"));
      qopt::buildQuantizationPipeline(pm, *quant, nullptr, stats, qopt::QuantizationPhases::Prepare,
                                      plan ? &*plan : nullptr);
      if (failed(pm.run(*module)))
        return failure();
      pm.clear();
      if (plan) {
        qopt::precision::printPlan(*plan, summary);
        summary << "sensitivity: " << sensitivityUsed << " (" << quant->algorithm
                << " weights, KL divergence on " << sensitivityWindows << " calibration windows"
                << (sensitivityUsed == "hessian" ? " not used" : "") << ")\n";
        if (dryRun)
          return writeReports(layers, before, -1, &*plan, *quant, sensitivityUsed);
      }
      if (remeasure) {
        auto measured = std::make_shared<qopt::quant::CalibrationStats>();
        if (failed(qopt::calibrate(*module, calibrationOptions(), *measured)))
          return failure();
        stats = measured;
      }
      if (runSequential) {
        auto measured = std::make_shared<qopt::quant::CalibrationStats>();
        if (failed(qopt::calibrateSequentially(*module, calibrationOptions(),
                                               qopt::quantizeWeightsOptions(*quant), *stats,
                                               *measured)))
          return failure();
        stats = measured;
      }
      qopt::buildQuantizationPipeline(pm, *quant, &layers, stats,
                                      qopt::QuantizationPhases::Quantize);
      if (failed(pm.run(*module)))
        return failure();
      pm.clear();
      after = constantBytes(*module);
      printQuantizationSummary(layers, before, after, summary);
      if (emitFlag != Emit::Library) {
        qopt::onnx_export::ExportOptions exportOptions;
        exportOptions.kind = emitFlag == Emit::QATONNX ? qopt::onnx_export::ExportKind::QAT
                                                       : qopt::onnx_export::ExportKind::Deploy;
        exportOptions.accuracyLevel = onnxAccuracyLevel;
        if (failed(qopt::onnx_export::exportQuantizedModel(*module, buffer->getBuffer(),
                                                           inputFile, layers, exportOptions,
                                                           outputFile)))
          return failure();
        if (failed(writeReports(layers, before, after, plan ? &*plan : nullptr, *quant,
                                sensitivityUsed))) {
          llvm::sys::fs::remove(outputFile);
          return failure();
        }
        return success();
      }
      if (stage == Stage::QAT) {
        pm.addPass(qopt::QOpt::createInsertFakeQuantPass());
        if (failed(pm.run(*module)))
          return failure();
        pm.clear();
      }
      // The compiled model's decode step is timed against a latency budget; the lowering
      // consumes the graph, so what feeding it needs is kept.
      if (plan && quant->targetLatency > 0.0 && stage == Stage::Library)
        graphForTiming = module->clone();
    }
    releaseUnusedBlobs(context, {*module, graphForTiming ? *graphForTiming : ModuleOp()});
    // The weights go to a partial file that becomes model.weights only once the library links,
    // so a failed build leaves nothing beside -o.
    if (failed(lowerModule(*module, stage, siblingPath(outputFile, "weights.partial"))))
      return failure();
  }
  if (stage == Stage::LLVM)
    return qopt::printLLVMIR(*module, os);
  if (stage == Stage::Library) {
    std::string partialWeights = siblingPath(outputFile, "weights.partial");
    llvm::FileRemover removePartial(partialWeights);
    if (failed(emitLibraryFiles(*module, outputFile)))
      return failure();
    if (std::error_code ec = llvm::sys::fs::rename(partialWeights, siblingPath(outputFile, "weights")))
      return module->emitError() << "cannot write " << siblingPath(outputFile, "weights") << ": "
                                 << ec.message();
    if (graphForTiming) {
      FailureOr<double> ms = qopt::measureTokenLatency(*graphForTiming, outputFile, latencyThreads);
      if (failed(ms))
        return failure();
      plan->measuredLatencyMs = *ms;
      llvm::outs() << llvm::format("latency: the compiled model takes %.3f ms per token (target "
                                   "%.3f ms, %+.1f%%)\n",
                                   *ms, plan->target, 100.0 * (*ms - plan->target) / plan->target);
    }
  } else {
    module->print(os);
    os << "\n";
  }
  if (after >= 0 &&
      failed(writeReports(layers, before, after, plan ? &*plan : nullptr, *quant, sensitivityUsed))) {
    // A failed run leaves nothing behind: the library written above goes too.
    if (stage == Stage::Library)
      for (const std::string &path : {outputFile.getValue(), siblingPath(outputFile, "h"),
                                      siblingPath(outputFile, "weights")})
        llvm::sys::fs::remove(path);
    return failure();
  }
  return success();
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  cl::HideUnrelatedOptions(
      {&category, &quantCategory, &precisionCategory, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(argc, argv, "qopt: quantizing compiler for ONNX transformer models\n");

  qopt::onnx_importer::ImportOptions importOptions;
  if (!parseInputShapes(importOptions))
    return 1;
  bool quantEnabled = false;
  qopt::QuantizationPipelineOptions quantOptions;
  if (!parseQuantFlags(quantOptions, quantEnabled))
    return 1;
  const qopt::QuantizationPipelineOptions *quant = quantEnabled ? &quantOptions : nullptr;
  llvm::Expected<qopt::TargetCPU> cpu = qopt::resolveTargetCPU(cpuFlag);
  if (!cpu) {
    llvm::errs() << "qopt-compile: error: --cpu=" << cpuFlag << ": "
                 << llvm::toString(cpu.takeError()) << "\n";
    return 1;
  }
  targetCPU = *cpu;
  if (targetFlag == Target::CUDA) {
    if (cudaToolkit.empty()) {
      const char *env = std::getenv("CUDA_PATH");
      cudaToolkit = env && *env ? env : "/usr/local/cuda";
    }
    if (StringRef(cudaArch).trim().empty()) {
      llvm::errs() << "qopt-compile: error: --cuda-arch needs at least one architecture (sm_80, "
                      "sm_90, ...)\n";
      return 1;
    }
    SmallString<256> ptxas(cudaToolkit.getValue());
    llvm::sys::path::append(ptxas, "bin", "ptxas");
    if (!llvm::sys::fs::can_execute(ptxas)) {
      llvm::errs() << "qopt-compile: error: --target=cuda needs CUDA's ptxas, which is not at "
                   << ptxas << " (give --cuda-toolkit=DIR or set CUDA_PATH)\n";
      return 1;
    }
  } else if (cudaArch.getNumOccurrences() || cudaToolkit.getNumOccurrences()) {
    llvm::errs() << "qopt-compile: error: --cuda-arch and --cuda-toolkit need --target=cuda\n";
    return 1;
  }
  if (runtimeLibrary.empty()) {
    // The archive is installed beside the tools: bin/../lib/libqopt_runtime.a. Resolved once,
    // before anything runs.
    SmallString<256> path(llvm::sys::fs::getMainExecutable(argv[0], (void *)&main));
    llvm::sys::path::remove_filename(path);
    llvm::sys::path::append(path, "..", "lib", "libqopt_runtime.a");
    runtimeLibrary = path.str().str();
  }
  Stage stage = compileTo.getNumOccurrences()
                    ? compileTo.getValue()
                    : (StringRef(outputFile).ends_with(".so") ? Stage::Library : Stage::Graph);
  if (emitFlag != Emit::Library) {
    const char *name = emitFlag == Emit::QATONNX ? "qat-onnx" : "onnx";
    if (!quant) {
      llvm::errs() << "qopt-compile: error: --emit=" << name
                   << " exports a quantized model: give --wbits (or another quantization flag)\n";
      return 1;
    }
    if (outputFile == "-" || splitInputFile || compileTo.getNumOccurrences()) {
      llvm::errs() << "qopt-compile: error: --emit=" << name
                   << " writes one ONNX file: give -o model.onnx and no --compile-to or "
                      "--split-input-file\n";
      return 1;
    }
    if (dryRun) {
      llvm::errs() << "qopt-compile: error: --emit=" << name << " and --dry-run exclude each other\n";
      return 1;
    }
    stage = Stage::Quant;
  } else if (onnxAccuracyLevel.getNumOccurrences()) {
    llvm::errs() << "qopt-compile: error: --onnx-accuracy-level applies to --emit=onnx only\n";
    return 1;
  }
  if (onnxAccuracyLevel.getNumOccurrences() && (onnxAccuracyLevel < 0 || onnxAccuracyLevel > 4)) {
    llvm::errs() << "qopt-compile: error: --onnx-accuracy-level must be 0 to 4, not "
                 << onnxAccuracyLevel << "\n";
    return 1;
  }
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
    return compileBuffer(std::move(chunk), out, importOptions, modelDir, stage, quant);
  };
  // In split mode every chunk is compiled and reported; one failed chunk fails the run.
  LogicalResult status =
      splitInputFile
          ? splitAndProcessBuffer(std::move(buffer), NoSourceChunkBufferHandler(processChunk), os,
                                  "# -----", "// -----")
          : compileBuffer(std::move(buffer), os, importOptions, modelDir, stage, quant);
  if (failed(status))
    return 1;
  if (stage == Stage::Library || dryRun || emitFlag != Emit::Library)
    return 0; // The emitter wrote the library, its weights and header (a dry run writes none).
  auto output = openOutputFile(outputFile, &errorMessage);
  if (!output) {
    llvm::errs() << "qopt-compile: error: -o " << outputFile << ": " << errorMessage << "\n";
    return 1;
  }
  output->os() << result;
  output->keep();
  return 0;
}
