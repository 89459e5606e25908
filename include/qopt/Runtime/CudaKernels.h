//===- CudaKernels.h - how attention, copies and f32 matmuls run on a GPU -*- C++ -*-===//
//
// The compiler builds these GPU kernels for the geometry and parameter order below, and the
// runtime launches them with it (the 4-bit matmuls have CudaQuantMatMul.h). It includes nothing
// from MLIR or CUDA.
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
// qopt_gpu_mm_<n>_r1, _r4: an f32 qopt.fused_matmul (weights in the CPU's panels [P, K, panel],
// the epilogue built in) for 1 or up to 4 rows a block: grid x = P, grid y = row blocks, blocks
// of kFloatMatMulThreads (a multiple of the panel). Parameters: x, w, y, epilogue inputs
// (pointers), m, k, n, then per epilogue input its row stride (0: one row for all; n).
//
#ifndef QOPT_RUNTIME_CUDAKERNELS_H
#define QOPT_RUNTIME_CUDAKERNELS_H

#include <cstdint>

namespace qopt::cuda {

constexpr int64_t kAttentionWarps = 4;
constexpr int64_t kAttentionThreads = kAttentionWarps * 32;
/// The widest query or value row the attention kernel is built for (its shared memory and the
/// per-lane sums, one per 32 values).
constexpr int64_t kAttentionMaxWidth = 256;

constexpr int64_t kCopyThreads = 256;
constexpr const char *kCopyKernel = "qopt_gpu_copy";

constexpr int64_t kFloatMatMulThreads = 256;
/// Rows a block of the f32 matmul computes, by kernel suffix.
constexpr int64_t kFloatMatMulRows[2] = {1, 4};
constexpr const char *kFloatMatMulSuffix[2] = {"_r1", "_r4"};

} // namespace qopt::cuda

#endif // QOPT_RUNTIME_CUDAKERNELS_H
