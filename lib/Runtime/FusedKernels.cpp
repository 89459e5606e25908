//===- FusedKernels.cpp - calling generated elementwise kernels -----------===//
//
// The compiler generates the loops of a fused elementwise chain; the runtime owns what varies per
// call: the broadcast shape, the output buffer, and the split across threads. A decoding step
// makes dozens of these calls on tensors of a few hundred elements, so the setup stays on the
// stack.
//
#include "Tensor.h"
#include "WorkerPool.h"

#include <algorithm>
#include <string>

namespace qopt::rt {
namespace {
/// Parts smaller than this many elements stay on the calling thread. The bar is high because the
/// kernels run between BLAS calls, whose threads keep spinning for a while after each call: waking
/// a pool worker then competes with them for the cores, and on two cores a chain of 100K elements
/// measured 3x slower split than on one thread (qlm_llama, 128 tokens).
constexpr int64_t kElementsPerPart = 262144;
/// Operands described on the stack; more go to the heap.
constexpr int64_t kStackOperands = 16;
/// Words of an MLIR memref descriptor of the largest rank: two pointers, offset, sizes, strides.
constexpr int kDescriptorWords = 3 + 2 * QOPT_MAX_RANK;

struct Operands {
  int64_t rank = 0, count = 0;
  int64_t *words = nullptr; // count descriptors of 3 + 2 * rank words each

  int64_t *descriptor(int64_t k) const { return words + k * (3 + 2 * rank); }
  /// Descriptor `k` over `data` with `sizes` and `strides`.
  void set(int64_t k, void *data, const int64_t *sizes, const int64_t *strides) const {
    int64_t *d = descriptor(k);
    d[0] = d[1] = static_cast<int64_t>(reinterpret_cast<intptr_t>(data));
    d[2] = 0;
    std::copy(sizes, sizes + rank, d + 3);
    std::copy(strides, strides + rank, d + 3 + rank);
  }
  /// Calls `kernel` on the part [begin, end) of dimension `dim`.
  void call(FusedKernelFn kernel, int64_t dim, int64_t begin, int64_t end) const {
    int64_t width = 3 + 2 * rank;
    Scratch<int64_t, kStackOperands * kDescriptorWords> partWords(count * width);
    Scratch<void *, kStackOperands> partPointers(count);
    int64_t *part = partWords.get();
    void **pointers = partPointers.get();
    std::copy(words, words + count * width, part);
    for (int64_t k = 0; k < count; ++k) {
      int64_t *d = part + k * width;
      if (dim >= 0) {
        d[2] += begin * d[3 + rank + dim];
        d[3 + dim] = end - begin;
      }
      pointers[k] = d;
    }
    kernel(pointers);
  }
};
} // namespace

void runFusedElementwise(Context &ctx, void **ins, int64_t numIns, Tensor **outs, int64_t rank,
                         int32_t dtype) {
  auto kernel = reinterpret_cast<FusedKernelFn>(ins[0]);
  auto **inputs = reinterpret_cast<Tensor **>(ins + 1);
  int64_t numInputs = numIns - 1, numOperands = numIns;
  if (rank < 0 || rank > QOPT_MAX_RANK)
    fail("a fused elementwise kernel has rank " + std::to_string(rank));
  auto computed = [](int32_t t) {
    return t == QOPT_FLOAT32 || t == QOPT_FLOAT16 || t == QOPT_BOOL || t == QOPT_INT32 ||
           t == QOPT_INT64;
  };
  if (!computed(dtype))
    fail("a fused elementwise kernel computes float32, float16, bool, int32 or int64, not " +
         std::string(dtypeName(dtype)));

  // The broadcast shape, right-aligned.
  int64_t shape[QOPT_MAX_RANK];
  std::fill(shape, shape + rank, 1);
  for (int64_t k = 0; k < numInputs; ++k) {
    const Tensor &t = *inputs[k];
    if (!computed(t.dtype))
      fail("a fused elementwise kernel takes float32, float16, bool, int32 and int64 inputs, "
           "not " +
           std::string(dtypeName(t.dtype)));
    if (t.rank > rank)
      fail("a fused elementwise kernel of rank " + std::to_string(rank) + " got an input of rank " +
           std::to_string(t.rank));
    for (int i = 0; i < t.rank; ++i) {
      int64_t &o = shape[rank - t.rank + i];
      int64_t d = t.dims[i];
      if (o != d && o != 1 && d != 1)
        fail("cannot broadcast dimension " + std::to_string(o) + " against " + std::to_string(d));
      if (o == 1)
        o = d;
    }
  }
  Tensor *out = ctx.allocate(dtype, std::vector<int64_t>(shape, shape + rank));
  outs[0] = out;

  // Each operand's strides over the output's dimensions, 0 where it broadcasts.
  Scratch<int64_t, kStackOperands * QOPT_MAX_RANK> strideScratch(numOperands * QOPT_MAX_RANK);
  int64_t *strides = strideScratch.get();
  for (int64_t k = 0; k < numOperands; ++k) {
    const Tensor &t = k < numInputs ? *inputs[k] : *out;
    int64_t *st = strides + k * QOPT_MAX_RANK;
    std::fill(st, st + rank, 0);
    int64_t stride = 1;
    for (int i = t.rank - 1; i >= 0; --i) {
      int64_t o = rank - t.rank + i;
      st[o] = t.dims[i] == 1 && shape[o] != 1 ? 0 : stride;
      stride *= t.dims[i];
    }
  }

  Scratch<void *, kStackOperands> dataScratch(numOperands);
  void **data = dataScratch.get();
  for (int64_t k = 0; k < numOperands; ++k)
    data[k] = k < numInputs ? inputs[k]->data : out->data;
  runStridedKernel(ctx, kernel, rank, shape, numOperands, data, strides);
}

void runStridedKernel(Context &ctx, FusedKernelFn kernel, int64_t rank, const int64_t *shape,
                      int64_t numOperands, void *const *data, const int64_t *strides) {
  int64_t n = 1;
  for (int64_t d = 0; d < rank; ++d)
    n *= shape[d];
  if (n == 0)
    return;

  // Dimensions of size 1 drop out, and adjacent dimensions that every operand walks as one
  // (row-major, or broadcast in both) merge, so the innermost loop, the one vectorized, runs as
  // long as it can. Filled from the right; what is left on the left is 1s with stride 0.
  int64_t sizes[QOPT_MAX_RANK];
  Scratch<int64_t, kStackOperands * QOPT_MAX_RANK> mergedScratch(numOperands * QOPT_MAX_RANK);
  int64_t *merged = mergedScratch.get();
  int64_t split = rank; // the outermost merged dimension
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (shape[d] == 1)
      continue;
    bool joins = split < rank;
    for (int64_t k = 0; joins && k < numOperands; ++k)
      joins = strides[k * QOPT_MAX_RANK + d] == merged[k * QOPT_MAX_RANK + split] * sizes[split];
    if (joins) {
      sizes[split] *= shape[d];
      continue;
    }
    --split;
    sizes[split] = shape[d];
    for (int64_t k = 0; k < numOperands; ++k)
      merged[k * QOPT_MAX_RANK + split] = strides[k * QOPT_MAX_RANK + d];
  }
  for (int64_t d = 0; d < split; ++d) {
    sizes[d] = 1;
    for (int64_t k = 0; k < numOperands; ++k)
      merged[k * QOPT_MAX_RANK + d] = 0;
  }

  Scratch<int64_t, kStackOperands * kDescriptorWords> wordScratch(numOperands * kDescriptorWords);
  Operands operands{rank, numOperands, wordScratch.get()};
  for (int64_t k = 0; k < numOperands; ++k)
    operands.set(k, data[k], sizes, merged + k * QOPT_MAX_RANK);

  // Threads split the outermost dimension that is not 1.
  int threads = ctx.workers ? ctx.workers->size() : 1;
  if (threads <= 1 || split == rank || n < 2 * kElementsPerPart)
    return operands.call(kernel, -1, 0, 0);
  int64_t inner = n / sizes[split];
  int64_t grain = std::max<int64_t>(1, kElementsPerPart / inner);
  ctx.workers->parallelFor(sizes[split], grain, [&](int64_t begin, int64_t end) {
    operands.call(kernel, split, begin, end);
  });
}
} // namespace qopt::rt
