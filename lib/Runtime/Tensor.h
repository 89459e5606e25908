//===- Tensor.h - runtime tensors, buffers and the run context ---*- C++ -*-===//
#ifndef QOPT_LIB_RUNTIME_TENSOR_H
#define QOPT_LIB_RUNTIME_TENSOR_H

#include "qopt/Runtime/KernelABI.h"
#include "qopt/Runtime/qopt_model.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qopt::rt {

/// Reference-counted heap memory shared by a tensor and its views (reshape, squeeze, ...).
struct Buffer {
  void *data = nullptr;
  size_t bytes = 0;
  int64_t refs = 1;
};

/// Memory on an accelerator, shared by a tensor and its views; `ptr` is a device address.
struct DeviceBuffer {
  uint64_t ptr = 0;
  size_t bytes = 0;
  int64_t refs = 1;
};

/// A dense row-major tensor. `buffer` is null for memory the runtime does not own (inputs, weights).
/// A generation session's KV cache is the one exception to density: its tensors are `strided`
/// views of a buffer with room for the whole context, and only the kernels that know it (the
/// append, attention, shape queries) receive them.
struct Tensor {
  int32_t dtype = 0;
  int32_t rank = 0;
  int64_t dims[QOPT_MAX_RANK] = {};
  void *data = nullptr;
  Buffer *buffer = nullptr;
  bool strided = false;
  int64_t strides[QOPT_MAX_RANK] = {}; // in elements; meaningful when `strided`
  /// In a GPU library: the tensor's device copy (0: none), owned through `deviceBuffer` (null
  /// for weights, which live in one upload of the weights file). `hostStale`: only the device
  /// copy holds the values; `data` is null until the runtime downloads them.
  uint64_t device = 0;
  DeviceBuffer *deviceBuffer = nullptr;
  bool hostStale = false;

  /// Element strides, row-major unless `strided`.
  void elementStrides(int64_t *out) const {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; --d) {
      out[d] = strided ? strides[d] : s;
      s *= dims[d];
    }
  }

  int64_t numElements() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i)
      n *= dims[i];
    return n;
  }
  std::vector<int64_t> shape() const { return std::vector<int64_t>(dims, dims + rank); }
  template <typename T> T *as() const { return static_cast<T *>(data); }
};

/// Bytes per element of `dtype`, 0 for an unknown one.
size_t dtypeSize(int32_t dtype);
/// Bytes of `t`'s elements, densely stored.
inline size_t tensorBytes(const Tensor &t) {
  return static_cast<size_t>(t.numElements()) * dtypeSize(t.dtype);
}
const char *dtypeName(int32_t dtype);
/// `shape` as [2x3x4], for messages.
std::string shapeString(const std::vector<int64_t> &shape);

/// `count` elements on the stack when they fit in `N`, on the heap otherwise: the per-call setup
/// of generated kernels, which a decoding step makes dozens of times.
template <typename T, size_t N> class Scratch {
public:
  explicit Scratch(size_t count) {
    if (count > N) {
      heap.resize(count);
      data = heap.data();
    }
  }
  Scratch(const Scratch &) = delete;
  Scratch &operator=(const Scratch &) = delete;
  T *get() { return data; }

private:
  T stack[N];
  std::vector<T> heap;
  T *data = stack;
};

/// Words of a rank-1 MLIR memref descriptor: two pointers, offset, size, stride.
constexpr int kBufferWords = 5;
/// Writes the rank-1 memref descriptor of `size` contiguous elements at `data` into `words`: how
/// the generated matmul's variable number of epilogue operands is laid out (KernelOperands
/// serves the kernels with a fixed operand count).
inline void describeBuffer(int64_t *words, const void *data, int64_t size) {
  words[0] = words[1] = static_cast<int64_t>(reinterpret_cast<intptr_t>(data));
  words[2] = 0;
  words[3] = size;
  words[4] = 1;
}

/// The error that stops a run: kernels throw it, qopt_model_run reports it.
struct KernelError {
  std::string message;
};
[[noreturn]] void fail(const std::string &message);

/// Time spent per opcode, when profiling is on.
struct Profile {
  double seconds[static_cast<int>(Opcode::NumOpcodes)] = {};
  long long calls[static_cast<int>(Opcode::NumOpcodes)] = {};
  /// Opcode Generated, by the op its kernel computes.
  double generatedSeconds[static_cast<int>(Opcode::NumOpcodes)] = {};
  long long generatedCalls[static_cast<int>(Opcode::NumOpcodes)] = {};
  /// Ops a GPU ran, timed to their end on the device.
  double gpuSeconds[static_cast<int>(Opcode::NumOpcodes)] = {};
  long long gpuCalls[static_cast<int>(Opcode::NumOpcodes)] = {};
};

class WorkerPool;
struct Context;

/// A GPU that runs the ops compiled for it (a library of qopt-compile --target=cuda). Tensors
/// move between host and device as the ops that read them need.
class Accelerator {
public:
  virtual ~Accelerator() = default;
  /// Runs `op` with the GPU kernel `kernel` (qopt.gpu_kernel); false when these operands need the
  /// CPU (a shape the kernel does not take), with nothing done.
  virtual bool run(Context &ctx, const char *kernel, Opcode op, Tensor **ins, int64_t numIns,
                   Tensor **outs, int64_t numOuts, const int64_t *i, int64_t ni,
                   const double *f, int64_t nf) = 0;
  /// Device memory of at least `bytes` (a session's KV cache); fails when there is none.
  virtual DeviceBuffer *allocate(size_t bytes) = 0;
  /// Makes `t`'s host data current (downloading a device-only tensor).
  virtual void toHost(Context &ctx, Tensor &t) = 0;
  /// Returns device memory to the accelerator's pool.
  virtual void recycle(DeviceBuffer *buffer) = 0;
  /// Waits for the device's queued work (profiling times each op to its end).
  virtual void synchronize() = 0;
};

/// Instruction sets a library may be compiled for (qopt_isa, from qopt-compile --cpu); kernels
/// with a variant for a level use it when the library's level is at least that.
constexpr int32_t kIsaAvx2 = 0;
constexpr int32_t kIsaAvxVnni = 1;
constexpr int32_t kIsaAvx512Vnni = 2;
/// AVX-512 VNNI with BF16 (`vdpbf16ps`).
constexpr int32_t kIsaAvx512Bf16 = 3;

/// A generation session's buffer for one KV-cache input: `[batch, heads, capacity, dim]` floats.
struct CacheSlot {
  float *data = nullptr;
  int64_t dims[4] = {}; // with dims[2] the capacity
  /// In a GPU library: the cache's device copy, which is the current one (appends and attention
  /// run on the GPU); `data` then receives downloads for CPU kernels only.
  uint64_t device = 0;

  /// Makes `t` (the buffer's first dims[2] positions, or fewer) a strided view of the buffer,
  /// current on the device where the cache lives there.
  void stridedView(Tensor &t) const {
    t.data = data;
    t.device = device;
    t.hostStale = device != 0;
    t.strided = true;
    t.strides[3] = 1;
    t.strides[2] = dims[3];
    t.strides[1] = dims[2] * dims[3];
    t.strides[0] = dims[1] * dims[2] * dims[3];
  }
};

/// State of one run of a model: its inputs, outputs, weights and live tensors.
struct Context {
  const char *weights = nullptr;
  size_t weightsSize = 0;
  const qopt_tensor *inputs = nullptr;
  int64_t numInputs = 0;
  std::vector<Tensor *> outputs;
  std::vector<Tensor *> live; // everything allocated in this run, freed at its end
  int threads = 1;
  int32_t isa = kIsaAvx2;        // the library's instruction set (qopt_isa)
  WorkerPool *workers = nullptr; // owned by the model
  Profile *profile = nullptr;
  /// In a session run: one slot per graph input, null data for inputs that are not appended in
  /// place.
  const std::vector<CacheSlot> *cacheSlots = nullptr;
  /// The GPU of a CUDA library (owned by the model), else null, and the device address of the
  /// weights file's upload.
  Accelerator *accel = nullptr;
  uint64_t deviceWeights = 0;
  /// Freed memory by rounded size, reused by later allocations of this and later runs: fresh
  /// large blocks would cost a page fault per 4 KiB on first touch.
  std::multimap<size_t, void *> pool;

  /// The session's cache slot for graph input `index`, or null (no session, or an input that is
  /// not appended in place).
  const CacheSlot *cacheSlot(int64_t index) const {
    if (!cacheSlots || index < 0 || index >= static_cast<int64_t>(cacheSlots->size()))
      return nullptr;
    const CacheSlot &slot = (*cacheSlots)[index];
    return slot.data ? &slot : nullptr;
  }
  /// A new tensor of `shape` with fresh memory.
  Tensor *allocate(int32_t dtype, const std::vector<int64_t> &shape);
  /// A new tensor of `shape` sharing `source`'s memory.
  Tensor *view(const Tensor &source, const std::vector<int64_t> &shape);
  /// A tensor over memory the runtime does not own.
  Tensor *wrap(int32_t dtype, const std::vector<int64_t> &shape, void *data);
  /// A new tensor of `shape` whose values will be on the device only (GPU kernels' results).
  Tensor *allocateDeviceOnly(int32_t dtype, const std::vector<int64_t> &shape);
  /// Gives `t` (a device-only tensor) a host buffer of its size, to download into.
  void attachHostBuffer(Tensor &t);
  void release(Tensor *t);
  void releaseAll();
  /// Returns pooled memory to the system.
  void drainPool();

private:
  void *obtain(size_t bytes);
  void recycle(Buffer *buffer);
};

/// The index of an op's first tensor operand: the opcodes that run a generated CPU kernel pass
/// its address first (KernelABI.h).
inline int64_t firstTensorOperand(Opcode op) {
  switch (op) {
  case Opcode::Generated: case Opcode::FusedElementwise: case Opcode::FusedMatMul:
  case Opcode::RowKernel: case Opcode::MatMulKernel: case Opcode::QuantMatMulKernel:
    return 1;
  default:
    return 0;
  }
}

/// Kernels: each reads `ins` and writes `outs`.
using KernelFn = void (*)(Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                          int64_t numOuts, const int64_t *i, int64_t ni, const double *f,
                          int64_t nf);
void runElementwise(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                    const int64_t *i, int64_t ni);
void runShapeOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                int64_t numOuts, const int64_t *i, int64_t ni, const double *f, int64_t nf);
void runQuantOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                const int64_t *i, int64_t ni);
/// QLinearAdd / QLinearMul computed as ONNX Runtime's x86 kernels do (QLinearKernels.cpp).
/// `unsignedDomain`: int8 operands are computed shifted by 128 to uint8.
void qlinearBinary(Opcode op, Context &ctx, Tensor **ins, Tensor **outs, bool unsignedDomain);
/// QLinearSoftmax computed as ONNX Runtime's kernel does (QLinearKernels.cpp).
void qlinearSoftmax(Context &ctx, Tensor **ins, Tensor **outs, int64_t axis, bool flattenTail);
void runQDQOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
              const int64_t *i, int64_t ni);
void runNNOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
             const int64_t *i, int64_t ni, const double *f, int64_t nf);

/// Runs a generated elementwise kernel of `rank` and output `dtype`: `ins[0]` is its
/// FusedKernelFn, the rest float32 or bool tensors.
void runFusedElementwise(Context &ctx, void **ins, int64_t numIns, Tensor **outs, int64_t rank,
                         int32_t dtype);
/// Runs a generated all-parallel kernel of `rank` over `shape`: operand k starts at `data[k]` and
/// steps `strides[k * QOPT_MAX_RANK + d]` elements along dim d (0 where it broadcasts). Dims that
/// every operand walks as one merge, so the innermost loop runs as long as it can; large shapes
/// are split along their outermost dim across the pool.
void runStridedKernel(Context &ctx, FusedKernelFn kernel, int64_t rank, const int64_t *shape,
                      int64_t numOperands, void *const *data, const int64_t *strides);
/// Copies on an accelerator for the data-movement opcodes it runs: their geometry is the CPU's,
/// over device addresses.
class DeviceCopier {
public:
  virtual ~DeviceCopier() = default;
  /// A device-only result of `shape`.
  virtual Tensor *result(Context &ctx, int32_t dtype, const std::vector<int64_t> &shape) = 0;
  /// The device address of `t`'s elements (uploading them if only the host has them).
  virtual char *address(Tensor &t) = 0;
  /// Copies the view of `src` with `shape` and element strides `srcStrides` to `dst`, laid out
  /// with `dstStrides`.
  virtual void copy(const char *src, const std::vector<int64_t> &srcStrides, char *dst,
                    const std::vector<int64_t> &dstStrides, const std::vector<int64_t> &shape,
                    size_t elem) = 0;
};
/// Runs transpose, slice, concat, split or expand with `copier`'s copies; false for other
/// opcodes.
bool runDeviceDataMovement(Opcode op, Context &ctx, DeviceCopier &copier, Tensor **ins,
                           int64_t numIns, Tensor **outs, int64_t numOuts, const int64_t *i,
                           int64_t ni);
/// Row-major element strides of `shape`.
std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &shape);

/// Runs a shape or data-movement opcode; with a generated `kernel` of `kernelRank` and elements of
/// `kernelBytes` (opcode Generated) its copies, lookups, fills and scans run in that kernel
/// instead of the runtime's loops.
void runDataMovement(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                     int64_t numOuts, const int64_t *i, int64_t ni, const double *f, int64_t nf,
                     FusedKernelFn kernel, int64_t kernelRank, int64_t kernelBytes);
/// A reduction (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd) of a float32 tensor in
/// a generated kernel of input rank `kernelRank` that reduces its trailing dims.
void runGeneratedReduction(Opcode op, Context &ctx, Tensor &in, const int64_t *i, int64_t ni,
                           Tensor **outs, FusedKernelFn kernel, int64_t kernelRank);

/// The output shape of a reduction of `in` whose attributes `i` are keepdims then the reduced
/// axes (normalized; none = all); `reduced` (QOPT_MAX_RANK entries) says which dims are reduced.
/// Fails on an axis outside the rank.
std::vector<int64_t> reductionShape(const Tensor &in, const int64_t *i, int64_t ni, bool *reduced);

/// The operand array of one call of a generated kernel, on the stack: an MLIR memref descriptor
/// (two pointers, offset, sizes, strides) per operand.
class KernelOperands {
public:
  static constexpr int kMaxOperands = 5;
  /// Adds a rank-`rank` view of `data` with `sizes` and element `strides` (row-major when null).
  void add(const void *data, int64_t rank, const int64_t *sizes, const int64_t *strides = nullptr) {
    if (count == kMaxOperands)
      fail("a generated kernel takes at most " + std::to_string(kMaxOperands) + " operands here");
    int64_t *d = words + used;
    d[0] = d[1] = static_cast<int64_t>(reinterpret_cast<intptr_t>(data));
    d[2] = 0;
    int64_t stride = 1;
    for (int64_t k = rank - 1; k >= 0; --k) {
      d[3 + k] = sizes[k];
      d[3 + rank + k] = strides ? strides[k] : stride;
      stride *= sizes[k];
    }
    pointers[count++] = d;
    used += 3 + 2 * rank;
  }
  /// Adds `size` contiguous elements at `data` as a rank-1 view.
  void addBuffer(const void *data, int64_t size) { add(data, 1, &size); }
  void call(FusedKernelFn kernel) { kernel(pointers); }

private:
  int64_t words[kMaxOperands * (3 + 2 * QOPT_MAX_RANK)];
  void *pointers[kMaxOperands];
  int count = 0, used = 0;
};

/// Runs a generated matmul kernel (qopt.fused_matmul): `ins[0]` is its FusedKernelFn, then the
/// input rows, the packed weight and the epilogue inputs; `i` holds K, N and the panel width.
void runFusedMatMul(Context &ctx, void **ins, int64_t numIns, Tensor **outs, const int64_t *i,
                    int64_t ni);
/// Rows of an [N, K] table stored as packed panels (`ins[0]`), at the int indices `ins[1]`;
/// `i[0]` is N.
void panelGather(Context &ctx, Tensor **ins, Tensor **outs, const int64_t *i, int64_t ni);
/// Runs a generated row kernel (softmax, RMSNorm, LayerNorm): `ins[0]` is its FusedKernelFn, then
/// the input and a norm's scale and bias; `i[0]` is the first of the reduced dims.
void runRowKernel(Context &ctx, void **ins, int64_t numIns, Tensor **outs, const int64_t *i,
                  int64_t ni);
/// Runs `body` over parts of [0, n) across the pool with OpenBLAS on one thread per part: small
/// products (attention's, per head) run at half speed when OpenBLAS splits each of them too.
void runBlasPerPart(Context &ctx, int64_t n, const std::function<void(int64_t, int64_t)> &body);
/// Element strides of attention's `mask` against scores of shape `scores` ([batch, heads, rows,
/// length]), right-aligned, 0 where a dim of size 1 broadcasts; false where it does not broadcast.
bool attentionMaskStrides(const Tensor &mask, const int64_t *scores, int64_t *out);
/// Scaled dot-product attention (opcode Attention); keys and values may be strided.
void runAttention(Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs, double scale);
/// Checks that `added` ([batch, heads, count, dim] float32) appended to `past` fits `slot`;
/// returns the position the append starts at.
int64_t checkCacheAppend(const CacheSlot &slot, const Tensor &past, const Tensor &added,
                         int64_t axis);
/// Opcode KVAppend: appends in place to the session's cache slot of input `inputIndex`, or
/// concatenates outside a session.
void runKVAppend(Context &ctx, Tensor **ins, Tensor **outs, int64_t axis, int64_t inputIndex);

/// NumPy broadcast of shapes; fails on a mismatch.
std::vector<int64_t> broadcastShapes(const std::vector<int64_t> &a, const std::vector<int64_t> &b);
/// Strides of `shape` (right-aligned into `rank` dims) with 0 where it is broadcast.
std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape, size_t rank,
                                      const std::vector<int64_t> &outShape);
/// The operands' batch offsets (in matrices) of flat batch index `i` of a broadcast matmul.
inline void batchOffsets(int64_t i, const std::vector<int64_t> &batch,
                         const std::vector<int64_t> &aStrides,
                         const std::vector<int64_t> &bStrides, int64_t &aOff, int64_t &bOff) {
  aOff = bOff = 0;
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    int64_t c = i % batch[d];
    i /= batch[d];
    aOff += c * aStrides[d];
    bOff += c * bStrides[d];
  }
}

/// Reads element `i` of an integer tensor (any integer dtype) as int64.
int64_t readInt(const Tensor &t, int64_t i);
/// All elements of a small integer tensor.
std::vector<int64_t> readInts(const Tensor &t);

} // namespace qopt::rt

#endif // QOPT_LIB_RUNTIME_TENSOR_H
