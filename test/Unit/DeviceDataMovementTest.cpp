//===- DeviceDataMovementTest.cpp - data movement through a device's copies ===//
//
// On a GPU, transpose, slice, concat, split and expand run the CPU's geometry over device
// addresses, every copy handed to a DeviceCopier with explicit source and destination strides.
// Here the copier works on host memory with its own loop, so the geometry (strided destinations
// included) is checked against the runtime's CPU kernels without a GPU.
//
#include "lib/Runtime/Tensor.h"

#include <cstring>
#include <gtest/gtest.h>

using namespace qopt::rt;

namespace {
/// A DeviceCopier over host memory: a plain loop over the view's positions.
class HostCopier final : public DeviceCopier {
public:
  int copies = 0;
  Tensor *result(Context &ctx, int32_t dtype, const std::vector<int64_t> &shape) override {
    return ctx.allocate(dtype, shape);
  }
  char *address(Tensor &t) override { return t.as<char>(); }
  void copy(const char *src, const std::vector<int64_t> &srcStrides, char *dst,
            const std::vector<int64_t> &dstStrides, const std::vector<int64_t> &shape,
            size_t elem) override {
    ++copies;
    int64_t total = 1;
    for (int64_t d : shape)
      total *= d;
    for (int64_t i = 0; i < total; ++i) {
      int64_t rest = i, from = 0, to = 0;
      for (size_t d = shape.size(); d-- > 0;) {
        int64_t c = rest % shape[d];
        rest /= shape[d];
        from += c * srcStrides[d];
        to += c * dstStrides[d];
      }
      std::memcpy(dst + to * static_cast<int64_t>(elem), src + from * static_cast<int64_t>(elem),
                  elem);
    }
  }
};

struct DataMovement : ::testing::Test {
  Context ctx;
  ~DataMovement() override {
    ctx.releaseAll();
    ctx.drainPool();
  }

  Tensor *floats(const std::vector<int64_t> &shape) {
    Tensor *t = ctx.allocate(QOPT_FLOAT32, shape);
    for (int64_t i = 0; i < t->numElements(); ++i)
      t->as<float>()[i] = static_cast<float>(i) + 0.5f;
    return t;
  }
  Tensor *ints(const std::vector<int64_t> &values) {
    Tensor *t = ctx.allocate(QOPT_INT64, {static_cast<int64_t>(values.size())});
    std::copy(values.begin(), values.end(), t->as<int64_t>());
    return t;
  }

  /// Runs `op` on the CPU and through a HostCopier and expects the same outputs, bit for bit.
  void expectSame(Opcode op, std::vector<Tensor *> ins, int64_t numOuts,
                  std::vector<int64_t> attrs) {
    std::vector<Tensor *> cpu(numOuts), device(numOuts);
    runShapeOp(op, ctx, ins.data(), static_cast<int64_t>(ins.size()), cpu.data(), numOuts,
               attrs.data(), static_cast<int64_t>(attrs.size()), nullptr, 0);
    HostCopier copier;
    ASSERT_TRUE(runDeviceDataMovement(op, ctx, copier, ins.data(),
                                      static_cast<int64_t>(ins.size()), device.data(), numOuts,
                                      attrs.data(), static_cast<int64_t>(attrs.size())));
    EXPECT_GT(copier.copies, 0);
    for (int64_t o = 0; o < numOuts; ++o) {
      ASSERT_EQ(cpu[o]->shape(), device[o]->shape()) << "output " << o;
      for (int64_t i = 0; i < cpu[o]->numElements(); ++i)
        ASSERT_EQ(cpu[o]->as<float>()[i], device[o]->as<float>()[i]) << "output " << o << " at " << i;
    }
  }
};
} // namespace

TEST_F(DataMovement, TransposeSwapsHeadsAndPositions) {
  expectSame(Opcode::Transpose, {floats({2, 3, 4, 5})}, 1, {0, 2, 1, 3});
  expectSame(Opcode::Transpose, {floats({3, 7})}, 1, {1, 0});
}

// A transpose that moves only dims of size 1 (a decoding step's heads and its one position)
// copies nothing on either target: the result views the input's memory.
TEST_F(DataMovement, TransposeOfSizeOneDimsIsAView) {
  Tensor *in = floats({1, 1, 4, 8});
  std::vector<int64_t> perm = {0, 2, 1, 3};
  Tensor *cpu = nullptr, *device = nullptr;
  runShapeOp(Opcode::Transpose, ctx, &in, 1, &cpu, 1, perm.data(), 4, nullptr, 0);
  EXPECT_EQ(cpu->data, in->data);
  EXPECT_EQ(cpu->shape(), (std::vector<int64_t>{1, 4, 1, 8}));
  HostCopier copier;
  ASSERT_TRUE(runDeviceDataMovement(Opcode::Transpose, ctx, copier, &in, 1, &device, 1,
                                    perm.data(), 4));
  EXPECT_EQ(copier.copies, 0);
  EXPECT_EQ(device->data, in->data);
  EXPECT_EQ(device->shape(), (std::vector<int64_t>{1, 4, 1, 8}));
  // Two dims larger than 1 swapped still move: [1, 2, 4, 1] to [1, 4, 2, 1].
  expectSame(Opcode::Transpose, {floats({1, 2, 4, 1})}, 1, {0, 2, 1, 3});
}

TEST_F(DataMovement, SliceWithStepsAndNegativeBounds) {
  // Rotary halves, and a reversed strided slice.
  Tensor *x = floats({2, 8, 6});
  expectSame(Opcode::Slice, {x, ints({0}), ints({3}), ints({-1})}, 1, {});
  expectSame(Opcode::Slice, {x, ints({3}), ints({6}), ints({-1})}, 1, {});
  expectSame(Opcode::Slice, {x, ints({1, -1}), ints({7, -7}), ints({1, 2}), ints({2, -2})}, 1, {});
}

TEST_F(DataMovement, ConcatWritesStridedParts) {
  expectSame(Opcode::Concat, {floats({2, 3, 4}), floats({2, 1, 4}), floats({2, 2, 4})}, 1, {1});
  expectSame(Opcode::Concat, {floats({2, 3, 2}), floats({2, 3, 5})}, 1, {-1});
}

TEST_F(DataMovement, SplitBySizesAndEvenly) {
  expectSame(Opcode::Split, {floats({4, 6}), ints({1, 2, 3})}, 3, {1});
  expectSame(Opcode::Split, {floats({6, 3})}, 2, {0});
}

TEST_F(DataMovement, ExpandBroadcasts) {
  expectSame(Opcode::Expand, {floats({3, 1}), ints({2, 3, 4})}, 1, {});
}

TEST_F(DataMovement, OtherOpcodesAreNotTaken) {
  HostCopier copier;
  Tensor *x = floats({2, 2});
  Tensor *out = nullptr;
  int64_t attrs[1] = {0};
  EXPECT_FALSE(runDeviceDataMovement(Opcode::Gather, ctx, copier, &x, 1, &out, 1, attrs, 1));
  EXPECT_EQ(copier.copies, 0);
}
