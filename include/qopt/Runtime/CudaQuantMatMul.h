//===- CudaQuantMatMul.h - how the 4-bit GPU matmuls are launched -*- C++ -*-===//
//
// The compiler builds the 4-bit GPU matmul kernels for one launch geometry and the runtime (and
// bench/gpu_matmul) launches them with it; this header is that geometry, shared by both. It
// includes nothing from MLIR or CUDA.
//
// Kernel family suffixes:
//   _h1, _h4  f16 arithmetic on the CUDA cores (f32 sums), for 1 and 2..15 rows: each warp
//             computes kQ4ChannelsPerWarp output channels for 1 or 4 rows from activations the
//             block stages in shared memory as f16, kHalfChunkCodes at a time. K and the group
//             must be multiples of 16.
//   _r1, _r4  the same in f32, for shapes the f16 kernels do not take and where f16 arithmetic
//             is not wanted (agreement with the CPU to f32 rounding).
//   _tc, _tc4 tensor cores (mma.sync m16n8k16, f16 operands, f32 sums) from 16 rows: a block
//             computes 16 rows (_tc; _tc4: 16 * kTcWideRowTiles, from that many rows where the
//             columns alone give every multiprocessor a block) by
//             kTcChannelsPerBlock channels, each warp kTcTilesPerWarp tiles
//             of 8 channels on the same activation fragments. When the grid would leave
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

constexpr int64_t kTcWarps = 4;
constexpr int64_t kTcTilesPerWarp = 4;
constexpr int64_t kTcChannelsPerBlock = kTcWarps * kTcTilesPerWarp * 8;
/// Codes per K step of the tensor-core kernel; K and the group must be multiples of it.
constexpr int64_t kTcStepCodes = 64;
/// 16-row tiles a block of the `_tc4` form computes (from kTcWideRowTiles * 16 rows).
constexpr int64_t kTcWideRowTiles = 4;

struct Q4Launch {
  /// "_h1", "_h4", "_r1", "_r4", "_tc" or "_tc4".
  const char *suffix;
  unsigned grid[3];
  unsigned block;
  /// The blocks add partial sums into y (split K): y must be zero before the launch.
  bool accumulate;
};

/// The kernel and grid for y[m, n] = x[m, k] * W^T with groups of `group` codes, on a GPU with
/// `multiprocessors` SMs. `halfPrecision` false keeps every size on the f32 kernels.
inline Q4Launch q4Launch(int64_t m, int64_t n, int64_t k, int64_t group, bool halfPrecision,
                         int64_t multiprocessors) {
  if (halfPrecision && m >= 16 && k % kTcStepCodes == 0 && group % kTcStepCodes == 0) {
    // Four row tiles a block decode each code once for 64 rows, but leave a quarter of the
    // blocks: worth it only where the columns alone give every multiprocessor a block (measured
    // on an H100 at 128 rows: 8192x28672 1.23x faster, 8192x8192 even, 4096x4096 0.75x).
    int64_t columnBlocks = (n + kTcChannelsPerBlock - 1) / kTcChannelsPerBlock;
    int64_t rowsPerBlock =
        m >= 16 * kTcWideRowTiles && columnBlocks >= multiprocessors ? 16 * kTcWideRowTiles : 16;
    int64_t rowBlocks = (m + rowsPerBlock - 1) / rowsPerBlock;
    int64_t tiles = columnBlocks * rowBlocks;
    int64_t steps = k / kTcStepCodes, splits = 1;
    // Two blocks per multiprocessor, each split keeping at least four steps.
    if (tiles < 2 * multiprocessors)
      splits = std::clamp<int64_t>((2 * multiprocessors + tiles - 1) / tiles, 1,
                                   std::max<int64_t>(1, steps / 4));
    int64_t perSplit = (steps + splits - 1) / splits;
    splits = (steps + perSplit - 1) / perSplit;
    return {rowsPerBlock == 16 ? "_tc" : "_tc4",
            {static_cast<unsigned>(columnBlocks), static_cast<unsigned>(rowBlocks),
             static_cast<unsigned>(splits)},
            static_cast<unsigned>(32 * kTcWarps),
            splits > 1};
  }
  int64_t rows = m == 1 ? 1 : 4;
  bool half = halfPrecision && k % 16 == 0 && group % 16 == 0;
  return {half ? (m == 1 ? "_h1" : "_h4") : (m == 1 ? "_r1" : "_r4"),
          {static_cast<unsigned>((n + kQ4ChannelsPerBlock - 1) / kQ4ChannelsPerBlock),
           static_cast<unsigned>((m + rows - 1) / rows), 1},
          static_cast<unsigned>(32 * kQ4WarpsPerBlock),
          false};
}

} // namespace qopt::cuda

#endif // QOPT_RUNTIME_CUDAQUANTMATMUL_H
