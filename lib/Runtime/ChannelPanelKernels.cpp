//===- ChannelPanelKernels.cpp - AVX-512 kernels over 2-, 3-, 4- and 8-bit channel panels ===//
//
// The weight's codes come 16 output channels to a 512-bit vector, one 32-bit lane per channel
// holding 16 (2-bit; 3-bit with a mask of high bits), 8 (4-bit) or 4 (8-bit) inputs
// (qopt/Quant/ChannelPanels.h). So
// every kernel here accumulates 16 outputs in one register and never sums across lanes:
//   - int8 activations: each lane's codes split into planes of one code per byte (four planes
//     of 2-bit codes, or of 3-bit codes' low bits plus their masked high bit, the low and high
//     nibbles of 4-bit ones, 8-bit codes as they are), each plane a `vpdpbusd` against 4
//     activations broadcast to all lanes;
//   - float activations: shifting the lanes brings input u's code to the low bits, where
//     `vpermps` looks it up in a 16-entry table of code values (a 2-bit code's table repeats its
//     4 values, so the bits above it need no mask; a 3-bit code is looked up from its plane's
//     byte; an 8-bit code is masked and converted, an FP8 one decoded with integer and float
//     operations);
//   - many float rows: the same decoding writes [K, 16] panels for the generated GEMM kernel.
// A group's 16 scales (and zero points) are one load: they are stored panel by panel too.
//
#include "PackedWeight.h"
#include "PanelKernelHelpers.h"
#include "qopt/Quant/ChannelPanels.h"

#include <immintrin.h>

using namespace qopt::rt;
namespace quant = qopt::quant;

namespace {
constexpr int64_t kLanes = quant::kPanelChannels;

/// How far up each lane input u of a block sits: byte u % 4, then Bits * (u / 4) bits.
template <unsigned Bits> constexpr int blockShift(int u) { return 8 * (u % 4) + Bits * (u / 4); }

/// The table `blockInput` looks codes up in: the 16 code values, or for 2-bit codes their 4
/// values repeated, indexed by the code and the two bits above it.
template <unsigned Bits> QOPT_VNNI inline __m512 codeTable(const PackedWeight &w) {
  if constexpr (Bits == 2)
    return _mm512_permutexvar_ps(_mm512_set_epi32(3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0),
                                 _mm512_load_ps(w.lut));
  return _mm512_load_ps(w.lut);
}

/// 16 FP8 E4M3 codes (one per 32-bit lane) as floats: the 7 bits below the sign, shifted to the top
/// of an f32's exponent and mantissa, are the value times 2^-120 (subnormal codes too); then the
/// sign, and NaN for the two NaN codes.
QOPT_VNNI inline __m512 fp8Values(__m512i byte) {
  __m512i magnitude = _mm512_and_si512(byte, _mm512_set1_epi32(0x7F));
  __m512 value = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(magnitude, 20)),
                               _mm512_set1_ps(0x1p120f));
  // value | (byte << 24 & sign bit)
  value = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
      _mm512_castps_si512(value), _mm512_slli_epi32(byte, 24),
      _mm512_set1_epi32(static_cast<int>(0x80000000u)), 0xF8));
  return _mm512_mask_mov_ps(value, _mm512_cmpeq_epi32_mask(magnitude, _mm512_set1_epi32(0x7F)),
                            _mm512_set1_ps(__builtin_nanf("")));
}

/// Input u of a block as 16 floats: a 2- or 4-bit code's table value, an 8-bit integer code as it
/// is, an FP8 code (`Float8`) decoded.
template <unsigned Bits, bool Float8 = false>
QOPT_VNNI inline __m512 blockInput(__m512i v, int u, __m512 table) {
  if constexpr (Bits != 8)
    return _mm512_permutexvar_ps(u == 0 ? v : _mm512_srli_epi32(v, blockShift<Bits>(u)), table);
  __m512i byte = u == 3 ? _mm512_srli_epi32(v, 24)
                        : _mm512_and_si512(u == 0 ? v : _mm512_srli_epi32(v, 8 * u),
                                           _mm512_set1_epi32(0xFF));
  if constexpr (Float8)
    return fp8Values(byte);
  return _mm512_cvtepi32_ps(byte);
}

/// Calls f(u, value) for every input u of the block at `block`, value holding the 16 lanes' code
/// values as floats: 3-bit codes from their byte planes, the others through `blockInput`.
template <unsigned Bits, bool Float8, typename F>
QOPT_VNNI inline void forEachBlockInput(const uint8_t *block, __m512 table, F &&f) {
  __m512i v = _mm512_loadu_si512(block);
  if constexpr (Bits == 3) {
    for (int c = 0; c < 4; ++c) {
      __m512i plane = threeBitPlane(v, block, c);
      for (int t = 0; t < 4; ++t)
        f(4 * c + t, _mm512_permutexvar_ps(t ? _mm512_srli_epi32(plane, 8 * t) : plane, table));
    }
  } else {
    for (int u = 0; u < static_cast<int>(quant::panelBlockInputs(Bits)); ++u)
      f(u, blockInput<Bits, Float8>(v, u, table));
  }
}

/// The value each lane's codes are offset by: the zero points, or the implied symmetric one of
/// 8-bit integer codes (2-, 3- and 4-bit codes' table already subtracts theirs; FP8 codes have
/// none).
template <unsigned Bits, bool Float8>
QOPT_VNNI inline __m512 zeroOffset(const PackedWeight &w, int64_t p, int64_t g) {
  if (w.zeros)
    return zeroVector(w, p, g);
  return _mm512_set1_ps(Bits == 8 && !Float8 ? 128.0f : 0.0f);
}

/// y[r, 16p .. 16p + 15] for panels [p0, p1) and M float rows of x: per group, NA chains of
/// multiply-adds per row (enough to hide their latency at one row), then scaled once.
template <int M, unsigned Bits, bool Float8>
QOPT_VNNI void gemvPanelsRows(const PackedWeight &w, const float *x, float *y, int64_t p0,
                              int64_t p1, const float *xsum) {
  constexpr int NA = M == 1 ? 4 : 2;
  constexpr int Inputs = quant::panelBlockInputs(Bits);
  const bool offset = w.zeros || (Bits == 8 && !Float8);
  const __m512 table = codeTable<Bits>(w);
  const int64_t panelBytes = kLanes * w.rowBytes;
  for (int64_t p = p0; p < p1; ++p) {
    const uint8_t *base = w.codes + p * panelBytes;
    __m512 total[M], zeroTerm[M];
    for (int r = 0; r < M; ++r)
      total[r] = zeroTerm[r] = _mm512_setzero_ps();
    for (int64_t g = 0; g < w.groups; ++g) {
      int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
      __m512 acc[M][NA];
      for (int r = 0; r < M; ++r)
        for (int a = 0; a < NA; ++a)
          acc[r][a] = _mm512_setzero_ps();
      for (int64_t kk = begin; kk < end; kk += Inputs)
        forEachBlockInput<Bits, Float8>(base + kk * 2 * Bits, table, [&](int u, __m512 value) QOPT_VNNI {
          for (int r = 0; r < M; ++r)
            acc[r][u % NA] =
                _mm512_fmadd_ps(value, _mm512_set1_ps(x[r * w.k + kk + u]), acc[r][u % NA]);
        });
      __m512 s = scaleVector(w, p, g);
      for (int r = 0; r < M; ++r) {
        __m512 sum = acc[r][0];
        for (int a = 1; a < NA; ++a)
          sum = _mm512_add_ps(sum, acc[r][a]);
        total[r] = _mm512_fmadd_ps(sum, s, total[r]);
      }
      if (offset) {
        __m512 zs = _mm512_mul_ps(zeroOffset<Bits, Float8>(w, p, g), s);
        for (int r = 0; r < M; ++r)
          zeroTerm[r] = _mm512_fmadd_ps(zs, _mm512_set1_ps(xsum[r * w.groups + g]), zeroTerm[r]);
      }
    }
    for (int r = 0; r < M; ++r)
      _mm512_storeu_ps(y + r * w.n + p * kLanes, _mm512_sub_ps(total[r], zeroTerm[r]));
  }
}

/// RB int8 rows from r0 against PB panels from p0: per group exact integer dots, the zero point
/// taken off through the rows' group sums (exact in f32 below 2^24), then scaled.
template <int RB, int PB, unsigned Bits>
QOPT_VNNI void int8PanelBlock(const PackedWeight &w, const Int8Rows &rows, int64_t r0,
                              int64_t p0, float *y) {
  constexpr int Inputs = quant::panelBlockInputs(Bits);
  // Planes of one code per byte in each block: input 4j + t of the block is byte t of plane j.
  constexpr int Planes = Bits == 3 ? 4 : 8 / Bits;
  const __m512i mask = _mm512_set1_epi8(static_cast<char>((1u << Bits) - 1));
  const __m512 symmetricZero = _mm512_set1_ps(static_cast<float>(1 << (Bits - 1)));
  const int64_t panelBytes = kLanes * w.rowBytes;
  const uint8_t *base[PB];
  for (int p = 0; p < PB; ++p)
    base[p] = w.codes + (p0 + p) * panelBytes;
  const int8_t *q[RB];
  __m512 acc[RB][PB];
  for (int r = 0; r < RB; ++r) {
    q[r] = rows.q.data() + (r0 + r) * rows.stride;
    for (int p = 0; p < PB; ++p)
      acc[r][p] = _mm512_setzero_ps();
  }
  for (int64_t g = 0; g < w.groups; ++g) {
    int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
    __m512i dots[RB][PB];
    for (int r = 0; r < RB; ++r)
      for (int p = 0; p < PB; ++p)
        dots[r][p] = _mm512_setzero_si512();
    for (int64_t kk = begin; kk < end; kk += Inputs) {
      __m512i plane[PB][Planes];
      for (int p = 0; p < PB; ++p) {
        __m512i v = _mm512_loadu_si512(base[p] + kk * 2 * Bits);
        for (int j = 0; j < Planes; ++j) {
          if constexpr (Bits == 3)
            plane[p][j] = threeBitPlane(v, base[p] + kk * 2 * Bits, j);
          else
            plane[p][j] = Bits == 8 ? v : _mm512_and_si512(j ? _mm512_srli_epi16(v, Bits * j) : v, mask);
        }
      }
      for (int r = 0; r < RB; ++r)
        for (int j = 0; j < Planes; ++j) {
          int32_t four;
          std::memcpy(&four, q[r] + kk + 4 * j, 4);
          __m512i a = _mm512_set1_epi32(four);
          for (int p = 0; p < PB; ++p)
            dots[r][p] = _mm512_dpbusd_epi32(dots[r][p], plane[p][j], a);
        }
    }
    __m512 s[PB], z[PB];
    for (int p = 0; p < PB; ++p) {
      s[p] = scaleVector(w, p0 + p, g);
      z[p] = w.zeros ? zeroVector(w, p0 + p, g) : symmetricZero;
    }
    for (int r = 0; r < RB; ++r) {
      int64_t rg = (r0 + r) * w.groups + g;
      __m512 xs = _mm512_set1_ps(rows.scale[rg]);
      __m512 sum = _mm512_set1_ps(static_cast<float>(rows.sum[rg]));
      for (int p = 0; p < PB; ++p) {
        __m512 exact = _mm512_fnmadd_ps(z[p], sum, _mm512_cvtepi32_ps(dots[r][p]));
        acc[r][p] = _mm512_fmadd_ps(exact, _mm512_mul_ps(s[p], xs), acc[r][p]);
      }
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int p = 0; p < PB; ++p)
      _mm512_storeu_ps(y + (r0 + r) * w.n + (p0 + p) * kLanes, acc[r][p]);
}

/// The int8 tile kernel, for PanelKernelHelpers.h.
template <unsigned Bits> struct Int8PanelKernel {
  template <int RB, int PB>
  static void block(const PackedWeight &w, const Int8Rows &rows, int64_t r0, int64_t p0, float *y) {
    int8PanelBlock<RB, PB, Bits>(w, rows, r0, p0, y);
  }
};

template <unsigned Bits, bool Float8 = false>
void gemvPanels(const PackedWeight &w, const float *x, int64_t m, float *y, int64_t p0,
                int64_t p1, const float *xsum) {
  switch (m) {
  case 1: return gemvPanelsRows<1, Bits, Float8>(w, x, y, p0, p1, xsum);
  case 2: return gemvPanelsRows<2, Bits, Float8>(w, x, y, p0, p1, xsum);
  case 3: return gemvPanelsRows<3, Bits, Float8>(w, x, y, p0, p1, xsum);
  default: return gemvPanelsRows<4, Bits, Float8>(w, x, y, p0, p1, xsum);
  }
}
/// Panel p dequantized into [K, 16] floats at dst, rows `stride` floats apart.
template <unsigned Bits, bool Float8 = false>
QOPT_VNNI void decodePanelVnni(const PackedWeight &w, int64_t p, float *dst, int64_t stride) {
  constexpr int Inputs = quant::panelBlockInputs(Bits);
  const __m512 table = codeTable<Bits>(w);
  const uint8_t *base = w.codes + p * kLanes * w.rowBytes;
  for (int64_t g = 0; g < w.groups; ++g) {
    int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
    __m512 s = scaleVector(w, p, g);
    __m512 zs = _mm512_mul_ps(zeroOffset<Bits, Float8>(w, p, g), s);
    for (int64_t kk = begin; kk < end; kk += Inputs)
      forEachBlockInput<Bits, Float8>(base + kk * 2 * Bits, table, [&](int u, __m512 value) QOPT_VNNI {
        _mm512_storeu_ps(dst + (kk + u) * stride, _mm512_fmsub_ps(value, s, zs));
      });
  }
}
} // namespace

void qopt::rt::panelGemv(const PackedWeight &w, const float *x, int64_t m, float *y, int64_t p0,
                         int64_t p1, const float *xsum) {
  switch (w.bits) {
  case 2: return gemvPanels<2>(w, x, m, y, p0, p1, xsum);
  case 3: return gemvPanels<3>(w, x, m, y, p0, p1, xsum);
  case 4: return gemvPanels<4>(w, x, m, y, p0, p1, xsum);
  default:
    if (w.codebook != 0)
      return gemvPanels<8, true>(w, x, m, y, p0, p1, xsum);
    return gemvPanels<8>(w, x, m, y, p0, p1, xsum);
  }
}

void qopt::rt::panelInt8MatMul(const PackedWeight &w, const Int8Rows &rows, int64_t m, float *y,
                               int64_t p0, int64_t p1) {
  // Many rows: eight share each decoded vector, one panel at a time.
  switch (w.bits) {
  case 2: return panelTiles<Int8PanelKernel<2>, 1>(w, rows, m, p0, p1, y);
  case 3: return panelTiles<Int8PanelKernel<3>, 1>(w, rows, m, p0, p1, y);
  case 4: return panelTiles<Int8PanelKernel<4>, 1>(w, rows, m, p0, p1, y);
  default: return panelTiles<Int8PanelKernel<8>, 1>(w, rows, m, p0, p1, y);
  }
}

void qopt::rt::decodePanel(const PackedWeight &w, int64_t p, float *dst, int64_t stride) {
  switch (w.bits) {
  case 2: return decodePanelVnni<2>(w, p, dst, stride);
  case 3: return decodePanelVnni<3>(w, p, dst, stride);
  case 4: return decodePanelVnni<4>(w, p, dst, stride);
  default:
    if (w.codebook != 0)
      return decodePanelVnni<8, true>(w, p, dst, stride);
    return decodePanelVnni<8>(w, p, dst, stride);
  }
}

float qopt::rt::panelValue(const PackedWeight &w, int64_t row, int64_t k) {
  unsigned code = quant::readPanelCode(w.codes, row, k, w.k, w.bits);
  int64_t g = k / w.group;
  return (w.lut[code] - w.zero(row, g)) * w.scale(row, g);
}
