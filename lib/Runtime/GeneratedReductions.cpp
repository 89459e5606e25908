//===- GeneratedReductions.cpp - calling generated reduction kernels ------===//
//
// The compiler generates a reduction's loops for the op's rank and number of reduced axes
// (GenerateDataKernels.cpp): the input is read through a view whose trailing dims are the reduced
// ones, the output written row-major over the kept dims, with an accumulator per output element
// (a double for float32, an int64 for int64) that the runtime provides. The runtime works out
// that view (the input's strides permuted, so no copy is made) and the output's shape.
//
#include "Tensor.h"

#include <string>

namespace qopt::rt {
void runGeneratedReduction(Opcode op, Context &ctx, Tensor &in, const int64_t *i, int64_t ni,
                           Tensor **outs, FusedKernelFn kernel, int64_t kernelRank) {
  if ((in.dtype != QOPT_FLOAT32 && in.dtype != QOPT_INT64) || in.rank != kernelRank)
    fail("a generated reduction kernel of rank " + std::to_string(kernelRank) +
         " takes float32 or int64 input of that rank, not " + dtypeName(in.dtype) + " " +
         shapeString(in.shape()));
  bool reduced[QOPT_MAX_RANK];
  std::vector<int64_t> shape = reductionShape(in, i, ni, reduced);
  // The view: kept dims in order, then the reduced ones, each with its row-major stride.
  int64_t rowMajor[QOPT_MAX_RANK], sizes[QOPT_MAX_RANK], strides[QOPT_MAX_RANK];
  int64_t stride = 1;
  for (int64_t d = in.rank - 1; d >= 0; --d) {
    rowMajor[d] = stride;
    stride *= in.dims[d];
  }
  int64_t at = 0;
  for (bool reducedPass : {false, true})
    for (int64_t d = 0; d < in.rank; ++d)
      if (reduced[d] == reducedPass) {
        sizes[at] = in.dims[d];
        strides[at++] = rowMajor[d];
      }
  int64_t kept = 0;
  for (int64_t d = 0; d < in.rank; ++d)
    kept += !reduced[d];
  Tensor *out = ctx.allocate(in.dtype, shape);
  outs[0] = out;
  // The kernel accumulates in a double (for float32) or an int64, one per output element.
  static_assert(sizeof(double) == sizeof(int64_t), "one accumulator buffer serves both");
  Scratch<double, 256> acc(static_cast<size_t>(out->numElements()));
  KernelOperands operands;
  operands.add(in.data, in.rank, sizes, strides);
  operands.add(out->data, kept, sizes);
  operands.add(acc.get(), kept, sizes);
  operands.call(kernel);
}
} // namespace qopt::rt
