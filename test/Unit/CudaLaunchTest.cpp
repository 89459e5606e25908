//===- CudaLaunchTest.cpp - which 4-bit GPU kernel a matmul's shape gets ---===//
//
// The runtime and bench/gpu_matmul launch the quantized kernels through quantLaunch; the compiler builds
// every form. These pin the choice the measurements in docs/performance.md were made for.
//
#include "qopt/Runtime/CudaQuantMatMul.h"

#include <gtest/gtest.h>
#include <string>

using qopt::cuda::q4Launch;

TEST(CudaLaunch, RowsPickTheForm) {
  const int sms = 132;
  EXPECT_EQ(std::string(q4Launch(1, 4096, 4096, 128, true, sms).suffix), "_h1");
  EXPECT_EQ(std::string(q4Launch(4, 4096, 4096, 128, true, sms).suffix), "_h4");
  EXPECT_EQ(std::string(q4Launch(15, 4096, 4096, 128, true, sms).suffix), "_h4");
  // The GEMM from 16 rows: 16, 32 or 64 rows a block.
  EXPECT_EQ(std::string(q4Launch(16, 4096, 4096, 128, true, sms).suffix), "_g1");
  EXPECT_EQ(std::string(q4Launch(17, 4096, 4096, 128, true, sms).suffix), "_g2");
  EXPECT_EQ(std::string(q4Launch(32, 4096, 4096, 128, true, sms).suffix), "_g2");
  EXPECT_EQ(std::string(q4Launch(33, 4096, 4096, 128, true, sms).suffix), "_g4");
  EXPECT_EQ(std::string(q4Launch(512, 4096, 4096, 128, true, sms).suffix), "_g4");
  // Without f16 arithmetic every size stays on the f32 kernels.
  EXPECT_EQ(std::string(q4Launch(1, 4096, 4096, 128, false, sms).suffix), "_r1");
  EXPECT_EQ(std::string(q4Launch(128, 4096, 4096, 128, false, sms).suffix), "_r4");
  // K not a multiple of 64: no tensor cores, f16 on the CUDA cores while K and the group are
  // multiples of 16, f32 otherwise.
  EXPECT_EQ(std::string(q4Launch(128, 4096, 4000, 32, true, sms).suffix), "_h4");
  EXPECT_EQ(std::string(q4Launch(128, 4096, 4096, 32, true, sms).suffix), "_h4");
  EXPECT_EQ(std::string(q4Launch(1, 4096, 4008, 4008, true, sms).suffix), "_r1");
  EXPECT_EQ(std::string(q4Launch(1, 4096, 4096, 8, true, sms).suffix), "_r1");
  // Blocks of 16 channels and of 1 or 4 rows in both forms.
  auto one = q4Launch(1, 4096, 4096, 128, true, sms);
  EXPECT_EQ(one.grid[0], 4096u / 16);
  EXPECT_EQ(one.grid[1], 1u);
  EXPECT_EQ(q4Launch(9, 4096, 4096, 128, true, sms).grid[1], 3u);
}

TEST(CudaLaunch, GemmSplitsKWhereTheTilesLeaveMultiprocessorsIdle) {
  const int sms = 132;
  // 28672 channels: 112 column blocks of 256, two row blocks of 64 for 128 rows; 224 blocks
  // fill the GPU, so K is not split.
  auto wide = q4Launch(128, 28672, 8192, 128, true, sms);
  EXPECT_EQ(wide.grid[0], 112u);
  EXPECT_EQ(wide.grid[1], 2u);
  EXPECT_EQ(wide.grid[2], 1u);
  EXPECT_FALSE(wide.accumulate);
  EXPECT_EQ(wide.block, 256u);
  // 4096 channels at 16 rows: 16 blocks, K split to two blocks a multiprocessor at most, each
  // split keeping at least four 64-code steps; the blocks add into a zeroed output.
  auto narrow = q4Launch(16, 4096, 4096, 128, true, sms);
  EXPECT_EQ(narrow.grid[0], 16u);
  EXPECT_EQ(narrow.grid[1], 1u);
  EXPECT_EQ(narrow.grid[2], 16u);
  EXPECT_TRUE(narrow.accumulate);
  // A short K is not split below four steps a block.
  EXPECT_EQ(q4Launch(16, 4096, 256, 128, true, sms).grid[2], 1u);
}

TEST(CudaLaunch, EightBitCodesTakeTheGemmAtEverySize) {
  const int sms = 132;
  using qopt::cuda::quantLaunch;
  EXPECT_EQ(std::string(quantLaunch(8, 1, 4096, 4096, 128, true, sms).suffix), "_g1");
  EXPECT_EQ(std::string(quantLaunch(8, 4, 4096, 4096, 128, false, sms).suffix), "_g1");
  EXPECT_EQ(std::string(quantLaunch(8, 128, 4096, 4096, 128, true, sms).suffix), "_g4");
  EXPECT_TRUE(quantLaunch(8, 1, 4096, 4096, 128, true, sms).accumulate);
  // 4-bit codes through the same entry point choose as q4Launch does.
  EXPECT_EQ(std::string(quantLaunch(4, 1, 4096, 4096, 128, true, sms).suffix), "_h1");
}
