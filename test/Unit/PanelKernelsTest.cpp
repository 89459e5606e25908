//===- PanelKernelsTest.cpp - channel-panel layouts and decoding, code by code ===//
//
// The model-level tests compare whole layers; these check the cases a random weight rarely
// holds: every FP8 code (subnormals, both zeros, the NaNs) through the AVX-512 decoding, and every
// 3-bit code in every position of the two-part 3-bit block.
//
#include "lib/Runtime/PackedWeight.h"
#include "qopt/Quant/ChannelPanels.h"
#include "qopt/Quant/Codebooks.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace qopt;

namespace {
bool hasAvx512Vnni() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/// A symmetric weight of one group per channel with unit f32 scales, its codes in panels.
rt::PackedWeight panelWeight(int codebook, unsigned bits, int64_t n, int64_t k,
                             const std::vector<uint8_t> &panels, const std::vector<float> &scales) {
  rt::PackedWeight w;
  w.codebook = codebook;
  w.bits = bits;
  w.group = k;
  w.groups = 1;
  w.k = k;
  w.n = n;
  w.rowBytes = k * bits / 8;
  w.codes = panels.data();
  w.scales = scales.data();
  w.panelRows = quant::panelRows(n);
  for (unsigned c = 0; c < 256; ++c) {
    unsigned code = c & ((1u << bits) - 1);
    w.lut[c] = codebook == 3 ? quant::decodeFP8E4M3(static_cast<uint8_t>(code))
                             : static_cast<float>(static_cast<int>(code) - (1 << (bits - 1)));
  }
  return w;
}
} // namespace

TEST(PanelKernels, Fp8DecodesEveryCode) {
  if (!hasAvx512Vnni())
    GTEST_SKIP() << "the panel kernels need AVX-512 VNNI";
  // 16 channels of 256 inputs: channel j's input i is code (i + 16 j) mod 256.
  const int64_t n = 16, k = 256;
  std::vector<uint8_t> rows(n * k), panels(n * k);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < k; ++i)
      rows[j * k + i] = static_cast<uint8_t>((i + 16 * j) % 256);
  quant::convertChannelPanels(rows.data(), n, k, 8, panels.data(), /*toPanels=*/true);
  std::vector<float> scales(n, 1.0f), decoded(k * n);
  rt::PackedWeight w = panelWeight(/*codebook=*/3, 8, n, k, panels, scales);
  rt::decodePanel(w, 0, decoded.data(), n);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) {
      uint8_t code = rows[j * k + i];
      float expected = quant::decodeFP8E4M3(code), got = decoded[i * n + j];
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(got)) << "code " << int(code);
        continue;
      }
      EXPECT_EQ(got, expected) << "code " << int(code);
      EXPECT_EQ(std::signbit(got), std::signbit(expected)) << "code " << int(code);
      EXPECT_EQ(rt::panelValue(w, j, i), expected) << "code " << int(code);
    }
}

TEST(PanelKernels, ThreeBitCodesRoundTrip) {
  // 20 channels (one panel, then 4 rows) of 48 inputs, codes from a fixed pattern that puts
  // every code at every position of a block.
  const int64_t n = 20, k = 48, rowBytes = k * 3 / 8;
  std::vector<uint8_t> rows(n * rowBytes, 0), panels(n * rowBytes), back(n * rowBytes);
  auto codeOf = [](int64_t j, int64_t i) { return static_cast<unsigned>((5 * i + 3 * j + i / 7) % 8); };
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < k; ++i) {
      int64_t bit = i * 3;
      unsigned code = codeOf(j, i);
      rows[j * rowBytes + bit / 8] |= static_cast<uint8_t>(code << (bit % 8));
      if (bit % 8 > 5)
        rows[j * rowBytes + bit / 8 + 1] |= static_cast<uint8_t>(code >> (8 - bit % 8));
    }
  quant::convertChannelPanels(rows.data(), n, k, 3, panels.data(), /*toPanels=*/true);
  quant::convertChannelPanels(panels.data(), n, k, 3, back.data(), /*toPanels=*/false);
  EXPECT_EQ(back, rows);
  for (int64_t j = 0; j < quant::panelRows(n); ++j)
    for (int64_t i = 0; i < k; ++i) {
      ASSERT_EQ(quant::readPanelCode(panels.data(), j, i, k, 3), codeOf(j, i));
      ASSERT_EQ(quant::readRowCode(rows.data() + j * rowBytes, i, 3), codeOf(j, i));
    }
  if (!hasAvx512Vnni())
    return;
  // The kernels' byte planes give the same values: decoded panel against codes minus 4.
  std::vector<float> scales(n, 1.0f), decoded(k * 16);
  rt::PackedWeight w = panelWeight(/*codebook=*/0, 3, n, k, panels, scales);
  rt::decodePanel(w, 0, decoded.data(), 16);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < 16; ++j)
      ASSERT_EQ(decoded[i * 16 + j], static_cast<float>(static_cast<int>(codeOf(j, i)) - 4))
          << "channel " << j << " input " << i;
}
