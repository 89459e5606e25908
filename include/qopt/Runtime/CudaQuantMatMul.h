//===- CudaQuantMatMul.h - how the quantized GPU matmuls are launched -*- C++ -*-===//
//
// The compiler builds the 4- and 8-bit GPU matmul kernels for one launch geometry and the
// runtime (and bench/gpu_matmul) launches them with it; this header is that geometry, shared by
// both. It includes nothing from MLIR or CUDA.
//
// Kernel family suffixes:
//   _h1, _h4  4-bit: f16 arithmetic on the CUDA cores (f32 sums), for 1 and 2..15 rows: each
//             warp computes kQ4ChannelsPerWarp output channels for 1 or 4 rows from activations
//             the block stages in shared memory as f16, kHalfChunkCodes at a time. K and the
//             group must be multiples of 16.
//   _r1, _r4  the same in f32, for shapes the f16 kernels do not take and where f16 arithmetic
//             is not wanted (agreement with the CPU to f32 rounding).
//   _g1, _g2, _g4
//             the tensor-core GEMM (mma.sync m16n8k16, f16 operands, f32 sums) for 4-bit codes
//             from 16 rows and 8-bit codes at every size: a block of kGemmWarps warps computes
//             16, 32 or 64 rows by kGemmChannelsPerBlock channels from activations it stages in
//             shared memory as f16, 64 codes of K at a time. When the blocks would leave
//             multiprocessors idle, K is split across gridDim.z and the blocks add their sums
//             into an output the runtime zeroed first.
//
#ifndef QOPT_RUNTIME_CUDAQUANTMATMUL_H
#define QOPT_RUNTIME_CUDAQUANTMATMUL_H

#include <algorithm>
#include <cstdint>

namespace qopt::cuda {

constexpr int64_t kQ4WarpsPerBlock = 4;
constexpr int64_t kQ4ChannelsPerWarp = 4;
constexpr int64_t kQ4ChannelsPerBlock = kQ4WarpsPerBlock * kQ4ChannelsPerWarp;
/// Codes of K whose activations a `_h` block stages at a time (2 bytes each, per row): a
/// multiple of 16 * 32 * 4, so that each lane takes a whole number of 16-code slots and each
/// thread stages a whole number of 8-code units.
constexpr int64_t kHalfChunkCodes = 2048;

/// Codes of K per step of the tensor-core GEMM; K and the group must be multiples of it.
constexpr int64_t kGemmStepCodes = 64;

constexpr int64_t kGemmWarps = 8;
constexpr int64_t kGemmTilesPerWarp = 4;
constexpr int64_t kGemmChannelsPerBlock = kGemmWarps * kGemmTilesPerWarp * 8;
/// Blocks of the 16-row GEMM that fit a multiprocessor at once (ptxas gives it 115-126
/// registers a thread for sm_90 with symmetric codes); the 32- and 64-row forms (172-246) fit
/// one.
constexpr int64_t kGemmBlocksPerSMOneTile = 2;
/// Steps of the GEMM whose loads are in flight while one is computed: two from 32 rows a block
/// (measured on an H100: 10-23 % faster at 32 and 128 rows than one), one for 16 rows, where two
/// would take 143 registers a thread and leave one block a multiprocessor.
constexpr int64_t gemmPrefetchSteps(int64_t rowTiles) { return rowTiles == 1 ? 1 : 2; }

struct QuantLaunch {
  /// "_h1", "_h4", "_r1", "_r4", "_g1", "_g2" or "_g4".
  const char *suffix;
  unsigned grid[3];
  unsigned block;
  /// The blocks add partial sums into y (split K): y must be zero before the launch.
  bool accumulate;
};

/// The staged tensor-core GEMM (`_g`) for y[m, n] = x[m, k] * W^T, K a multiple of 64.
inline QuantLaunch gemmLaunch(int64_t m, int64_t n, int64_t k, int64_t multiprocessors) {
  // 16, 32 or 64 rows a block: each code is decoded once per block's rows.
  int64_t rowTiles = m <= 16 ? 1 : m <= 32 ? 2 : 4;
  int64_t columnBlocks = (n + kGemmChannelsPerBlock - 1) / kGemmChannelsPerBlock;
  int64_t rowBlocks = (m + 16 * rowTiles - 1) / (16 * rowTiles);
  int64_t tiles = columnBlocks * rowBlocks;
  // Split K so that the blocks come close to one full wave (without passing it: a second,
  // partial wave costs as much as the first), each split keeping at least four steps.
  int64_t wave = multiprocessors * (rowTiles == 1 ? kGemmBlocksPerSMOneTile : 1);
  int64_t steps = k / kGemmStepCodes;
  int64_t splits = std::clamp<int64_t>(wave / tiles, 1, std::max<int64_t>(1, steps / 4));
  int64_t perSplit = (steps + splits - 1) / splits;
  splits = (steps + perSplit - 1) / perSplit;
  return {rowTiles == 1 ? "_g1" : rowTiles == 2 ? "_g2" : "_g4",
          {static_cast<unsigned>(columnBlocks), static_cast<unsigned>(rowBlocks),
           static_cast<unsigned>(splits)},
          static_cast<unsigned>(32 * kGemmWarps),
          splits > 1};
}

/// The kernel and grid for y[m, n] = x[m, k] * W^T of 4-bit codes in groups of `group`, on a
/// GPU with `multiprocessors` SMs. `halfPrecision` false keeps every size on the f32 kernels.
inline QuantLaunch q4Launch(int64_t m, int64_t n, int64_t k, int64_t group, bool halfPrecision,
                            int64_t multiprocessors) {
  if (halfPrecision && m >= 16 && k % kGemmStepCodes == 0 && group % kGemmStepCodes == 0)
    return gemmLaunch(m, n, k, multiprocessors);
  int64_t rows = m == 1 ? 1 : 4;
  bool half = halfPrecision && k % 16 == 0 && group % 16 == 0;
  return {half ? (m == 1 ? "_h1" : "_h4") : (m == 1 ? "_r1" : "_r4"),
          {static_cast<unsigned>((n + kQ4ChannelsPerBlock - 1) / kQ4ChannelsPerBlock),
           static_cast<unsigned>((m + rows - 1) / rows), 1},
          static_cast<unsigned>(32 * kQ4WarpsPerBlock),
          false};
}

/// The same for `bits`-bit codes: 8-bit codes have only the GEMM (the compiler builds their
/// kernels only where K and the group are multiples of 64), at every size and precision.
inline QuantLaunch quantLaunch(int64_t bits, int64_t m, int64_t n, int64_t k, int64_t group,
                               bool halfPrecision, int64_t multiprocessors) {
  if (bits == 8)
    return gemmLaunch(m, n, k, multiprocessors);
  return q4Launch(m, n, k, group, halfPrecision, multiprocessors);
}

} // namespace qopt::cuda

#endif // QOPT_RUNTIME_CUDAQUANTMATMUL_H
