//===- CudaLaunchTest.cpp - which 4-bit GPU kernel a matmul's shape gets ---===//
//
// The runtime and bench/gpu_matmul launch the 4-bit kernels through q4Launch; the compiler builds
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
  EXPECT_EQ(std::string(q4Launch(16, 4096, 4096, 128, true, sms).suffix), "_tc");
  // Without f16 arithmetic every size stays on the f32 kernels.
  EXPECT_EQ(std::string(q4Launch(1, 4096, 4096, 128, false, sms).suffix), "_r1");
  EXPECT_EQ(std::string(q4Launch(128, 4096, 4096, 128, false, sms).suffix), "_r4");
  // K not a multiple of 64: no tensor cores, f16 on the CUDA cores while K and the group are
  // multiples of 16, f32 otherwise.
  EXPECT_EQ(std::string(q4Launch(128, 4096, 4000, 32, true, sms).suffix), "_h4");
  EXPECT_EQ(std::string(q4Launch(1, 4096, 4008, 4008, true, sms).suffix), "_r1");
  EXPECT_EQ(std::string(q4Launch(1, 4096, 4096, 8, true, sms).suffix), "_r1");
  // Blocks of 16 channels and of 1 or 4 rows in both forms.
  auto one = q4Launch(1, 4096, 4096, 128, true, sms);
  EXPECT_EQ(one.grid[0], 4096u / 16);
  EXPECT_EQ(one.grid[1], 1u);
  EXPECT_EQ(q4Launch(9, 4096, 4096, 128, true, sms).grid[1], 3u);
}

TEST(CudaLaunch, WideRowTilesOnlyWhereColumnsFillTheGpu) {
  const int sms = 132;
  // 224 column blocks of 128 channels: 64 rows a block, two row blocks for 128 rows.
  auto wide = q4Launch(128, 28672, 8192, 128, true, sms);
  EXPECT_EQ(std::string(wide.suffix), "_tc4");
  EXPECT_EQ(wide.grid[0], 224u);
  EXPECT_EQ(wide.grid[1], 2u);
  // 32 or 64 column blocks: 16 rows a block, K split to fill the GPU.
  auto narrow = q4Launch(128, 4096, 4096, 128, true, sms);
  EXPECT_EQ(std::string(narrow.suffix), "_tc");
  EXPECT_EQ(narrow.grid[1], 8u);
  EXPECT_GT(narrow.grid[2], 1u);
  EXPECT_TRUE(narrow.accumulate);
  EXPECT_EQ(std::string(q4Launch(128, 8192, 8192, 128, true, sms).suffix), "_tc");
  // Below 64 rows the wide form never applies.
  EXPECT_EQ(std::string(q4Launch(32, 28672, 8192, 128, true, sms).suffix), "_tc");
}
