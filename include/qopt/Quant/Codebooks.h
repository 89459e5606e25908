//===- Codebooks.h - weight code → value tables and 16-bit float bits -*- C++ -*-===//
//
// The decoding side of every weight scheme, shared by the quantizer (lib/Quant) and the runtime's
// quantized kernels (lib/Runtime), so the two cannot disagree. Header-only; no MLIR.
//
#ifndef QOPT_QUANT_CODEBOOKS_H
#define QOPT_QUANT_CODEBOOKS_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace qopt::quant {

/// NF4 levels (QLoRA): quantiles of a standard normal, normalized to [-1, 1], with an exact zero.
inline constexpr float kNF4[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

/// FP4 E2M1 (OCP microscaling): code = sign << 3 | exponent << 1 | mantissa, no inf or NaN.
inline constexpr float kFP4[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                   -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
inline constexpr float kFP4Max = 6.0f;

/// bitsandbytes' FP4 (what ONNX Runtime's MatMulBnb4 uses): a sign bit over 8 magnitudes already
/// normalized to [0, 1], in bitsandbytes' code order.
inline constexpr float kBnbFP4[16] = {
    0.0f,  0.005208333333f,  0.6666666667f,  1.0f,  0.3333333333f,  0.5f,  0.1666666667f,  0.25f,
    -0.0f, -0.005208333333f, -0.6666666667f, -1.0f, -0.3333333333f, -0.5f, -0.1666666667f, -0.25f};

/// FP8 E4M3 "fn" (no infinities; 0x7F and 0xFF are NaN; largest finite 448).
inline float decodeFP8E4M3(uint8_t code) {
  int sign = code >> 7, exponent = (code >> 3) & 15, mantissa = code & 7;
  float magnitude;
  if (exponent == 15 && mantissa == 7)
    magnitude = NAN;
  else if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), -9); // subnormal: m/8 * 2^-6
  else
    magnitude = std::ldexp(1.0f + mantissa / 8.0f, exponent - 7);
  return sign ? -magnitude : magnitude;
}
inline constexpr float kFP8E4M3Max = 448.0f;

/// float → FP8 E4M3 "fn", rounding to nearest even and saturating at ±448 (NaN stays NaN).
inline uint8_t encodeFP8E4M3(float value) {
  if (std::isnan(value))
    return 0x7F;
  uint8_t sign = std::signbit(value) ? 0x80 : 0;
  float a = std::min(std::fabs(value), kFP8E4M3Max);
  if (a == 0.0f)
    return sign;
  int exponent;
  std::frexp(a, &exponent); // a = f * 2^exponent, f in [0.5, 1)
  int e = std::max(exponent - 1, -6); // below 2^-6 the spacing is the subnormals' 2^-9
  float step = std::ldexp(1.0f, e - 3);
  float q = std::min(std::nearbyint(a / step) * step, kFP8E4M3Max);
  if (q == 0.0f)
    return sign;
  if (q < std::ldexp(1.0f, -6))
    return sign | static_cast<uint8_t>(q / std::ldexp(1.0f, -9));
  std::frexp(q, &exponent);
  int biased = exponent - 1 + 7;
  int mantissa = static_cast<int>((std::ldexp(q, -(exponent - 1)) - 1.0f) * 8.0f);
  return sign | static_cast<uint8_t>(biased << 3 | mantissa);
}

/// IEEE binary16 bits → float.
inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  int exponent = (h >> 10) & 31;
  uint32_t mantissa = h & 0x3FF;
  float value;
  if (exponent == 0)
    value = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits |= sign;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// bfloat16 bits → float (the top half of a float).
inline float bfloatToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// float → bfloat16 bits, rounded to nearest with ties to even (a NaN stays a quiet NaN).
inline uint16_t floatToBfloat(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

} // namespace qopt::quant

#endif // QOPT_QUANT_CODEBOOKS_H
