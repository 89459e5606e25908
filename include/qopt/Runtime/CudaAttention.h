//===- CudaAttention.h - how attention and copies are launched on a GPU -*- C++ -*-===//
//
// The compiler builds the GPU attention and copy kernels for the geometry and parameter order
// below, and the runtime launches them with it. It includes nothing from MLIR or CUDA.
//
// qopt_gpu_attention_<D>_<Dv>: one block of kAttentionWarps warps per query row (grid x =
// batch * heads * rows); the warps take chunks of 32 keys in turn, a key per lane, and keep
// a running maximum, sum and output (online softmax); the block merges the warps' parts at
// the end. D and Dv, the query's and value's widths, are built in. Parameters, 8 bytes each:
//   q, k, v, mask, out (pointers; mask may be null),
//   heads, rows, length, groups (query heads per key head), scale (the f32's bits), masked (0/1),
//   q strides (batch, head, row), k strides (batch, head, position), v strides (same),
//   mask strides (batch, head, row, position): element strides, 0 where the operand broadcasts.
//
// qopt_gpu_copy: dst[sum p_d * ds_d] = src[sum p_d * ss_d] over a 4-D index space of 4-byte
// elements, a thread per element in blocks of kCopyThreads. Parameters: dst, src (pointers),
// total, d1, d2, d3 (d0 is total / (d1 * d2 * d3)), ds0..ds3, ss0..ss3.
//
#ifndef QOPT_RUNTIME_CUDAATTENTION_H
#define QOPT_RUNTIME_CUDAATTENTION_H

#include <cstdint>

namespace qopt::cuda {

constexpr int64_t kAttentionWarps = 4;
constexpr int64_t kAttentionThreads = kAttentionWarps * 32;
/// The widest query or value row the attention kernel is built for (its shared memory and the
/// per-lane sums, one per 32 values).
constexpr int64_t kAttentionMaxWidth = 256;

constexpr int64_t kCopyThreads = 256;
constexpr const char *kCopyKernel = "qopt_gpu_copy";

} // namespace qopt::cuda

#endif // QOPT_RUNTIME_CUDAATTENTION_H
