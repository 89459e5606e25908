//===- GeneratedRowKernels.cpp - calling generated softmax and norm kernels -===//
//
// The compiler generates the per-row loops of a softmax over the last axis, RMSNorm and LayerNorm
// (GenerateRowKernels.cpp); the runtime views the input as [rows, width] (the dims before the
// first reduced one, and the rest), allocates the output and splits the rows across threads.
//
#include "Tensor.h"
#include "WorkerPool.h"

#include <algorithm>
#include <string>

namespace qopt::rt {
namespace {
/// Elements of rows below which a part stays on the calling thread.
constexpr int64_t kRowElements = 16384;
} // namespace

void runRowKernel(Context &ctx, void **ins, int64_t numIns, Tensor **outs, const int64_t *i,
                  int64_t ni) {
  if (ni < 1 || numIns < 2 || numIns > 4)
    fail("a generated row kernel needs its first reduced dim, an input and at most a scale and "
         "a bias");
  auto kernel = reinterpret_cast<FusedKernelFn>(ins[0]);
  const Tensor &input = *reinterpret_cast<Tensor *>(ins[1]);
  int64_t axis = i[0];
  if (input.dtype != QOPT_FLOAT32 || axis < 0 || axis >= std::max<int64_t>(input.rank, 1))
    fail("a generated row kernel takes float32 input with its reduced dims inside the shape, not " +
         std::string(dtypeName(input.dtype)) + " " + shapeString(input.shape()));
  int64_t rows = 1, width = 1;
  for (int64_t d = 0; d < input.rank; ++d)
    (d < axis ? rows : width) *= input.dims[d];
  Tensor *out = ctx.allocate(QOPT_FLOAT32, input.shape());
  outs[0] = out;
  if (rows == 0 || width == 0)
    return;
  for (int64_t k = 2; k < numIns; ++k) {
    const Tensor &t = *reinterpret_cast<Tensor *>(ins[k]);
    if (t.dtype != QOPT_FLOAT32 || t.numElements() != width)
      fail("a norm's scale and bias must be " + std::to_string(width) + " float32 values, not " +
           dtypeName(t.dtype) + " " + shapeString(t.shape()));
  }
  auto call = [&](int64_t begin, int64_t end) {
    int64_t params[3] = {begin, end, width};
    KernelOperands operands;
    operands.addBuffer(input.data, input.numElements());
    operands.addBuffer(out->data, out->numElements());
    operands.addBuffer(params, 3);
    // A kernel without a scale or bias never reads those operands; they are described anyway.
    for (int64_t k = 2; k < 4; ++k)
      operands.addBuffer(k < numIns ? reinterpret_cast<Tensor *>(ins[k])->data : nullptr,
                         k < numIns ? width : 0);
    operands.call(kernel);
  };
  int threads = ctx.workers ? ctx.workers->size() : 1;
  int64_t grain = std::max<int64_t>(1, kRowElements / width);
  if (threads <= 1 || rows < 2 * grain)
    return call(0, rows);
  ctx.workers->parallelFor(rows, grain, call);
}
} // namespace qopt::rt
