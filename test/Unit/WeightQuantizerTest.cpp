//===- WeightQuantizerTest.cpp - quantize → dequantize against direct references ===//
//
// The references here are written from the definitions in docs/quantization.md, element by
// element, sharing no code with lib/Quant: 16-bit scales go through the compiler's _Float16 and
// __bf16 conversions, FP8 through a search over every e4m3 value.
//
#include "qopt/Quant/Codebooks.h"
#include "qopt/Quant/WeightQuantizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace qopt::quant;

namespace {
std::vector<float> randomWeights(int64_t n, int64_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w(n * k);
  for (float &x : w)
    x = normal(rng);
  w[3] = 0.4f; // an outlier, as real weights have
  return w;
}

float storeScale(float s, ScaleType t) {
  if (t == ScaleType::F16)
    return static_cast<float>(static_cast<_Float16>(s));
  if (t == ScaleType::BF16) { // 8 significant bits, ties to even
    int e;
    float m = std::frexp(s, &e);
    return std::ldexp(std::nearbyint(std::ldexp(m, 8)), e - 8);
  }
  return s;
}

/// Every finite e4m3 value, by code.
float e4m3Value(int code) {
  int e = (code >> 3) & 15, m = code & 7;
  float v = e == 0 ? m / 8.0f * std::pow(2.0f, -6.0f) : (1.0f + m / 8.0f) * std::pow(2.0f, e - 7.0f);
  return (code & 0x80) ? -v : v;
}

float nearestE4M3(float x) {
  float best = 0.0f, bestDist = INFINITY;
  int bestCode = 0;
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7F) == 0x7F)
      continue; // NaN
    float v = e4m3Value(code), d = std::fabs(v - x);
    if (d < bestDist || (d == bestDist && (code & 1) == 0 && (bestCode & 1) == 1)) {
      best = v;
      bestDist = d;
      bestCode = code;
    }
  }
  return best;
}

const float kNF4Ref[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                           -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f,
                           0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                           0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                           0.7229568362236023f, 1.0f};
const float kFP4Ref[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
// bitsandbytes' FP4 magnitudes: 0, 1/192, 2/3, 1, 1/3, 1/2, 1/6, 1/4.
const float kBnbFP4Ref[8] = {0.0f, 1.0f / 192, 2.0f / 3, 1.0f, 1.0f / 3, 0.5f, 1.0f / 6, 0.25f};

float nearestOf(const std::vector<float> &table, float x) {
  float best = table[0];
  for (float v : table)
    if (std::fabs(v - x) < std::fabs(best - x))
      best = v;
  return best;
}

/// The dequantized weights, computed directly from the scheme's definition.
std::vector<float> reference(const std::vector<float> &w, int64_t n, int64_t k, const Scheme &s) {
  int64_t g = s.groupSize ? s.groupSize : k, groups = (k + g - 1) / g;
  std::vector<float> scale(n * groups), lowest(n * groups);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < groups; ++j) {
      float mn = INFINITY, mx = -INFINITY;
      for (int64_t i = j * g; i < std::min(k, (j + 1) * g); ++i) {
        mn = std::min(mn, w[r * k + i]);
        mx = std::max(mx, w[r * k + i]);
      }
      float absmax = std::max(-mn, mx), sc;
      if (s.codebook == Codebook::Int && s.symmetric)
        sc = (-mn > mx ? mn : mx) / -std::pow(2.0f, s.bits - 1.0f);
      else if (s.codebook == Codebook::Int)
        sc = (std::max(mx, 0.0f) - std::min(mn, 0.0f)) / (std::pow(2.0f, float(s.bits)) - 1.0f);
      else if (s.codebook == Codebook::NF4 || s.codebook == Codebook::BnbFP4)
        sc = absmax;
      else if (s.codebook == Codebook::FP4)
        sc = absmax / 6.0f;
      else
        sc = absmax / 448.0f;
      scale[r * groups + j] = sc;
      lowest[r * groups + j] = std::min(mn, 0.0f);
    }
  if (s.doubleQuantBlock) {
    bool signedScales = s.codebook == Codebook::Int && s.symmetric;
    for (size_t b = 0; b < scale.size(); b += s.doubleQuantBlock) {
      size_t e = std::min(scale.size(), b + s.doubleQuantBlock);
      float absmax = 0.0f;
      for (size_t i = b; i < e; ++i)
        absmax = std::max(absmax, std::fabs(scale[i]));
      float ss = absmax / (signedScales ? 127.0f : 255.0f);
      for (size_t i = b; i < e; ++i) {
        float q = ss ? std::nearbyint(scale[i] / ss) : 0.0f;
        q = signedScales ? std::clamp(q, -128.0f, 127.0f) : std::clamp(q, 0.0f, 255.0f);
        scale[i] = q * ss;
      }
    }
  } else {
    for (float &sc : scale)
      sc = storeScale(sc, s.scaleType);
  }
  std::vector<float> nf4(kNF4Ref, kNF4Ref + 16), fp4, bnb;
  for (int i = 0; i < 8; ++i) {
    fp4.push_back(kFP4Ref[i]);
    fp4.push_back(-kFP4Ref[i]);
    bnb.push_back(kBnbFP4Ref[i]);
    bnb.push_back(-kBnbFP4Ref[i]);
  }
  std::vector<float> out(n * k);
  float levels = std::pow(2.0f, float(s.bits)) - 1.0f, half = std::pow(2.0f, s.bits - 1.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i) {
      float sc = scale[r * groups + i / g];
      float inv = sc != 0.0f ? 1.0f / sc : 0.0f;
      volatile float x = w[r * k + i] * inv; // rounded to float, never fused
      float v;
      if (s.codebook == Codebook::Int && s.symmetric) {
        volatile float shifted = x + half;
        v = std::clamp(std::round(static_cast<float>(shifted)), 0.0f, levels) - half;
      } else if (s.codebook == Codebook::Int) {
        float zero = sc != 0.0f ? std::clamp(std::round(-lowest[r * groups + i / g] / sc), 0.0f, levels) : 0.0f;
        v = std::clamp(std::round(static_cast<float>(x)) + zero, 0.0f, levels) - zero;
      } else if (s.codebook == Codebook::NF4) {
        v = nearestOf(nf4, x);
      } else if (s.codebook == Codebook::FP4) {
        v = nearestOf(fp4, x);
      } else if (s.codebook == Codebook::BnbFP4) {
        v = nearestOf(bnb, x);
      } else {
        v = nearestE4M3(x);
      }
      out[r * k + i] = v * sc;
    }
  return out;
}

struct Case {
  const char *name;
  Scheme scheme;
};

class RoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTrip, MatchesReference) {
  const Scheme &s = GetParam().scheme;
  ASSERT_EQ(s.validate(), "");
  // K = 100 leaves a short last group for every group size below it.
  const int64_t n = 7, k = 100;
  std::vector<float> w = randomWeights(n, k, 42);
  QuantizedWeight q = quantizeWeight(w.data(), n, k, s);
  EXPECT_EQ(static_cast<int64_t>(q.codes.size()), n * ((k * s.bits + 7) / 8));
  std::vector<float> got = dequantizeWeight(q, s), want = reference(w, n, k, s);
  for (int64_t i = 0; i < n * k; ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-9f)
        << GetParam().name << " element " << i << " of weight " << w[i];
}

Scheme make(Codebook c, unsigned bits, int64_t group, bool sym, ScaleType t, int64_t dq = 0) {
  Scheme s;
  s.codebook = c;
  s.bits = bits;
  s.groupSize = group;
  s.symmetric = sym;
  s.scaleType = t;
  s.doubleQuantBlock = dq;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, RoundTrip,
    ::testing::Values(
        Case{"int8_g128_sym_f16", make(Codebook::Int, 8, 128, true, ScaleType::F16)},
        Case{"int4_g32_sym_f32", make(Codebook::Int, 4, 32, true, ScaleType::F32)},
        Case{"int4_g32_sym_f16", make(Codebook::Int, 4, 32, true, ScaleType::F16)},
        Case{"int4_g64_asym_bf16", make(Codebook::Int, 4, 64, false, ScaleType::BF16)},
        Case{"int3_g32_sym_f16", make(Codebook::Int, 3, 32, true, ScaleType::F16)},
        Case{"int3_channel_asym_f32", make(Codebook::Int, 3, 0, false, ScaleType::F32)},
        Case{"int2_g64_sym_f16", make(Codebook::Int, 2, 64, true, ScaleType::F16)},
        Case{"int2_g256_asym_f16", make(Codebook::Int, 2, 256, false, ScaleType::F16)},
        Case{"int5_g16_sym_f16", make(Codebook::Int, 5, 16, true, ScaleType::F16)},
        Case{"nf4_g64", make(Codebook::NF4, 4, 64, true, ScaleType::F16)},
        Case{"nf4_g32_double_quant", make(Codebook::NF4, 4, 32, true, ScaleType::F16, 4)},
        Case{"int4_g32_sym_double_quant", make(Codebook::Int, 4, 32, true, ScaleType::F16, 8)},
        Case{"int4_g32_asym_double_quant", make(Codebook::Int, 4, 32, false, ScaleType::F16, 8)},
        Case{"fp4_g32", make(Codebook::FP4, 4, 32, true, ScaleType::F16)},
        Case{"bnb_fp4_g64", make(Codebook::BnbFP4, 4, 64, true, ScaleType::F32)},
        Case{"fp8_channel", make(Codebook::FP8E4M3, 8, 0, true, ScaleType::F32)}),
    [](const ::testing::TestParamInfo<Case> &info) { return std::string(info.param.name); });

TEST(Packing, ThreeBitCodesAreDenseLsbFirst) {
  uint8_t row[3] = {};
  for (unsigned i = 0; i < 8; ++i)
    writeCode(row, i, 3, (i + 1) & 7);
  // 1 | 2 << 3 | 3 << 6 | 4 << 9 | 5 << 12 | 6 << 15 | 7 << 18 = 0x1F58D1.
  EXPECT_EQ(row[0], 0xD1);
  EXPECT_EQ(row[1], 0x58);
  EXPECT_EQ(row[2], 0x1F);
  for (unsigned i = 0; i < 8; ++i)
    EXPECT_EQ(readCode(row, i, 3), (i + 1) & 7);
}

TEST(Packing, FourBitCodesTakeTheLowNibbleFirst) {
  std::vector<float> w = {-1.0f, 0.5f, 0.25f, 0.0f};
  Scheme s = make(Codebook::Int, 4, 4, true, ScaleType::F32);
  QuantizedWeight q = quantizeWeight(w.data(), 1, 4, s);
  // scale = -1 / -8 = 0.125; codes 0, 12, 10, 8.
  EXPECT_FLOAT_EQ(q.scales[0], 0.125f);
  ASSERT_EQ(q.codes.size(), 2u);
  EXPECT_EQ(q.codes[0], 0xC0);
  EXPECT_EQ(q.codes[1], 0x8A);
}

TEST(Packing, OddLengthRowsArePaddedToWholeBytes) {
  std::vector<float> w = randomWeights(3, 13, 7);
  Scheme s = make(Codebook::Int, 3, 5, true, ScaleType::F32);
  QuantizedWeight q = quantizeWeight(w.data(), 3, 13, s);
  EXPECT_EQ(q.codes.size(), 3u * 5u); // ceil(13 * 3 / 8) = 5 bytes per row
  EXPECT_EQ(q.groups, 3);             // 5 + 5 + 3
  std::vector<float> got = dequantizeWeight(q, s), want = reference(w, 3, 13, s);
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_FLOAT_EQ(got[i], want[i]);
}

TEST(IntSymmetric, RoundsAfterAddingTheZeroPoint) {
  // With scale 1, w = -0.50000006: w + 8 rounds to 7.5 in float, which roundf takes to 8
  // (value 0); rounding first would give -1. ONNX Runtime and llama.cpp do the former.
  std::vector<float> w = {-8.0f, -0.50000006f};
  Scheme s = make(Codebook::Int, 4, 2, true, ScaleType::F32);
  QuantizedWeight q = quantizeWeight(w.data(), 1, 2, s);
  EXPECT_EQ(readCode(q.codes.data(), 1, 4), 8u);
  EXPECT_EQ(dequantizeWeight(q, s)[1], 0.0f);
}

TEST(IntAsymmetric, ZeroIsExact) {
  std::vector<float> w = {0.1f, 0.3f, 0.0f, 0.7f};
  Scheme s = make(Codebook::Int, 4, 4, false, ScaleType::F32);
  QuantizedWeight q = quantizeWeight(w.data(), 1, 4, s);
  EXPECT_EQ(q.zeroPoints[0], 0); // the range [0, 0.7] includes zero at its bottom
  EXPECT_EQ(dequantizeWeight(q, s)[2], 0.0f);
}

TEST(Scales, AllZeroGroupsDequantizeToZero) {
  std::vector<float> w(64, 0.0f);
  for (Scheme s : {make(Codebook::Int, 4, 32, true, ScaleType::F16),
                   make(Codebook::Int, 4, 32, false, ScaleType::F16),
                   make(Codebook::NF4, 4, 32, true, ScaleType::F16, 2)}) {
    QuantizedWeight q = quantizeWeight(w.data(), 1, 64, s);
    for (float v : dequantizeWeight(q, s))
      EXPECT_EQ(v, 0.0f);
  }
}

TEST(Conversions, HalfRoundsToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);     // tie, to even
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie, to even
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToBFloat(1.0f), 0x3F80);
  EXPECT_EQ(floatToBFloat(1.00390625f), 0x3F80); // 1 + 2^-8: a tie, to even
}

TEST(Conversions, FP8E4M3SaturatesAndRoundsToEven) {
  EXPECT_EQ(encodeFP8E4M3(448.0f), 0x7E);
  EXPECT_EQ(encodeFP8E4M3(1000.0f), 0x7E);
  EXPECT_EQ(encodeFP8E4M3(-2.0f), 0xC0);
  EXPECT_EQ(encodeFP8E4M3(std::ldexp(1.0f, -9)), 0x01);
  EXPECT_EQ(encodeFP8E4M3(0.0f), 0x00);
  EXPECT_EQ(encodeFP8E4M3(NAN), 0x7F);
  EXPECT_EQ(encodeFP8E4M3(1.0625f), 0x38); // halfway between 1 and 1.125: to even
  EXPECT_EQ(encodeFP8E4M3(1.1875f), 0x3A); // halfway between 1.125 and 1.25: to even
}

TEST(Validation, RejectsImpossibleSchemes) {
  EXPECT_NE(make(Codebook::NF4, 8, 64, true, ScaleType::F16).validate(), "");
  EXPECT_NE(make(Codebook::FP8E4M3, 4, 64, true, ScaleType::F16).validate(), "");
  EXPECT_NE(make(Codebook::Int, 9, 64, true, ScaleType::F16).validate(), "");
  EXPECT_NE(make(Codebook::Int, 4, -1, true, ScaleType::F16).validate(), "");
  EXPECT_NE(make(Codebook::NF4, 4, 64, false, ScaleType::F16).validate(), "");
  EXPECT_EQ(make(Codebook::Int, 3, 0, false, ScaleType::BF16).validate(), "");
}
} // namespace
