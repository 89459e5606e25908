//===- WeightQuantizer.cpp - round-to-nearest weight quantization ---------===//
//
// Built with -ffp-contract=off: the symmetric int convention (`roundf(w * r + 2^(b-1))` in float32,
// the rounding of ONNX Runtime's MatMulNBits quantizer and llama.cpp's Q4_0) must not be fused
// into an FMA, which rounds once instead of twice and gives different codes at the half points.
//
#include "qopt/Quant/WeightQuantizer.h"

#include "qopt/Quant/Codebooks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace qopt::quant;

int64_t Scheme::numGroups(int64_t k) const {
  if (groupSize == 0 || k <= 0)
    return 1;
  return (k + groupSize - 1) / groupSize;
}

std::string Scheme::validate() const {
  switch (codebook) {
  case Codebook::Int:
    if (bits < 2 || bits > 8)
      return "int weights take 2 to 8 bits, not " + std::to_string(bits);
    break;
  case Codebook::NF4:
  case Codebook::FP4:
  case Codebook::BnbFP4:
    if (bits != 4)
      return std::string(codebook == Codebook::NF4 ? "nf4" : "fp4") + " codes are 4 bits wide, not " +
             std::to_string(bits);
    break;
  case Codebook::FP8E4M3:
    if (bits != 8)
      return "fp8 codes are 8 bits wide, not " + std::to_string(bits);
    break;
  }
  if (groupSize < 0)
    return "the group size must be positive, not " + std::to_string(groupSize);
  if (!symmetric && codebook != Codebook::Int)
    return "only int weights take zero points (asymmetric)";
  if (doubleQuantBlock < 0)
    return "the double-quantization block must be positive";
  return "";
}

float qopt::quant::codeValue(const Scheme &scheme, unsigned code) {
  switch (scheme.codebook) {
  case Codebook::Int:
    return scheme.symmetric ? static_cast<float>(static_cast<int>(code) - (1 << (scheme.bits - 1)))
                            : static_cast<float>(code);
  case Codebook::NF4:
    return kNF4[code & 15];
  case Codebook::FP4:
    return kFP4[code & 15];
  case Codebook::FP8E4M3:
    return decodeFP8E4M3(static_cast<uint8_t>(code));
  case Codebook::BnbFP4:
    return kBnbFP4[code & 15];
  }
  return 0.0f;
}

unsigned qopt::quant::readCode(const uint8_t *row, int64_t index, unsigned bits) {
  int64_t bit = index * bits;
  unsigned value = 0;
  for (unsigned b = 0; b < bits; ++b, ++bit)
    value |= ((row[bit >> 3] >> (bit & 7)) & 1u) << b;
  return value;
}

void qopt::quant::writeCode(uint8_t *row, int64_t index, unsigned bits, unsigned code) {
  int64_t bit = index * bits;
  for (unsigned b = 0; b < bits; ++b, ++bit) {
    uint8_t mask = static_cast<uint8_t>(1u << (bit & 7));
    if ((code >> b) & 1u)
      row[bit >> 3] |= mask;
    else
      row[bit >> 3] &= static_cast<uint8_t>(~mask);
  }
}

uint16_t qopt::quant::floatToHalf(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7FFFFFFF;
  if (ax >= 0x7F800000) // inf or NaN
    return sign | (ax > 0x7F800000 ? 0x7E00 : 0x7C00);
  if (ax >= 0x477FF000) // rounds past the largest half, 65504
    return sign | 0x7C00;
  if (ax < 0x38800000) { // below the smallest normal half, 2^-14: a multiple of 2^-24
    float a;
    std::memcpy(&a, &ax, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));
  }
  // Rebias the exponent (127 → 15) and round the 13 dropped mantissa bits to nearest even.
  uint32_t rounded = ax - 0x38000000u + 0xFFFu + ((ax >> 13) & 1u);
  return sign | static_cast<uint16_t>(rounded >> 13);
}

uint16_t qopt::quant::floatToBFloat(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  if ((x & 0x7FFFFFFF) > 0x7F800000)
    return static_cast<uint16_t>((x >> 16) | 0x40);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

namespace {
/// A scale as the chosen storage type will hold it.
float roundScale(float scale, ScaleType type, uint16_t *bits) {
  switch (type) {
  case ScaleType::F32:
    return scale;
  case ScaleType::F16:
    *bits = floatToHalf(scale);
    return halfToFloat(*bits);
  case ScaleType::BF16:
    *bits = floatToBFloat(scale);
    return bfloatToFloat(*bits);
  }
  return scale;
}

/// Index of the table entry nearest to `x` (the first one on a tie).
unsigned nearestIndex(const float *table, float x) {
  unsigned best = 0;
  float bestDistance = std::fabs(table[0] - x);
  for (unsigned i = 1; i < 16; ++i) {
    float d = std::fabs(table[i] - x);
    if (d < bestDistance) {
      best = i;
      bestDistance = d;
    }
  }
  return best;
}

/// The raw (unrounded) scale of one group, and for asymmetric ints its minimum; `clip` shrinks
/// the group's range.
float groupScale(const float *w, int64_t count, const Scheme &scheme, float *minimum, float clip) {
  float mn = w[0], mx = w[0];
  for (int64_t i = 1; i < count; ++i) {
    mn = std::min(mn, w[i]);
    mx = std::max(mx, w[i]);
  }
  float absmax = std::max(std::fabs(mn), std::fabs(mx));
  if (clip != 1.0f) {
    // Clipping shrinks the range to [-clip * absmax, clip * absmax], as clamping the weights would.
    absmax *= clip;
    mn = std::max(mn, -absmax);
    mx = std::min(mx, absmax);
  }
  switch (scheme.codebook) {
  case Codebook::Int:
    if (scheme.symmetric) {
      // The value of largest magnitude, with its sign, maps to code 0: all 2^b levels are used.
      float m = std::fabs(mn) > std::fabs(mx) ? mn : mx;
      return m / -static_cast<float>(1 << (scheme.bits - 1));
    }
    // The range always holds zero, so that zero is exactly representable.
    mn = std::min(mn, 0.0f);
    mx = std::max(mx, 0.0f);
    *minimum = mn;
    return (mx - mn) / static_cast<float>((1 << scheme.bits) - 1);
  case Codebook::NF4:
  case Codebook::BnbFP4:
    return absmax;
  case Codebook::FP4:
    return absmax / kFP4Max;
  case Codebook::FP8E4M3:
    return absmax / kFP8E4M3Max;
  }
  return 0.0f;
}

} // namespace

GridFitter::GridFitter(const Scheme &scheme, const float *w, int64_t n, int64_t k)
    : scheme(scheme), groups(scheme.numGroups(k)),
      group(scheme.groupSize ? scheme.groupSize : k) {
  if (scheme.doubleQuantBlock <= 0)
    return;
  // The second-level scales come from the round-to-nearest scales of the whole weight: every
  // later fit of a group (GPTQ's, on updated weights) is coded against them.
  int64_t total = n * groups, block = scheme.doubleQuantBlock;
  float levels = scheme.scaleCodeOffset() ? 127.0f : 255.0f;
  scaleScales.assign((total + block - 1) / block, 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = g * group, count = std::min(group, k - begin);
      float minimum = 0.0f;
      float s = std::fabs(groupScale(w + r * k + begin, count, scheme, &minimum, 1.0f));
      float &ss = scaleScales[(r * groups + g) / block];
      ss = std::max(ss, s);
    }
  for (float &ss : scaleScales)
    ss /= levels;
}

GroupGrid GridFitter::fit(int64_t row, int64_t g, const float *values, int64_t count,
                          float clip) const {
  GroupGrid grid;
  float minimum = 0.0f;
  float raw = groupScale(values, count, scheme, &minimum, clip);
  if (scheme.doubleQuantBlock > 0) {
    float ss = scaleScales[(row * groups + g) / scheme.doubleQuantBlock];
    float offset = static_cast<float>(scheme.scaleCodeOffset());
    float code = ss != 0.0f ? std::nearbyint(raw / ss) + offset : offset;
    grid.scaleCode = static_cast<uint8_t>(std::clamp(code, 0.0f, 255.0f));
    grid.scale = (static_cast<float>(grid.scaleCode) - offset) * ss;
  } else {
    grid.scale = roundScale(raw, scheme.scaleType, &grid.scaleBits);
  }
  if (!scheme.symmetric) {
    float maxCode = static_cast<float>((1u << scheme.bits) - 1);
    float zero = grid.scale != 0.0f ? std::roundf(-minimum / grid.scale) : 0.0f;
    grid.zero = std::clamp(zero, 0.0f, maxCode);
  }
  return grid;
}

unsigned qopt::quant::encodeWeight(float w, const GroupGrid &grid, const Scheme &scheme) {
  float inv = grid.scale != 0.0f ? 1.0f / grid.scale : 0.0f;
  float x = w * inv;
  float maxCode = static_cast<float>((1u << scheme.bits) - 1);
  switch (scheme.codebook) {
  case Codebook::Int: {
    float u = scheme.symmetric ? std::roundf(x + static_cast<float>(1u << (scheme.bits - 1)))
                               : std::roundf(x) + grid.zero;
    return static_cast<unsigned>(std::clamp(u, 0.0f, maxCode));
  }
  case Codebook::NF4:
    return nearestIndex(kNF4, x);
  case Codebook::FP4:
    return nearestIndex(kFP4, x);
  case Codebook::FP8E4M3:
    return encodeFP8E4M3(x);
  case Codebook::BnbFP4:
    return nearestIndex(kBnbFP4, x);
  }
  return 0;
}

float qopt::quant::decodeWeight(unsigned code, const GroupGrid &grid, const Scheme &scheme) {
  float value = codeValue(scheme, code);
  if (!scheme.symmetric)
    value -= grid.zero;
  return value * grid.scale;
}

QuantizedWeight qopt::quant::packWeight(int64_t n, int64_t k, const Scheme &scheme,
                                        const std::vector<GroupGrid> &grids,
                                        const std::vector<uint8_t> &codes,
                                        const std::vector<float> &scaleScales) {
  QuantizedWeight q;
  q.n = n;
  q.k = k;
  q.groups = scheme.numGroups(k);
  int64_t rowBytes = scheme.rowBytes(k);
  q.codes.assign(n * rowBytes, 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i)
      writeCode(q.codes.data() + r * rowBytes, i, scheme.bits, codes[r * k + i]);
  bool doubleQuant = scheme.doubleQuantBlock > 0;
  q.scales.resize(n * q.groups);
  if (doubleQuant) {
    q.scaleCodes.resize(n * q.groups);
    q.scaleScales = scaleScales;
  } else if (scheme.scaleType != ScaleType::F32) {
    q.scaleBits.resize(n * q.groups);
  }
  if (!scheme.symmetric)
    q.zeroPoints.resize(n * q.groups);
  for (size_t i = 0; i < grids.size(); ++i) {
    q.scales[i] = grids[i].scale;
    if (doubleQuant)
      q.scaleCodes[i] = grids[i].scaleCode;
    else if (!q.scaleBits.empty())
      q.scaleBits[i] = grids[i].scaleBits;
    if (!scheme.symmetric)
      q.zeroPoints[i] = static_cast<uint8_t>(grids[i].zero);
  }
  return q;
}

QuantizedWeight qopt::quant::quantizeWeight(const float *w, int64_t n, int64_t k,
                                            const Scheme &scheme, const float *clip) {
  GridFitter fitter(scheme, w, n, k);
  int64_t groups = fitter.numGroups(), group = fitter.groupLength();
  std::vector<GroupGrid> grids(n * groups);
  std::vector<uint8_t> codes(n * k);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = g * group, end = std::min(k, begin + group);
      // Codes are chosen against the scales as stored, so that their rounding is compensated.
      GroupGrid &grid = grids[r * groups + g];
      grid = fitter.fit(r, g, w + r * k + begin, end - begin, clip ? clip[r * groups + g] : 1.0f);
      for (int64_t i = begin; i < end; ++i)
        codes[r * k + i] = static_cast<uint8_t>(encodeWeight(w[r * k + i], grid, scheme));
    }
  return packWeight(n, k, scheme, grids, codes, fitter.secondLevelScales());
}

std::vector<float> qopt::quant::roundTripWeight(const float *w, int64_t n, int64_t k,
                                                const Scheme &scheme) {
  GridFitter fitter(scheme, w, n, k);
  int64_t groups = fitter.numGroups(), group = fitter.groupLength();
  std::vector<float> out(n * k);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = g * group, end = std::min(k, begin + group);
      GroupGrid grid = fitter.fit(r, g, w + r * k + begin, end - begin);
      for (int64_t i = begin; i < end; ++i)
        out[r * k + i] = decodeWeight(encodeWeight(w[r * k + i], grid, scheme), grid, scheme);
    }
  return out;
}

std::vector<float> qopt::quant::dequantizeWeight(const QuantizedWeight &q, const Scheme &scheme) {
  std::vector<float> out(q.n * q.k);
  dequantizeRows(q, scheme, 0, q.n, out.data());
  return out;
}

void qopt::quant::dequantizeRows(const QuantizedWeight &q, const Scheme &scheme, int64_t begin,
                                 int64_t end, float *out) {
  int64_t group = scheme.groupSize ? scheme.groupSize : q.k;
  int64_t rowBytes = scheme.rowBytes(q.k);
  for (int64_t r = begin; r < end; ++r)
    for (int64_t i = 0; i < q.k; ++i) {
      int64_t g = i / group;
      float value = codeValue(scheme, readCode(q.codes.data() + r * rowBytes, i, scheme.bits));
      if (!scheme.symmetric)
        value -= static_cast<float>(q.zeroPoints[r * q.groups + g]);
      out[(r - begin) * q.k + i] = value * q.scales[r * q.groups + g];
    }
}
