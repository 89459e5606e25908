//===- GeneratedMatMul.cpp - calling generated matmul kernels -------------===//
//
// The compiler generates the register-tiled loops of a product by a packed weight, with its
// epilogue (qopt.fused_matmul); the runtime owns what varies per call: how many rows there are,
// the output buffer, how each epilogue input lines up with the output's rows, and the split of
// rows and panels across threads.
//
#include "Tensor.h"
#include "WorkerPool.h"

#include <algorithm>
#include <string>

namespace qopt::rt {
namespace {
/// Multiply-adds below which a product stays on the calling thread: waking the pool costs a few
/// microseconds, as much as a product of this size takes.
constexpr int64_t kSplitWork = int64_t(1) << 17;
/// Rows per part when rows are split (a multiple of every row block the kernels use).
constexpr int64_t kRowGrain = 24;
/// Operands described on the stack; more go to the heap.
constexpr int64_t kStackOperands = 12;
/// Parameter words before the epilogue inputs' row strides (GenerateMatMulKernel.cpp).
constexpr int kParamWords = 4;

/// `e` broadcast to `rows` x `n` (its dims right-aligned against `outShape`), for an epilogue
/// input whose rows do not line up with the output's one to one or all in one.
std::vector<float> expandRows(const Tensor &e, const std::vector<int64_t> &outShape, int64_t rows,
                              int64_t n) {
  std::vector<int64_t> lead(outShape.begin(), outShape.end() - 1);
  std::vector<int64_t> eShape = e.shape();
  eShape.pop_back();
  std::vector<int64_t> strides = broadcastStrides(eShape, lead.size(), lead);
  std::vector<float> out(rows * n);
  std::vector<int64_t> index(lead.size(), 0);
  const float *src = e.as<float>();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offset = 0;
    for (size_t d = 0; d < lead.size(); ++d)
      offset += index[d] * strides[d];
    std::copy_n(src + offset * n, n, out.data() + r * n);
    for (int64_t d = static_cast<int64_t>(lead.size()) - 1; d >= 0; --d) {
      if (++index[d] < lead[d])
        break;
      index[d] = 0;
    }
  }
  return out;
}
} // namespace

void runFusedMatMul(Context &ctx, void **ins, int64_t numIns, Tensor **outs, const int64_t *i,
                    int64_t ni) {
  if (ni < 3 || numIns < 3)
    fail("a generated matmul needs K, N and the panel width, and an input and a weight");
  auto kernel = reinterpret_cast<FusedKernelFn>(ins[0]);
  const Tensor &input = *reinterpret_cast<Tensor *>(ins[1]);
  const Tensor &weight = *reinterpret_cast<Tensor *>(ins[2]);
  auto **epilogue = reinterpret_cast<Tensor **>(ins + 3);
  int64_t numEpilogue = numIns - 3;
  int64_t k = i[0], n = i[1], panel = i[2];
  int64_t panels = (n + panel - 1) / panel;
  if (input.dtype != QOPT_FLOAT32 || input.rank < 1 || input.dims[input.rank - 1] != k)
    fail("a generated matmul takes float32 rows of " + std::to_string(k) + ", not " +
         dtypeName(input.dtype) + " " + shapeString(input.shape()));
  if (weight.dtype != QOPT_FLOAT32 || weight.numElements() != panels * k * panel)
    fail("a generated matmul's packed weight does not hold " + std::to_string(panels) + "x" +
         std::to_string(k) + "x" + std::to_string(panel) + " floats");

  std::vector<int64_t> shape = input.shape();
  shape.back() = n;
  Tensor *out = ctx.allocate(QOPT_FLOAT32, shape);
  outs[0] = out;
  int64_t rows = input.numElements() / std::max<int64_t>(k, 1);
  if (rows == 0)
    return;

  // Descriptors: input, weight, output, parameters, epilogue inputs.
  int64_t numOperands = 4 + numEpilogue;
  Scratch<int64_t, kStackOperands * kBufferWords> wordScratch(numOperands * kBufferWords);
  int64_t *words = wordScratch.get();
  describeBuffer(words + 0 * kBufferWords, input.data, input.numElements());
  describeBuffer(words + 1 * kBufferWords, weight.data, weight.numElements());
  describeBuffer(words + 2 * kBufferWords, out->data, out->numElements());
  std::vector<int64_t> strides(numEpilogue);
  // Expanded inputs live until the calls below; reserved so their buffers never move.
  std::vector<std::vector<float>> expanded;
  expanded.reserve(numEpilogue);
  for (int64_t e = 0; e < numEpilogue; ++e) {
    const Tensor &t = *epilogue[e];
    if (t.dtype != QOPT_FLOAT32 || t.rank < 1 || t.rank > out->rank || t.dims[t.rank - 1] != n)
      fail("a generated matmul's epilogue input must be float32 rows of " + std::to_string(n) +
           ", not " + dtypeName(t.dtype) + " " + shapeString(t.shape()));
    const void *data = t.data;
    int64_t count = t.numElements();
    if (count == n) {
      strides[e] = 0; // one row for all
    } else if (count == rows * n &&
               std::equal(t.dims, t.dims + t.rank, shape.end() - t.rank)) {
      strides[e] = n;
    } else {
      for (int d = 0; d < t.rank; ++d)
        if (t.dims[d] != 1 && t.dims[d] != shape[shape.size() - t.rank + d])
          fail("a generated matmul's epilogue input " + shapeString(t.shape()) +
               " does not broadcast to " + shapeString(shape));
      expanded.push_back(expandRows(t, shape, rows, n));
      data = expanded.back().data();
      count = rows * n;
      strides[e] = n;
    }
    describeBuffer(words + (4 + e) * kBufferWords, data, count);
  }

  // One call on [rowBegin, rowEnd) x [panelBegin, panelEnd); each part has its own parameters.
  auto call = [&](int64_t rowBegin, int64_t rowEnd, int64_t panelBegin, int64_t panelEnd) {
    Scratch<int64_t, kParamWords + kStackOperands> paramScratch(kParamWords + numEpilogue);
    int64_t *params = paramScratch.get();
    params[0] = rowBegin;
    params[1] = rowEnd;
    params[2] = panelBegin;
    params[3] = panelEnd;
    std::copy(strides.begin(), strides.end(), params + kParamWords);
    int64_t paramWords[kBufferWords];
    describeBuffer(paramWords, params, kParamWords + numEpilogue);
    Scratch<void *, kStackOperands> pointerScratch(numOperands);
    void **pointers = pointerScratch.get();
    for (int64_t op = 0; op < numOperands; ++op)
      pointers[op] = op == 3 ? paramWords : words + op * kBufferWords;
    kernel(pointers);
  };

  int threads = ctx.workers ? ctx.workers->size() : 1;
  if (threads <= 1 || rows * k * n < kSplitWork)
    return call(0, rows, 0, panels);
  // Panels split first: every thread then reads the same rows (shared in cache) and its own
  // part of the weight, which is what a decoding step streams.
  if (panels >= threads)
    return ctx.workers->parallelFor(panels, 1, [&](int64_t begin, int64_t end) {
      call(0, rows, begin, end);
    });
  ctx.workers->parallelFor((rows + kRowGrain - 1) / kRowGrain, 1, [&](int64_t begin, int64_t end) {
    call(begin * kRowGrain, std::min(rows, end * kRowGrain), 0, panels);
  });
}

void panelGather(Context &ctx, Tensor **ins, Tensor **outs, const int64_t *i, int64_t ni) {
  const Tensor &panels = *ins[0], &indices = *ins[1];
  if (ni < 1 || panels.dtype != QOPT_FLOAT32 || panels.rank != 3)
    fail("a panel lookup needs N and float32 panels [P, K, panel], not " +
         std::string(dtypeName(panels.dtype)) + " " + shapeString(panels.shape()));
  int64_t n = i[0], k = panels.dims[1], width = panels.dims[2];
  if (width < 1 || panels.dims[0] != (n + width - 1) / width)
    fail("a panel lookup's panels " + shapeString(panels.shape()) + " do not hold " +
         std::to_string(n) + " rows");
  if (indices.dtype != QOPT_INT64 && indices.dtype != QOPT_INT32)
    fail(std::string("a panel lookup takes int64 or int32 indices, not ") +
         dtypeName(indices.dtype));
  std::vector<int64_t> shape = indices.shape();
  shape.push_back(k);
  Tensor *out = ctx.allocate(QOPT_FLOAT32, shape);
  outs[0] = out;
  const float *src = panels.as<float>();
  float *dst = out->as<float>();
  for (int64_t t = 0, count = indices.numElements(); t < count; ++t) {
    int64_t id = indices.dtype == QOPT_INT64 ? indices.as<int64_t>()[t] : indices.as<int32_t>()[t];
    int64_t row = id < 0 ? id + n : id;
    if (row < 0 || row >= n)
      fail("gather index " + std::to_string(id) + " out of range [0, " + std::to_string(n) + ")");
    // Row `row` is lane row % width of panel row / width, one element per k.
    const float *lane = src + (row / width) * k * width + row % width;
    for (int64_t kk = 0; kk < k; ++kk)
      dst[t * k + kk] = lane[kk * width];
  }
}
} // namespace qopt::rt
