//===- FusedKernels.cpp - calling generated elementwise kernels -----------===//
//
// The compiler generates the loops of a fused elementwise chain; the runtime owns what varies per
// call: the broadcast shape, the output buffer, and the split across threads.
//
#include "Tensor.h"
#include "WorkerPool.h"

#include <algorithm>

namespace qopt::rt {
namespace {
/// Parts smaller than this many elements are not worth a thread.
constexpr int64_t kElementsPerPart = 16384;

/// An MLIR memref descriptor of `rank` as 64-bit words: pointers, offset, sizes, strides.
struct Descriptor {
  std::vector<int64_t> words;
  Descriptor(const Tensor &t, const std::vector<int64_t> &sizes, const std::vector<int64_t> &strides) {
    size_t rank = sizes.size();
    words.resize(3 + 2 * rank);
    words[0] = words[1] = static_cast<int64_t>(reinterpret_cast<intptr_t>(t.data));
    words[2] = 0;
    for (size_t d = 0; d < rank; ++d) {
      words[3 + d] = sizes[d];
      words[3 + rank + d] = strides[d];
    }
  }
  int64_t &offset() { return words[2]; }
  int64_t &size(size_t d) { return words[3 + d]; }
  int64_t stride(size_t d) const { return words[3 + (words.size() - 3) / 2 + d]; }
};
} // namespace

void runFusedElementwise(Context &ctx, void **ins, int64_t numIns, Tensor **outs, int64_t rank) {
  auto kernel = reinterpret_cast<FusedKernelFn>(ins[0]);
  auto **inputs = reinterpret_cast<Tensor **>(ins + 1);
  int64_t numInputs = numIns - 1;
  std::vector<int64_t> shape;
  for (int64_t k = 0; k < numInputs; ++k) {
    if (inputs[k]->dtype != QOPT_FLOAT32)
      fail("a fused elementwise kernel takes float32 inputs, not " +
           std::string(dtypeName(inputs[k]->dtype)));
    shape = broadcastShapes(shape, inputs[k]->shape());
  }
  if (static_cast<int64_t>(shape.size()) != rank)
    fail("a fused elementwise kernel of rank " + std::to_string(rank) + " got inputs of rank " +
         std::to_string(shape.size()));
  Tensor *out = ctx.allocate(QOPT_FLOAT32, shape);
  outs[0] = out;
  int64_t n = out->numElements();
  if (n == 0)
    return;

  // Adjacent dimensions that every operand walks as one (row-major and unbroadcast, or broadcast
  // in both) merge, so the kernel's innermost loop, the one vectorized, runs as long as it can.
  std::vector<std::vector<int64_t>> strides;
  for (int64_t k = 0; k < numInputs; ++k)
    strides.push_back(broadcastStrides(inputs[k]->shape(), shape.size(), shape));
  strides.push_back(broadcastStrides(shape, shape.size(), shape));
  // Dimensions of size 1 drop out; the rest merge from the right while every operand's stride
  // allows; the result is padded back to the kernel's rank with 1s on the left.
  size_t numOperands = strides.size();
  std::vector<int64_t> sizes;                            // innermost first while merging
  std::vector<std::vector<int64_t>> merged(numOperands); // likewise
  for (size_t d = rank; d-- > 0;) {
    if (shape[d] == 1)
      continue;
    bool joins = !sizes.empty();
    for (size_t k = 0; joins && k < numOperands; ++k)
      joins = strides[k][d] == merged[k].back() * sizes.back();
    if (joins) {
      sizes.back() *= shape[d];
      continue;
    }
    sizes.push_back(shape[d]);
    for (size_t k = 0; k < numOperands; ++k)
      merged[k].push_back(strides[k][d]);
  }
  sizes.resize(rank, 1);
  std::reverse(sizes.begin(), sizes.end());
  for (size_t k = 0; k < numOperands; ++k) {
    merged[k].resize(rank, 0);
    std::reverse(merged[k].begin(), merged[k].end());
  }
  strides = std::move(merged);
  std::vector<Descriptor> descs;
  for (int64_t k = 0; k < numInputs; ++k)
    descs.emplace_back(*inputs[k], sizes, strides[k]);
  descs.emplace_back(*out, sizes, strides.back());
  auto call = [&](std::vector<Descriptor> &operands) {
    std::vector<void *> pointers;
    for (Descriptor &d : operands)
      pointers.push_back(d.words.data());
    kernel(pointers.data());
  };

  // Threads split the outermost dimension that is not 1.
  size_t split = 0;
  while (split < sizes.size() && sizes[split] == 1)
    ++split;
  int threads = ctx.workers ? ctx.workers->size() : 1;
  if (threads <= 1 || split == sizes.size() || n < 2 * kElementsPerPart)
    return call(descs);
  int64_t inner = n / sizes[split];
  int64_t grain = std::max<int64_t>(1, kElementsPerPart / inner);
  ctx.workers->parallelFor(sizes[split], grain, [&](int64_t begin, int64_t end) {
    std::vector<Descriptor> part = descs;
    for (Descriptor &d : part) {
      d.offset() += begin * d.stride(split);
      d.size(split) = end - begin;
    }
    call(part);
  });
}
} // namespace qopt::rt
