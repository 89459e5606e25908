//===- CudaImagesTest.cpp - choosing a CUDA library's GPU code ------------===//
#include "lib/Runtime/Cuda/CudaImages.h"

#include <gtest/gtest.h>

using qopt::rt::cuda::chooseCudaImage;

namespace {
/// The layout qopt-lower-gpu-kernels writes, with images "A..." for sm_80 and "BB..." for sm_90.
std::string twoImages() {
  std::string images("QOPTCUDA", 8);
  auto word = [&](uint64_t v) { images.append(reinterpret_cast<const char *>(&v), 8); };
  word(2);
  word(80);
  word(3);
  images += "AAA";
  word(90);
  word(4);
  images += "BBBB";
  return images;
}
} // namespace

TEST(CudaImages, NewestArchitectureTheGpuRuns) {
  std::string images = twoImages();
  EXPECT_EQ(std::string(chooseCudaImage(images.data(), 90).image, 4), "BBBB");
  EXPECT_EQ(std::string(chooseCudaImage(images.data(), 100).image, 4), "BBBB");
  EXPECT_EQ(std::string(chooseCudaImage(images.data(), 89).image, 3), "AAA");
  EXPECT_EQ(chooseCudaImage(images.data(), 80).architectures, "sm_80, sm_90");
}

TEST(CudaImages, OlderGpuOrMalformed) {
  std::string images = twoImages();
  auto older = chooseCudaImage(images.data(), 75);
  EXPECT_TRUE(older.wellFormed);
  EXPECT_EQ(older.image, nullptr);
  images[0] = 'X';
  EXPECT_FALSE(chooseCudaImage(images.data(), 90).wellFormed);
}
