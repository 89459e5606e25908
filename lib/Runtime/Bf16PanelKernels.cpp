//===- Bf16PanelKernels.cpp - AVX-512-BF16 kernels over 2-, 3- and 4-bit channel panels ===//
//
// Quantized matmuls whose input is rounded to bf16 (qopt.quantized_matmul's `bf16_activations`).
// Integer codes minus their symmetric zero point are small integers, exact in bf16, so each
// panel's 32-bit lanes (qopt/Quant/ChannelPanels.h) become pairs of bf16 code values for
// `vdpbf16ps`, which multiplies a pair of bf16 activations into every lane's f32 sum: 32 products
// per instruction against 16 for an f32 FMA, and no rounding of the weights.
//
// Decoding a plane takes a shift and a `vpermw`: shifting the lane right by `bits * s` brings
// one code to the low bits of each 16-bit half, and `vpermw` looks the low 5 bits of each half up
// in a 32-entry table of bf16 code values (repeated, so the bits above the code need no mask).
// Plane s thus pairs the inputs at bit `bits * s` of the low half and of the high half, which
// `packRowBf16` mirrors on the activation side. 3-bit codes are first made into byte planes (as
// for `vpdpbusd`), each looked up twice: as it is (bytes 0 and 2) and shifted by a byte (1 and 3).
//
#include "PackedWeight.h"
#include "PanelKernelHelpers.h"
#include "qopt/Quant/ChannelPanels.h"

#include <immintrin.h>

using namespace qopt::rt;
namespace quant = qopt::quant;

/// Kernels for libraries compiled for AVX-512 with BF16 (kIsaAvx512Bf16).
#define QOPT_BF16                                                                                  \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16")))

namespace {
constexpr int64_t kLanes = quant::kPanelChannels;

/// The input of a block that the low half of plane `s`'s lanes holds (the high half holds the one
/// two further on): the code at bit `bits * s` of the lane, byte b / 8, bit b % 8; for 3-bit
/// codes, byte s % 2 of byte plane s / 2.
constexpr int planeInput(unsigned bits, int s) {
  if (bits == 3)
    return 4 * (s / 2) + s % 2;
  int b = static_cast<int>(bits) * s;
  return b / 8 + 4 * ((b % 8) / static_cast<int>(bits));
}

/// The 32 bf16 values `vpermw` looks codes up in: entry e is code (e mod 2^bits)'s value. The
/// lookup table's first 16 entries already repeat a 2- or 3-bit code's values (PackedWeight::lut
/// is indexed by the code's bits alone), and integer code values convert to bf16 exactly, so the
/// table is those 16 converted and repeated: three instructions, once per tile.
QOPT_BF16 inline __m512i codeTableBf16(const PackedWeight &w) {
  __m256i sixteen = (__m256i)_mm512_cvtneps_pbh(_mm512_load_ps(w.lut));
  return _mm512_broadcast_i64x4(sixteen);
}

/// RB rows from r0 against PB panels from p0: per group, f32 sums of bf16 pair products, the
/// zero points taken off through the rows' group sums, then scaled and added into y (kept there
/// between groups, so that the registers hold only the RB * PB * NA running sums).
template <int RB, int PB, unsigned Bits>
QOPT_BF16 void bf16PanelBlock(const PackedWeight &w, const Bf16Rows &rows, int64_t r0, int64_t p0,
                              float *y) {
  constexpr int Inputs = quant::panelBlockInputs(Bits);
  constexpr int Planes = Inputs / 2;
  // `vdpbf16ps` waits for its sum: with few rows each row-panel chain alternates between two
  // sums, so that at least 8 chains overlap.
  constexpr int NA = RB <= 4 ? 2 : 1;
  const __m512i table = codeTableBf16(w);
  const int64_t panelBytes = kLanes * w.rowBytes;
  const uint8_t *base[PB];
  for (int p = 0; p < PB; ++p)
    base[p] = w.codes + (p0 + p) * panelBytes;
  const uint32_t *pairs[RB];
  for (int r = 0; r < RB; ++r)
    pairs[r] = rows.pairs.data() + (r0 + r) * rows.stride;
  for (int64_t g = 0; g < w.groups; ++g) {
    int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
    __m512 dots[RB][PB][NA];
    for (int r = 0; r < RB; ++r)
      for (int p = 0; p < PB; ++p)
        for (int a = 0; a < NA; ++a)
          dots[r][p][a] = _mm512_setzero_ps();
    for (int64_t kk = begin; kk < end; kk += Inputs) {
      __m512i v[PB];
      for (int p = 0; p < PB; ++p)
        v[p] = _mm512_loadu_si512(base[p] + kk * 2 * Bits);
      __m512i bytes[PB];
      for (int s = 0; s < Planes; ++s) {
        __m512bh plane[PB];
        for (int p = 0; p < PB; ++p) {
          __m512i index;
          if constexpr (Bits == 3) {
            if (s % 2 == 0)
              bytes[p] = threeBitPlane(v[p], base[p] + kk * 2 * Bits, s / 2);
            index = s % 2 ? _mm512_srli_epi32(bytes[p], 8) : bytes[p];
          } else {
            index = s ? _mm512_srli_epi32(v[p], Bits * s) : v[p];
          }
          plane[p] = (__m512bh)_mm512_permutexvar_epi16(index, table);
        }
        for (int r = 0; r < RB; ++r) {
          __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(pairs[r][kk / 2 + s]));
          for (int p = 0; p < PB; ++p)
            dots[r][p][s % NA] = _mm512_dpbf16_ps(dots[r][p][s % NA], plane[p], a);
        }
      }
    }
    for (int p = 0; p < PB; ++p) {
      __m512 s = scaleVector(w, p0 + p, g);
      __m512 z = w.zeros ? zeroVector(w, p0 + p, g) : _mm512_setzero_ps();
      for (int r = 0; r < RB; ++r) {
        __m512 d = dots[r][p][0];
        if constexpr (NA > 1)
          d = _mm512_add_ps(d, dots[r][p][1]);
        if (w.zeros)
          d = _mm512_fnmadd_ps(z, _mm512_set1_ps(rows.sum[(r0 + r) * w.groups + g]), d);
        float *out = y + (r0 + r) * w.n + (p0 + p) * kLanes;
        _mm512_storeu_ps(out, g == 0 ? _mm512_mul_ps(d, s)
                                     : _mm512_fmadd_ps(d, s, _mm512_loadu_ps(out)));
      }
    }
  }
}

/// The bf16 tile kernel, for PanelKernelHelpers.h.
template <unsigned Bits> struct Bf16PanelKernel {
  template <int RB, int PB>
  static void block(const PackedWeight &w, const Bf16Rows &rows, int64_t r0, int64_t p0, float *y) {
    bf16PanelBlock<RB, PB, Bits>(w, rows, r0, p0, y);
  }
};
} // namespace

bool qopt::rt::bf16PanelsFit(const PackedWeight &w) {
  return w.panelRows > 0 && w.codebook == 0 && w.bits >= 2 && w.bits <= 4 && w.dqBlock == 0;
}

void qopt::rt::roundRowsBf16(const float *x, int64_t count, float *out) {
  // Round to nearest, ties to even, as quant::floatToBfloat (which NaNs take): 8 at a time.
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7FFF);
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) {
      for (int j = 0; j < 8; ++j)
        out[i + j] = quant::bfloatToFloat(quant::floatToBfloat(x[i + j]));
      continue;
    }
    __m256i bits = _mm256_castps_si256(v);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), one);
    bits = _mm256_and_si256(_mm256_add_epi32(bits, _mm256_add_epi32(bias, odd)), high);
    _mm256_storeu_ps(out + i, _mm256_castsi256_ps(bits));
  }
  for (; i < count; ++i)
    out[i] = quant::bfloatToFloat(quant::floatToBfloat(x[i]));
}

QOPT_BF16 void qopt::rt::packRowBf16(const PackedWeight &w, const float *x, uint32_t *pairs,
                                     float *sums) {
  // 16 inputs at a time: rounded to nearest even in integer arithmetic (as quant::floatToBfloat),
  // then the 8 pairs of the chunk gathered in plane order, low halves from `lo`, high from lo + 2.
  const int inputs = static_cast<int>(quant::panelBlockInputs(w.bits));
  alignas(64) int32_t lo[16] = {}, hi[16] = {};
  for (int s = 0; s < 8; ++s) {
    int block = 2 * s / inputs, plane = s % (inputs / 2);
    lo[s] = block * inputs + planeInput(w.bits, plane);
    hi[s] = lo[s] + 2;
  }
  const __m512i loIndex = _mm512_load_si512(lo), hiIndex = _mm512_load_si512(hi);
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  alignas(64) float rounded[16];
  int64_t i = 0;
  for (; i + 16 <= w.k; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    __m512i bits = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
    bits = _mm512_and_si512(_mm512_add_epi32(bits, _mm512_add_epi32(bias, odd)), high);
    if (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)) {
      for (int j = 0; j < 16; ++j)
        rounded[j] = quant::bfloatToFloat(quant::floatToBfloat(x[i + j]));
      bits = _mm512_load_si512(rounded);
    }
    __m512i pair = _mm512_or_si512(_mm512_srli_epi32(_mm512_permutexvar_epi32(loIndex, bits), 16),
                                   _mm512_and_si512(_mm512_permutexvar_epi32(hiIndex, bits), high));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(pairs + i / 2), _mm512_castsi512_si256(pair));
    if (sums) {
      _mm512_store_si512(rounded, bits);
      for (int j = 0; j < 16; ++j)
        sums[(i + j) / w.group] += rounded[j];
    }
  }
  // A last block of 8 inputs (4-bit codes, K an odd multiple of 8).
  for (; i < w.k; i += inputs)
    for (int s = 0; s < inputs / 2; ++s) {
      int l = planeInput(w.bits, s);
      uint32_t a = quant::floatToBfloat(x[i + l]), b = quant::floatToBfloat(x[i + l + 2]);
      pairs[i / 2 + s] = a | b << 16;
      if (sums)
        for (int j = 0; j < 2; ++j)
          sums[(i + l + 2 * j) / w.group] += quant::bfloatToFloat(static_cast<uint16_t>(j ? b : a));
    }
}

void qopt::rt::panelBf16MatMul(const PackedWeight &w, const Bf16Rows &rows, int64_t m, float *y,
                               int64_t p0, int64_t p1) {
  // Many rows: eight share each decoded plane, two panels at a time (16 chains of `vdpbf16ps`).
  switch (w.bits) {
  case 2: return panelTiles<Bf16PanelKernel<2>, 2>(w, rows, m, p0, p1, y);
  case 3: return panelTiles<Bf16PanelKernel<3>, 2>(w, rows, m, p0, p1, y);
  default: return panelTiles<Bf16PanelKernel<4>, 2>(w, rows, m, p0, p1, y);
  }
}
