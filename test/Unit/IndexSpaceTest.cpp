//===- IndexSpaceTest.cpp - folding broadcasts into a GPU kernel's 4-D space ===//
#include "lib/Runtime/Cuda/IndexSpace.h"

#include <gtest/gtest.h>

using qopt::rt::cuda::foldIndexSpace;

namespace {
using Strides = std::vector<std::vector<int64_t>>;

// Visits every position of the folded space and of the original one in row-major order and
// checks that each operand reads the same element at both.
void expectSameWalk(const std::vector<int64_t> &shape, const Strides &strides,
                    const std::vector<int64_t> &sizes, const Strides &folded) {
  int64_t total = 1;
  for (int64_t d : shape)
    total *= d;
  for (int64_t i = 0; i < total; ++i) {
    for (size_t k = 0; k < strides.size(); ++k) {
      int64_t rest = i, original = 0, mine = 0;
      for (size_t d = shape.size(); d-- > 0;) {
        original += (rest % shape[d]) * strides[k][d];
        rest /= shape[d];
      }
      rest = i;
      for (size_t d = sizes.size(); d-- > 0;) {
        mine += (rest % sizes[d]) * folded[k][d];
        rest /= sizes[d];
      }
      ASSERT_EQ(mine, original) << "operand " << k << " at " << i;
    }
  }
}
/// Folds into four dims, checks the walk, and returns the sizes and folded strides.
std::pair<std::vector<int64_t>, Strides> foldChecked(const std::vector<int64_t> &shape,
                                                     const Strides &strides) {
  std::vector<int64_t> sizes;
  Strides folded;
  EXPECT_TRUE(foldIndexSpace(shape, strides, 4, sizes, folded));
  expectSameWalk(shape, strides, sizes, folded);
  return {sizes, folded};
}
} // namespace

TEST(IndexSpace, ContiguousOperandsBecomeOneDim) {
  auto [sizes, folded] = foldChecked({2, 3, 4, 5, 6}, {{360, 120, 30, 6, 1}, {360, 120, 30, 6, 1}});
  EXPECT_EQ(sizes, (std::vector<int64_t>{1, 1, 1, 720}));
  EXPECT_EQ(folded[0], (std::vector<int64_t>{0, 0, 0, 1}));
}

TEST(IndexSpace, BroadcastRowsKeepTheirOwnDim) {
  // [8, 16, 64] + [64] (a bias): the leading dims merge, the broadcast one stays apart.
  auto [sizes, folded] = foldChecked({8, 16, 64}, {{1024, 64, 1}, {0, 0, 1}, {1024, 64, 1}});
  EXPECT_EQ(sizes, (std::vector<int64_t>{1, 1, 128, 64}));
  EXPECT_EQ(folded[1], (std::vector<int64_t>{0, 0, 0, 1}));
}

TEST(IndexSpace, SizeOneDimsDropOut) {
  auto [sizes, folded] = foldChecked({1, 4, 1, 3}, {{12, 3, 3, 1}, {0, 1, 0, 0}});
  EXPECT_EQ(sizes, (std::vector<int64_t>{1, 1, 4, 3}));
}

TEST(IndexSpace, AlternatingBroadcastsNeedMoreThanFourDims) {
  // Each operand broadcasts every other dim: nothing merges, five dims remain.
  std::vector<int64_t> shape = {2, 3, 2, 3, 2};
  Strides strides = {{18, 0, 3, 0, 1}, {0, 6, 0, 2, 0}, {36, 12, 6, 2, 1}};
  std::vector<int64_t> sizes;
  Strides folded;
  EXPECT_FALSE(foldIndexSpace(shape, strides, 4, sizes, folded));
  ASSERT_TRUE(foldIndexSpace(shape, strides, 5, sizes, folded));
  expectSameWalk(shape, strides, sizes, folded);
}
