//===- ModelAPI.cpp - the C ABI of a compiled model -----------------------===//
//
// Implements qopt_model.h over the generated `qopt_graph` function, and the qopt_rt_* entry points
// that the generated code calls (KernelABI.h).
//
#include "ModelState.h"
#include "WorkerPool.h"

#include <cblas.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace qopt::rt;

extern "C" {
// Defined by the generated object file of each model.
void qopt_graph(void *ctx);
extern const char qopt_signature[];
extern const uint64_t qopt_weights_id;
extern const int32_t qopt_isa;
// A CUDA library's kernels (qopt-lower-gpu-kernels) and the runtime's GPU half, which it links;
// both are absent (null) in a CPU library.
extern const char qopt_cuda_images[] __attribute__((weak));
qopt::rt::Accelerator *qopt_cuda_create(const char *images, const void *weights, size_t size,
                                        int device, uint64_t *deviceWeights, std::string *error)
    __attribute__((weak));
// OpenBLAS's thread control (declared here: not every cblas.h has it).
void openblas_set_num_threads(int);
}

namespace {
thread_local std::string lastError;

/// Magic and layout of the weights file: "QOPTWGT1", the 8-byte id shared with the code, then data.
constexpr char kWeightsMagic[8] = {'Q', 'O', 'P', 'T', 'W', 'G', 'T', '1'};
constexpr size_t kWeightsHeader = 16;
} // namespace

static bool parseSignature(qopt_model &m) {
  std::istringstream lines(qopt_signature);
  std::string kind;
  while (lines >> kind) {
    if (kind == "kv") {
      int index = -1;
      if (!(lines >> index) || index < 0)
        return false;
      m.inPlaceCaches.push_back(index);
      continue;
    }
    ValueInfo info;
    int rank = 0;
    if (!(lines >> info.name >> info.dtype >> rank))
      return false;
    info.dims.resize(rank);
    for (int64_t &d : info.dims)
      lines >> d;
    (kind == "in" ? m.inputs : m.outputs).push_back(info);
  }
  return true;
}

extern "C" {

qopt_model *qopt_model_create(const char *weightsPath, int numThreads) {
  return qopt_model_create_on(weightsPath, numThreads, -1);
}

int qopt_model_device(const qopt_model *m) { return m ? m->device : -1; }

qopt_model *qopt_model_create_on(const char *weightsPath, int numThreads, int device) {
  auto *m = new qopt_model();
  auto failCreate = [&](const std::string &msg) -> qopt_model * {
    lastError = std::string(weightsPath ? weightsPath : "(null)") + ": " + msg;
    if (m->mapping)
      munmap(m->mapping, m->mappingSize);
    delete m;
    return nullptr;
  };
  if (!weightsPath)
    return failCreate("no weights path given");
  int fd = open(weightsPath, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return failCreate(std::string("cannot open the weights file: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kWeightsHeader)) {
    close(fd);
    return failCreate("not a qopt weights file (too short)");
  }
  m->mappingSize = st.st_size;
  m->mapping = mmap(nullptr, m->mappingSize, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m->mapping == MAP_FAILED) {
    m->mapping = nullptr;
    return failCreate(std::string("cannot map the weights file: ") + std::strerror(errno));
  }
  const char *bytes = static_cast<const char *>(m->mapping);
  uint64_t id;
  std::memcpy(&id, bytes + 8, 8);
  if (std::memcmp(bytes, kWeightsMagic, 8) != 0)
    return failCreate("not a qopt weights file");
  if (id != qopt_weights_id)
    return failCreate("these weights belong to another compilation of the model");
  if (!parseSignature(*m))
    return failCreate("the library's signature is malformed");
  // The library's instruction set must be this CPU's.
  if (qopt_isa >= kIsaAvx512Vnni &&
      !(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")))
    return failCreate("the library was compiled for AVX-512 with VNNI (qopt-compile --cpu), which "
                      "this CPU lacks; compile it with --cpu naming this machine's CPU (or "
                      "haswell for AVX2)");
  if (qopt_isa >= kIsaAvx512Bf16 && !__builtin_cpu_supports("avx512bf16"))
    return failCreate("the library was compiled for AVX-512-BF16 (qopt-compile --cpu), which this "
                      "CPU lacks; compile it with --cpu naming this machine's CPU");
  if (qopt_isa == kIsaAvxVnni && !__builtin_cpu_supports("avxvnni"))
    return failCreate("the library was compiled for AVX-VNNI (qopt-compile --cpu), which this CPU "
                      "lacks; compile it with --cpu naming this machine's CPU");
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return failCreate("this CPU lacks AVX2 and FMA, which compiled models need");
  if (qopt_cuda_images) {
    if (device < 0) {
      const char *env = std::getenv("QOPT_DEVICE");
      device = env && *env ? std::atoi(env) : 0;
    }
    std::string error;
    uint64_t deviceWeights = 0;
    m->ctx.accel = qopt_cuda_create ? qopt_cuda_create(qopt_cuda_images, m->mapping,
                                                       m->mappingSize, device, &deviceWeights,
                                                       &error)
                                    : nullptr;
    if (!m->ctx.accel)
      return failCreate("cannot run this CUDA library: " +
                        (error.empty() ? std::string("it lacks the GPU runtime") : error));
    m->ctx.deviceWeights = deviceWeights;
    m->device = device;
  } else if (device >= 0) {
    return failCreate("the library was compiled for the CPU; compile it with --target=cuda to "
                      "run it on GPU " + std::to_string(device));
  }
  m->ctx.isa = qopt_isa;
  m->ctx.weights = bytes;
  m->ctx.weightsSize = m->mappingSize;
  if (numThreads <= 0)
    numThreads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m->ctx.threads = numThreads;
  // QOPT_PROFILE=1 prints the time spent per kind of kernel when the model is destroyed.
  if (const char *profile = std::getenv("QOPT_PROFILE"); profile && *profile && *profile != '0')
    m->ctx.profile = new Profile();
  openblas_set_num_threads(numThreads);
  m->ctx.workers = new WorkerPool(numThreads);
  return m;
}

/// Opcode names for the profile, in the enum's order.
static const char *const kOpcodeNames[] = {
    "Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Tanh", "Erf", "Sigmoid", "Sin", "Cos",
    "Relu", "Floor", "Ceil", "Not", "Silu", "IsNaN", "Gelu", "Cast", "Add", "Sub", "Mul", "Div",
    "Pow", "Max", "Min", "Mod", "And", "Or", "Equal", "Less", "LessEqual", "Greater",
    "GreaterEqual", "Where", "Shape", "Gather", "GatherElements", "GatherND", "Concat", "Range",
    "CumSum", "Expand", "Reshape", "Transpose", "Slice", "Split", "Squeeze", "Unsqueeze",
    "ConstantOfShape", "Trilu", "MatMul", "Gemm", "Softmax", "LayerNorm", "RMSNorm", "ReduceMean",
    "ReduceSum", "ReduceMax", "ReduceMin", "QuantMatMul", "QuantGather", "Quantize", "Dequantize",
    "DynamicQuantize", "MatMulInteger", "QLinearMatMul", "Round", "Sign", "Tile", "ReduceProd",
    "QLinearAdd", "QLinearMul", "QLinearSoftmax", "FusedElementwise", "Xor", "FusedMatMul",
    "RowKernel", "PanelGather", "MatMulKernel", "QuantMatMulKernel", "Generated", "SparseMatMul",
    "Attention", "KVAppend",
};
static_assert(sizeof(kOpcodeNames) / sizeof(kOpcodeNames[0]) ==
                  static_cast<size_t>(Opcode::NumOpcodes),
              "one name per opcode");

void qopt_model_destroy(qopt_model *m) {
  if (!m)
    return;
  if (Profile *p = m->ctx.profile) {
    // Generated data kernels are listed under the op they compute; everything else not marked
    // generated ran the runtime's own C++ kernel.
    std::fprintf(stderr, "qopt profile: opcode calls seconds\n");
    for (int k = 0; k < static_cast<int>(Opcode::NumOpcodes); ++k) {
      auto op = static_cast<Opcode>(k);
      const char *how = "";
      if (op == Opcode::FusedElementwise || op == Opcode::FusedMatMul ||
          op == Opcode::RowKernel || op == Opcode::MatMulKernel)
        how = " generated";
      else if (op == Opcode::QuantMatMulKernel)
        how = " generated, decoded by the runtime";
      if (p->calls[k] && op != Opcode::Generated)
        std::fprintf(stderr, "qopt profile: %-18s %8lld %10.4f%s\n", kOpcodeNames[k], p->calls[k],
                     p->seconds[k], how);
      if (p->gpuCalls[k])
        std::fprintf(stderr, "qopt profile: %-18s %8lld %10.4f on the GPU\n", kOpcodeNames[k],
                     p->gpuCalls[k], p->gpuSeconds[k]);
      if (p->generatedCalls[k])
        std::fprintf(stderr, "qopt profile: %-18s %8lld %10.4f generated\n", kOpcodeNames[k],
                     p->generatedCalls[k], p->generatedSeconds[k]);
    }
    delete p;
  }
  m->ctx.releaseAll();
  m->ctx.drainPool();
  delete m->ctx.accel;
  delete m->ctx.workers;
  if (m->mapping)
    munmap(m->mapping, m->mappingSize);
  delete m;
}

const char *qopt_model_error(const qopt_model *m) { return m ? m->error.c_str() : lastError.c_str(); }
const char *qopt_last_error(void) { return lastError.c_str(); }

int qopt_model_num_inputs(const qopt_model *m) { return static_cast<int>(m->inputs.size()); }
int qopt_model_num_outputs(const qopt_model *m) { return static_cast<int>(m->outputs.size()); }

const char *qopt_model_input_name(const qopt_model *m, int i) {
  return i >= 0 && i < static_cast<int>(m->inputs.size()) ? m->inputs[i].name.c_str() : nullptr;
}
const char *qopt_model_output_name(const qopt_model *m, int i) {
  return i >= 0 && i < static_cast<int>(m->outputs.size()) ? m->outputs[i].name.c_str() : nullptr;
}

static int describe(const std::vector<ValueInfo> &list, int i, qopt_tensor *info) {
  if (i < 0 || i >= static_cast<int>(list.size()) || !info)
    return -1;
  info->dtype = list[i].dtype;
  info->rank = static_cast<int32_t>(list[i].dims.size());
  for (size_t d = 0; d < list[i].dims.size(); ++d)
    info->dims[d] = list[i].dims[d];
  info->data = nullptr;
  return 0;
}
int qopt_model_input_info(const qopt_model *m, int i, qopt_tensor *info) {
  return describe(m->inputs, i, info);
}
int qopt_model_output_info(const qopt_model *m, int i, qopt_tensor *info) {
  return describe(m->outputs, i, info);
}

int qopt_model_run(qopt_model *m, const qopt_tensor *inputs, int numInputs, qopt_tensor *outputs,
                   int numOutputs) {
  if (!m)
    return -1;
  m->error.clear();
  auto failRun = [&](const std::string &msg) {
    m->error = msg;
    return -1;
  };
  if (numInputs != static_cast<int>(m->inputs.size()))
    return failRun("the model takes " + std::to_string(m->inputs.size()) + " inputs, got " +
                   std::to_string(numInputs));
  if (numOutputs != static_cast<int>(m->outputs.size()))
    return failRun("the model has " + std::to_string(m->outputs.size()) + " outputs, got room for " +
                   std::to_string(numOutputs));
  for (int k = 0; k < numInputs; ++k) {
    const ValueInfo &want = m->inputs[k];
    const qopt_tensor &have = inputs[k];
    std::string what = "input '" + want.name + "'";
    if (have.dtype != want.dtype)
      return failRun(what + " must be " + dtypeName(want.dtype) + ", got " + dtypeName(have.dtype));
    if (have.rank != static_cast<int32_t>(want.dims.size()))
      return failRun(what + " must have rank " + std::to_string(want.dims.size()) + ", got " +
                     std::to_string(have.rank));
    for (int d = 0; d < have.rank; ++d)
      if (have.dims[d] < 0 || (want.dims[d] >= 0 && have.dims[d] != want.dims[d]))
        return failRun(what + " dimension " + std::to_string(d) + " must be " +
                       std::to_string(want.dims[d]) + ", got " + std::to_string(have.dims[d]));
    int64_t count = 1;
    for (int d = 0; d < have.rank; ++d)
      count *= have.dims[d];
    if (!have.data && count > 0)
      return failRun(what + " has no data");
  }
  return runModel(m, inputs, numInputs, outputs, numOutputs, nullptr);
}
} // extern "C"

int qopt::rt::runModel(qopt_model *m, const qopt_tensor *inputs, int numInputs,
                       qopt_tensor *outputs, int numOutputs,
                       const std::vector<CacheSlot> *cacheSlots) {
  auto failRun = [&](const std::string &msg) {
    m->error = msg;
    return -1;
  };
  Context &ctx = m->ctx;
  ctx.releaseAll();
  ctx.inputs = inputs;
  ctx.numInputs = numInputs;
  ctx.outputs.assign(numOutputs, nullptr);
  // The session's slots serve this run only, however it ends.
  struct SlotsForThisRun {
    Context &ctx;
    ~SlotsForThisRun() { ctx.cacheSlots = nullptr; }
  } slotsForThisRun{ctx};
  ctx.cacheSlots = cacheSlots;
  try {
    qopt_graph(&ctx);
  } catch (const KernelError &e) {
    ctx.releaseAll();
    return failRun(e.message);
  } catch (const std::bad_alloc &) {
    ctx.releaseAll();
    return failRun("out of memory");
  }
  for (int k = 0; k < numOutputs; ++k) {
    Tensor *t = ctx.outputs[k];
    outputs[k].dtype = t->dtype;
    outputs[k].rank = t->rank;
    for (int d = 0; d < t->rank; ++d)
      outputs[k].dims[d] = t->dims[d];
    outputs[k].data = t->data;
  }
  return 0;
}

extern "C" {
void *qopt_rt_input(void *c, int64_t index) {
  Context &ctx = *static_cast<Context *>(c);
  const qopt_tensor &in = ctx.inputs[index];
  Tensor *t = ctx.wrap(in.dtype, std::vector<int64_t>(in.dims, in.dims + in.rank), in.data);
  // A session's cache input: the past as a view of the buffer with room for the whole context.
  if (const CacheSlot *slot = ctx.cacheSlot(index); slot && in.rank == 4)
    slot->stridedView(*t);
  return t;
}

void *qopt_rt_weight(void *c, int64_t dtype, int64_t offset, int64_t rank, const int64_t *dims) {
  Context &ctx = *static_cast<Context *>(c);
  std::vector<int64_t> shape(dims, dims + rank);
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  size_t bytes = count * dtypeSize(static_cast<int32_t>(dtype));
  if (offset < static_cast<int64_t>(kWeightsHeader) || offset + bytes > ctx.weightsSize)
    fail("a constant lies outside the weights file; is it truncated?");
  Tensor *t = ctx.wrap(static_cast<int32_t>(dtype), shape, const_cast<char *>(ctx.weights) + offset);
  if (ctx.accel)
    t->device = ctx.deviceWeights + offset;
  return t;
}

/// Opcode Generated: the op it names, with its copies, lookups or reduction in the generated
/// kernel that comes first among the operands.
static void runGenerated(Context &ctx, Tensor **in, int64_t numIns, Tensor **out, int64_t numOuts,
                         const int64_t *i, int64_t ni, const double *f, int64_t nf) {
  if (ni < 3 || numIns < 2)
    fail("a generated data kernel needs the opcode it performs, its rank and element size, and "
         "the kernel and an input");
  auto op = static_cast<Opcode>(i[0]);
  int64_t rank = i[1], bytes = i[2];
  auto kernel = reinterpret_cast<FusedKernelFn>(static_cast<void *>(in[0]));
  if (rank < 0 || rank > QOPT_MAX_RANK)
    fail("a generated data kernel has rank " + std::to_string(rank));
  // The elements a kernel moves are its first operand's (every input's for a concat); a fill's
  // are checked against its output type.
  for (int64_t k = 1; k < numIns; ++k)
    if (in[k] && (k == 1 || op == Opcode::Concat) && op != Opcode::ConstantOfShape &&
        dtypeSize(in[k]->dtype) != static_cast<size_t>(bytes))
      fail("a generated data kernel moves " + std::to_string(bytes) + "-byte elements, not " +
           dtypeName(in[k]->dtype));
  switch (op) {
  case Opcode::Transpose: case Opcode::Slice: case Opcode::Expand: case Opcode::Tile:
  case Opcode::Concat: case Opcode::Split: case Opcode::Gather: case Opcode::GatherElements:
  case Opcode::GatherND: case Opcode::Range: case Opcode::CumSum: case Opcode::Trilu:
  case Opcode::ConstantOfShape:
    return runDataMovement(op, ctx, in + 1, numIns - 1, out, numOuts, i + 3, ni - 3, f, nf,
                           kernel, rank, bytes);
  case Opcode::ReduceSum: case Opcode::ReduceMean: case Opcode::ReduceMax: case Opcode::ReduceMin:
  case Opcode::ReduceProd:
    return runGeneratedReduction(op, ctx, *in[1], i + 3, ni - 3, out, kernel, rank);
  default:
    fail("opcode " + std::to_string(i[0]) + " has no generated data kernel");
  }
}

/// In a GPU library: downloads the operands that only the device holds before a CPU kernel
/// reads them. Ops that only view their input (or read its shape) take it as it is.
static void hostOperands(Context &ctx, Opcode op, Tensor **in, int64_t numIns) {
  bool viewsInput = op == Opcode::Reshape || op == Opcode::Squeeze || op == Opcode::Unsqueeze ||
                    op == Opcode::Shape;
  for (int64_t k = firstTensorOperand(op); k < numIns; ++k)
    if (in[k] && in[k]->hostStale && !(viewsInput && k == 0))
      ctx.accel->toHost(ctx, *in[k]);
}

static void dispatch(Context &ctx, Opcode op, Tensor **in, int64_t numIns, Tensor **out,
                     int64_t numOuts, const int64_t *i, int64_t ni, const double *f, int64_t nf) {
  // A session's cache on the GPU is appended to there, however the append was compiled.
  if (op == Opcode::KVAppend && ctx.accel && ni >= 2) {
    const CacheSlot *slot = ctx.cacheSlot(i[1]);
    if (slot && slot->device &&
        ctx.accel->run(ctx, "", op, in, numIns, out, numOuts, i, ni, f, nf))
      return;
  }
  if (ctx.accel)
    hostOperands(ctx, op, in, numIns);
  if (op == Opcode::Attention)
    return runAttention(ctx, in, numIns, out, nf > 0 ? f[0] : 1.0);
  if (op == Opcode::KVAppend) {
    if (ni < 2 || numIns < 2)
      fail("a KV-cache append needs its axis and input index, and two operands");
    return runKVAppend(ctx, in, out, i[0], i[1]);
  }
  // Only the kernels above and shape queries read a session's strided cache views. (A generated
  // kernel's address, first among some ops' operands, is no tensor.)
  if (ctx.cacheSlots && op != Opcode::Shape)
    for (int64_t k = firstTensorOperand(op); k < numIns; ++k)
      if (in[k] && in[k]->strided)
        fail("a KV-cache view reached a kernel that reads dense tensors only");
  if (op == Opcode::FusedElementwise)
    return runFusedElementwise(ctx, reinterpret_cast<void **>(in), numIns, out, ni > 0 ? i[0] : -1,
                               ni > 1 ? static_cast<int32_t>(i[1]) : QOPT_FLOAT32);
  if (op == Opcode::FusedMatMul)
    return runFusedMatMul(ctx, reinterpret_cast<void **>(in), numIns, out, i, ni);
  if (op == Opcode::QuantMatMulKernel)
    return runQuantOp(op, ctx, in, numIns, out, i, ni);
  if (op == Opcode::PanelGather)
    return panelGather(ctx, in, out, i, ni);
  if (op == Opcode::RowKernel)
    return runRowKernel(ctx, reinterpret_cast<void **>(in), numIns, out, i, ni);
  if (op == Opcode::Generated)
    return runGenerated(ctx, in, numIns, out, numOuts, i, ni, f, nf);
  if (op <= Opcode::Where || op == Opcode::Round || op == Opcode::Sign || op == Opcode::Xor)
    return runElementwise(op, ctx, in, numIns, out, i, ni);
  if (op <= Opcode::Trilu || op == Opcode::Tile)
    return runShapeOp(op, ctx, in, numIns, out, numOuts, i, ni, f, nf);
  if ((op >= Opcode::Quantize && op <= Opcode::QLinearMatMul) || op == Opcode::QLinearAdd ||
      op == Opcode::QLinearMul || op == Opcode::QLinearSoftmax)
    return runQDQOp(op, ctx, in, numIns, out, i, ni);
  if ((op >= Opcode::QuantMatMul && op <= Opcode::QuantGather) || op == Opcode::SparseMatMul)
    return runQuantOp(op, ctx, in, numIns, out, i, ni);
  if (op < Opcode::NumOpcodes)
    return runNNOp(op, ctx, in, numIns, out, i, ni, f, nf);
  fail("unknown opcode " + std::to_string(static_cast<int64_t>(op)));
}

void qopt_rt_exec(void *c, int64_t opcode, void **ins, int64_t numIns, void **outs,
                  int64_t numOuts, const int64_t *i, int64_t ni, const double *f, int64_t nf) {
  Context &ctx = *static_cast<Context *>(c);
  auto op = static_cast<Opcode>(opcode);
  if (opcode < 0 || op >= Opcode::NumOpcodes)
    fail("unknown opcode " + std::to_string(opcode));
  auto **in = reinterpret_cast<Tensor **>(ins);
  auto **out = reinterpret_cast<Tensor **>(outs);
  if (!ctx.profile)
    return dispatch(ctx, op, in, numIns, out, numOuts, i, ni, f, nf);
  auto t0 = std::chrono::steady_clock::now();
  dispatch(ctx, op, in, numIns, out, numOuts, i, ni, f, nf);
  auto t1 = std::chrono::steady_clock::now();
  double seconds = std::chrono::duration<double>(t1 - t0).count();
  ctx.profile->seconds[opcode] += seconds;
  ++ctx.profile->calls[opcode];
  // A generated data kernel counts under the op it computes.
  if (op == Opcode::Generated && ni > 0 && i[0] >= 0 && i[0] < opcode) {
    ctx.profile->generatedSeconds[i[0]] += seconds;
    ++ctx.profile->generatedCalls[i[0]];
  }
}

void qopt_rt_output(void *c, int64_t index, void *tensor) {
  Context &ctx = *static_cast<Context *>(c);
  auto *t = static_cast<Tensor *>(tensor);
  // A session's cache (a strided view) stays on the device: the session reads only the logits.
  if (ctx.accel && !t->strided)
    ctx.accel->toHost(ctx, *t);
  ctx.outputs[index] = t;
}

void qopt_rt_exec_gpu(void *c, const char *kernel, int64_t opcode, void **ins, int64_t numIns,
                      void **outs, int64_t numOuts, const int64_t *i, int64_t ni, const double *f,
                      int64_t nf) {
  Context &ctx = *static_cast<Context *>(c);
  auto op = static_cast<Opcode>(opcode);
  if (ctx.accel && opcode >= 0 && op < Opcode::NumOpcodes) {
    auto **in = reinterpret_cast<Tensor **>(ins);
    auto **out = reinterpret_cast<Tensor **>(outs);
    using Clock = std::chrono::steady_clock;
    Clock::time_point t0 = ctx.profile ? Clock::now() : Clock::time_point();
    if (ctx.accel->run(ctx, kernel, op, in, numIns, out, numOuts, i, ni, f, nf)) {
      if (ctx.profile) {
        // Each op is timed to its end on the device.
        ctx.accel->synchronize();
        double seconds =
            std::chrono::duration<double>(Clock::now() - t0).count();
        ctx.profile->gpuSeconds[opcode] += seconds;
        ++ctx.profile->gpuCalls[opcode];
      }
      return;
    }
  }
  qopt_rt_exec(c, opcode, ins, numIns, outs, numOuts, i, ni, f, nf);
}

void qopt_rt_release(void *c, void *tensor) {
  static_cast<Context *>(c)->release(static_cast<Tensor *>(tensor));
}
} // extern "C"
