//===- QuantKernels.cpp - matmul and gather over packed quantized weights -===//
//
// The weight stays packed. For few rows of activations (token-by-token decoding) each output
// channel's codes are decoded group by group in registers and multiplied into the rows at once;
// for many rows, panels of output channels are decoded into a per-call buffer that stays in cache
// and handed to SGEMM. Either way no f32 copy of the whole weight exists.
//
#include "HorizontalReductions.h"
#include "PackedWeight.h"
#include "Tensor.h"
#include "WorkerPool.h"
#include "qopt/Quant/ChannelPanels.h"
#include "qopt/Quant/Codebooks.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <cstring>
#include <immintrin.h>

using namespace qopt::rt;
namespace quant = qopt::quant;

PackedWeight qopt::rt::describe(Tensor *codes, Tensor *scales, Tensor *zeros, Tensor *scaleScales,
                      const int64_t *i, int64_t ni) {
  if (ni < 7)
    fail("quantized kernel: expected 7 integer attributes");
  PackedWeight w;
  w.codebook = static_cast<int>(i[0]);
  w.bits = static_cast<unsigned>(i[1]);
  w.group = i[2];
  w.symmetric = i[3] != 0;
  w.scaleDtype = static_cast<int32_t>(i[4]);
  w.dqBlock = i[5];
  w.k = i[6];
  if (w.bits < 2 || w.bits > 8 || w.codebook < 0 || w.codebook > 4 || w.k <= 0)
    fail("quantized kernel: bad scheme");
  if (!codes || codes->rank != 2 || codes->dtype != QOPT_UINT8 || !scales)
    fail("quantized kernel: codes must be 2-D uint8");
  w.n = codes->dims[0];
  w.rowBytes = (w.k * w.bits + 7) / 8;
  w.groups = w.group > 0 ? (w.k + w.group - 1) / w.group : 1;
  if (w.group == 0)
    w.group = w.k;
  if (codes->dims[1] != w.rowBytes || scales->numElements() != w.n * w.groups)
    fail("quantized kernel: codes or scales do not match the scheme");
  w.codes = codes->as<uint8_t>();
  w.scales = scales->data;
  if (w.dqBlock > 0) {
    if (!scaleScales || scaleScales->dtype != QOPT_FLOAT32)
      fail("quantized kernel: double-quantized scales need f32 second-level scales");
    w.scaleScales = scaleScales->as<float>();
    w.scaleOffset = w.codebook == 0 && w.symmetric ? 128 : 0;
  }
  if (!w.symmetric) {
    if (!zeros || zeros->numElements() != w.n * w.groups)
      fail("quantized kernel: asymmetric weights need a zero point per group");
    w.zeros = zeros->as<uint8_t>();
  }
  if (ni > 9 && i[9] == 1) {
    if (!quant::panelCodesFit(w.bits, w.codebook == 0, w.dqBlock > 0) ||
        !quant::panelShapeFits(w.bits, w.k, w.group))
      fail("quantized kernel: channel panels need 4- or 8-bit codes or 2- or 3-bit integer codes, K "
           "and groups multiples of " + std::to_string(quant::panelBlockInputs(w.bits)));
    w.panelRows = quant::panelRows(w.n);
  }
  for (unsigned c = 0; c < 256; ++c) {
    unsigned code = c & ((1u << w.bits) - 1);
    switch (w.codebook) {
    case 0:
      w.lut[c] = w.symmetric ? static_cast<float>(static_cast<int>(code) - (1 << (w.bits - 1)))
                             : static_cast<float>(code);
      break;
    case 1: w.lut[c] = quant::kNF4[code & 15]; break;
    case 2: w.lut[c] = quant::kFP4[code & 15]; break;
    case 4: w.lut[c] = quant::kBnbFP4[code & 15]; break;
    default: w.lut[c] = quant::decodeFP8E4M3(static_cast<uint8_t>(code)); break;
    }
  }
  return w;
}

namespace {
/// The 32 four-bit codes of 16 bytes as bytes, in the order int8 rows are interleaved in (low
/// nibbles, i.e. even positions, then high nibbles).
inline __m256i nibbles32(const uint8_t *bytes) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
}

/// Values of codes [begin, end) of `row` (before scaling) into `out`.
void decodeCodes(const PackedWeight &w, const uint8_t *row, int64_t begin, int64_t end, float *out) {
  int64_t i = begin;
  if (w.bits == 8) {
    for (; i < end; ++i)
      *out++ = w.lut[row[i]];
    return;
  }
  if (w.bits == 4) {
    if (i & 1)
      *out++ = w.lut[row[i++ >> 1] >> 4];
    const __m256 lo = _mm256_load_ps(w.lut), hi = _mm256_load_ps(w.lut + 8);
    const __m128i mask = _mm_set1_epi8(0x0F);
    for (; i + 16 <= end; i += 16, out += 16) {
      __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + (i >> 1)));
      __m128i nibbles = _mm_unpacklo_epi8(_mm_and_si128(bytes, mask),
                                          _mm_and_si128(_mm_srli_epi16(bytes, 4), mask));
      for (int half = 0; half < 2; ++half) {
        __m256i c = _mm256_cvtepu8_epi32(half ? _mm_srli_si128(nibbles, 8) : nibbles);
        __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, c), _mm256_permutevar8x32_ps(hi, c),
                                    _mm256_castsi256_ps(_mm256_slli_epi32(c, 28)));
        _mm256_storeu_ps(out + 8 * half, v);
      }
    }
    for (; i < end; ++i)
      *out++ = w.lut[(row[i >> 1] >> ((i & 1) * 4)) & 15];
    return;
  }
  if (w.bits == 2) {
    for (; i < end; ++i)
      *out++ = w.lut[(row[i >> 2] >> ((i & 3) * 2)) & 3];
    return;
  }
  // Any other width: codes straddle bytes.
  for (; i < end; ++i)
    *out++ = w.lut[quant::readRowCode(row, i, w.bits)];
}

/// 16 four-bit codes (8 bytes) through the 16-entry table into two vectors of 8 values.
inline void decode16(const uint8_t *bytes, __m256 lo, __m256 hi, __m256 &v0, __m256 &v1) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(bytes));
  __m128i nibbles =
      _mm_unpacklo_epi8(_mm_and_si128(b, mask), _mm_and_si128(_mm_srli_epi16(b, 4), mask));
  __m256i c0 = _mm256_cvtepu8_epi32(nibbles), c1 = _mm256_cvtepu8_epi32(_mm_srli_si128(nibbles, 8));
  v0 = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, c0), _mm256_permutevar8x32_ps(hi, c0),
                        _mm256_castsi256_ps(_mm256_slli_epi32(c0, 28)));
  v1 = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, c1), _mm256_permutevar8x32_ps(hi, c1),
                        _mm256_castsi256_ps(_mm256_slli_epi32(c1, 28)));
}

/// Row `r` of the weight, dequantized, into `out` (k floats).
void decodeRow(const PackedWeight &w, int64_t r, float *out, float *scratch) {
  if (r < w.panelRows) { // one code at a time: only the SGEMM fallback and gathers come here
    for (int64_t i = 0; i < w.k; ++i)
      out[i] = panelValue(w, r, i);
    return;
  }
  const uint8_t *row = w.codes + r * w.rowBytes;
  if (w.bits == 4 && w.group % 16 == 0) {
    // Decoded, shifted and scaled in registers: one pass over the output.
    const __m256 lo = _mm256_load_ps(w.lut), hi = _mm256_load_ps(w.lut + 8);
    for (int64_t g = 0; g < w.groups; ++g) {
      int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
      __m256 s = _mm256_set1_ps(w.scale(r, g)), z = _mm256_set1_ps(w.zero(r, g));
      int64_t i = begin;
      for (; i + 16 <= end; i += 16) {
        __m256 v0, v1;
        decode16(row + (i >> 1), lo, hi, v0, v1);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_sub_ps(v0, z), s));
        _mm256_storeu_ps(out + i + 8, _mm256_mul_ps(_mm256_sub_ps(v1, z), s));
      }
      float sf = w.scale(r, g), zf = w.zero(r, g);
      for (; i < end; ++i)
        out[i] = (w.lut[(row[i >> 1] >> ((i & 1) * 4)) & 15] - zf) * sf;
    }
    return;
  }
  decodeCodes(w, row, 0, w.k, scratch);
  for (int64_t g = 0; g < w.groups; ++g) {
    int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
    float s = w.scale(r, g), z = w.zero(r, g);
    for (int64_t i = begin; i < end; ++i)
      out[i] = (scratch[i] - z) * s;
  }
}

float dot(const float *a, const float *b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

/// y[m, n] = x[m, :] · dequantized row n, for a few rows m: each group is decoded once into a
/// small buffer that stays in L1 and used for every row of x.
void gemvRows(const PackedWeight &w, const float *x, int64_t m, float *y, int64_t rowBegin,
              int64_t rowEnd) {
  // Per-thread buffers that outlive the call: fresh ones would cost an allocation per matmul.
  static thread_local std::vector<float> vals, xsum;
  vals.resize(w.group);
  if (!w.symmetric) { // sum of x over each group, for the zero points
    xsum.assign(m * w.groups, 0.0f);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t g = 0; g < w.groups; ++g) {
        int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
        float s = 0.0f;
        for (int64_t i = begin; i < end; ++i)
          s += x[r * w.k + i];
        xsum[r * w.groups + g] = s;
      }
  }
  for (int64_t n = rowBegin; n < rowEnd; ++n) {
    const uint8_t *row = w.codes + n * w.rowBytes;
    float acc[4] = {0, 0, 0, 0};
    for (int64_t g = 0; g < w.groups; ++g) {
      int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
      decodeCodes(w, row, begin, end, vals.data());
      float s = w.scale(n, g), z = w.zero(n, g);
      for (int64_t r = 0; r < m; ++r) {
        float d = dot(x + r * w.k + begin, vals.data(), end - begin);
        if (!w.symmetric)
          d -= z * xsum[r * w.groups + g];
        acc[r] += d * s;
      }
    }
    for (int64_t r = 0; r < m; ++r)
      y[r * w.n + n] = acc[r];
  }
}

/// 16 four-bit integer codes (8 bytes) as floats 0..15, converted directly (no table).
inline void codes16(const uint8_t *bytes, __m256 &v0, __m256 &v1) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(bytes));
  __m128i nibbles =
      _mm_unpacklo_epi8(_mm_and_si128(b, mask), _mm_and_si128(_mm_srli_epi16(b, 4), mask));
  v0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(nibbles));
  v1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(nibbles, 8)));
}

/// gemvRows for 4-bit codes in groups that are a multiple of 16: the codes are decoded in
/// registers and multiplied straight into up to M rows' accumulators, one group scale at a time.
/// Int codes are converted to floats as they are (0..15) and their zero point (2^3 when
/// symmetric) is applied once per group through the group sums of x; other codebooks go through
/// the 16-entry table. Two accumulators per row keep the FMA chains short.
template <int M, bool IntCodes>
void gemv4(const PackedWeight &w, const float *x, float *y, int64_t rowBegin, int64_t rowEnd,
           const float *xsum) {
  const __m256 lo = _mm256_load_ps(w.lut), hi = _mm256_load_ps(w.lut + 8);
  const float implied = w.symmetric ? 8.0f : 0.0f;
  for (int64_t n = rowBegin; n < rowEnd; ++n) {
    const uint8_t *row = w.codes + n * w.rowBytes;
    __m256 total[M];
    float zeroTerm[M] = {};
    for (int r = 0; r < M; ++r)
      total[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < w.groups; ++g) {
      int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
      __m256 acc0[M], acc1[M];
      for (int r = 0; r < M; ++r)
        acc0[r] = acc1[r] = _mm256_setzero_ps();
      for (int64_t i = begin; i < end; i += 16) {
        __m256 v0, v1;
        if constexpr (IntCodes)
          codes16(row + (i >> 1), v0, v1);
        else
          decode16(row + (i >> 1), lo, hi, v0, v1);
        for (int r = 0; r < M; ++r) {
          const float *xr = x + r * w.k + i;
          acc0[r] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(xr), acc0[r]);
          acc1[r] = _mm256_fmadd_ps(v1, _mm256_loadu_ps(xr + 8), acc1[r]);
        }
      }
      float s = w.scale(n, g);
      __m256 sv = _mm256_set1_ps(s);
      for (int r = 0; r < M; ++r)
        total[r] = _mm256_fmadd_ps(_mm256_add_ps(acc0[r], acc1[r]), sv, total[r]);
      if (IntCodes || xsum) {
        float z = (w.symmetric ? implied : w.zero(n, g)) * s;
        for (int r = 0; r < M; ++r)
          zeroTerm[r] += z * xsum[r * w.groups + g];
      }
    }
    for (int r = 0; r < M; ++r)
      y[r * w.n + n] = hsum(total[r]) - zeroTerm[r];
  }
}

/// gemv4 for integer codes on 512-bit vectors (libraries compiled for AVX-512), groups a
/// multiple of 32: 32 codes per step, converted to floats as they are (0..15), the zero point
/// applied once per group through the group sums of x.
template <int M>
QOPT_VNNI void gemv4Int512(const PackedWeight &w, const float *x, float *y, int64_t rowBegin,
                           int64_t rowEnd, const float *xsum) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  const float implied = w.symmetric ? 8.0f : 0.0f;
  for (int64_t n = rowBegin; n < rowEnd; ++n) {
    const uint8_t *row = w.codes + n * w.rowBytes;
    __m512 total[M];
    float zeroTerm[M] = {};
    for (int r = 0; r < M; ++r)
      total[r] = _mm512_setzero_ps();
    for (int64_t g = 0; g < w.groups; ++g) {
      int64_t begin = g * w.group, end = begin + w.group;
      __m512 acc0[M], acc1[M];
      for (int r = 0; r < M; ++r)
        acc0[r] = acc1[r] = _mm512_setzero_ps();
      for (int64_t i = begin; i < end; i += 32) {
        __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(row + (i >> 1)));
        __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
        __m512 v0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
        __m512 v1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi)));
        for (int r = 0; r < M; ++r) {
          const float *xr = x + r * w.k + i;
          acc0[r] = _mm512_fmadd_ps(v0, _mm512_loadu_ps(xr), acc0[r]);
          acc1[r] = _mm512_fmadd_ps(v1, _mm512_loadu_ps(xr + 16), acc1[r]);
        }
      }
      float s = w.scale(n, g);
      __m512 sv = _mm512_set1_ps(s);
      float z = (w.symmetric ? implied : w.zero(n, g)) * s;
      for (int r = 0; r < M; ++r) {
        total[r] = _mm512_fmadd_ps(_mm512_add_ps(acc0[r], acc1[r]), sv, total[r]);
        zeroTerm[r] += z * xsum[r * w.groups + g];
      }
    }
    for (int r = 0; r < M; ++r)
      y[r * w.n + n] = _mm512_reduce_add_ps(total[r]) - zeroTerm[r];
  }
}

template <int M>
void gemv4Dispatch(const PackedWeight &w, const float *x, float *y, int64_t rowBegin,
                   int64_t rowEnd, const float *xsum) {
  if (w.codebook == 0)
    gemv4<M, true>(w, x, y, rowBegin, rowEnd, xsum);
  else
    gemv4<M, false>(w, x, y, rowBegin, rowEnd, xsum);
}


} // namespace

Int8Rows qopt::rt::quantizeRowsInt8(const PackedWeight &w, const float *x, int64_t m,
                                    bool interleave, float staticScale) {
  Int8Rows rows;
  rows.groups = w.groups;
  rows.stride = w.groups * w.group;
  rows.q.assign(m * rows.stride, 0);
  rows.scale.assign(m * w.groups, 0.0f);
  rows.sum.assign(m * w.groups, 0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t g = 0; g < w.groups; ++g) {
      int64_t begin = g * w.group, end = std::min(w.k, begin + w.group);
      const float *xr = x + r * w.k;
      int8_t *q = rows.q.data() + r * rows.stride + begin;
      int32_t sum = 0;
      if (staticScale > 0.0f) {
        // One scale for the whole tensor, from calibration: x / scale, saturated.
        rows.scale[r * w.groups + g] = staticScale;
        for (int64_t i = begin; i < end; ++i) {
          float v = std::nearbyint(xr[i] / staticScale);
          q[i - begin] = static_cast<int8_t>(std::clamp(v, -128.0f, 127.0f));
          sum += q[i - begin];
        }
        rows.sum[r * w.groups + g] = sum;
        continue;
      }
      // Eight at a time, then the rest; the vector conversion rounds half to even as
      // nearbyint does, and |x| * 127 / max|x| never leaves [-127, 127].
      const __m256 signBit = _mm256_set1_ps(-0.0f);
      __m256 vmax = _mm256_setzero_ps();
      int64_t i = begin;
      for (; i + 8 <= end; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(signBit, _mm256_loadu_ps(xr + i)));
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, vmax);
      float maxAbs = *std::max_element(lanes, lanes + 8);
      for (; i < end; ++i)
        maxAbs = std::max(maxAbs, std::fabs(xr[i]));
      float inverse = maxAbs != 0.0f ? 127.0f / maxAbs : 0.0f;
      rows.scale[r * w.groups + g] = maxAbs / 127.0f;
      __m256 vinverse = _mm256_set1_ps(inverse);
      __m256i vsum = _mm256_setzero_si256();
      for (i = begin; i + 8 <= end; i += 8) {
        __m256i qi = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinverse));
        vsum = _mm256_add_epi32(vsum, qi);
        __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i *>(q + i - begin), _mm_packs_epi16(words, words));
      }
      sum = hsumInt(vsum);
      for (; i < end; ++i) {
        float v = std::nearbyint(xr[i] * inverse);
        q[i - begin] = static_cast<int8_t>(std::clamp(v, -128.0f, 127.0f));
        sum += q[i - begin];
      }
      rows.sum[r * w.groups + g] = sum;
    }
  if (interleave) {
    rows.interleaved.resize(rows.q.size());
    for (size_t c = 0; c < rows.q.size(); c += 32)
      for (int j = 0; j < 16; ++j) {
        rows.interleaved[c + j] = rows.q[c + 2 * j];
        rows.interleaved[c + 16 + j] = rows.q[c + 2 * j + 1];
      }
  }
  return rows;
}

namespace {

/// The sum over one group of int8 activations times 8-bit codes, 16 at a time widened to int16 (products up to 255 * 128 would
/// saturate maddubs' int16 pair sums).
inline int32_t dotGroup8(const uint8_t *codes, const int8_t *q, int64_t len) {
  __m256i acc = _mm256_setzero_si256();
  for (int64_t c = 0; c < len; c += 16) {
    __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + c)));
    __m256i a = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(q + c)));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(w, a));
  }
  return hsumInt(acc);
}

/// rowsTimes4BitRow with VNNI on 512-bit vectors, for groups that are a multiple of 64: one
/// vpdpbusd per 64 code-activation products (the 32-code chunks the activations are interleaved
/// in, two at a time) instead of three instructions per 32. The products and pair sums are the
/// same integers; the zero point's term is taken off once at the end.
template <int Count>
QOPT_VNNI void rowsTimes4BitRowVnni512(const PackedWeight &w, const Int8Rows &rows, int64_t n,
                                       int64_t r0, int32_t symmetricZero, float *y) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const uint8_t *codes = w.codes + n * w.rowBytes;
  const int8_t *rowData[Count];
  __m512 acc[Count];
  float correction[Count] = {};
  for (int j = 0; j < Count; ++j) {
    rowData[j] = rows.interleaved.data() + (r0 + j) * rows.stride;
    acc[j] = _mm512_setzero_ps();
  }
  for (int64_t g = 0; g < w.groups; ++g) {
    int64_t start = g * w.group;
    __m512i dots[Count];
    for (int j = 0; j < Count; ++j)
      dots[j] = _mm512_setzero_si512();
    for (int64_t c = start; c < start + w.group; c += 64) {
      __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(codes + c / 2));
      __m256i low = _mm256_and_si256(bytes, mask);
      __m256i high = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask);
      // [low 0-15, low 16-31, high 0-15, high 16-31] -> [low 0-15, high 0-15, low 16-31, high 16-31]
      __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
      __m512i nibbles = _mm512_shuffle_i64x2(both, both, _MM_SHUFFLE(3, 1, 2, 0));
      for (int j = 0; j < Count; ++j)
        dots[j] = _mm512_dpbusd_epi32(dots[j], nibbles, _mm512_loadu_si512(rowData[j] + c));
    }
    int32_t zero = w.symmetric ? symmetricZero : static_cast<int32_t>(w.zeros[w.groupIndex(n, g)]);
    float ws = w.scale(n, g);
    for (int j = 0; j < Count; ++j) {
      int64_t rg = (r0 + j) * w.groups + g;
      float scale = rows.scale[rg] * ws;
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots[j]), _mm512_set1_ps(scale), acc[j]);
      correction[j] += static_cast<float>(zero * rows.sum[rg]) * scale;
    }
  }
  for (int j = 0; j < Count; ++j)
    y[(r0 + j) * w.n + n] = _mm512_reduce_add_ps(acc[j]) - correction[j];
}

// The 256-bit int8 kernels, for AVX-512 VNNI, AVX-VNNI and AVX2.
namespace vnni512 {
#define QOPT_DOT256_TARGET QOPT_VNNI
#define QOPT_DOT256(acc, a, b) _mm256_dpbusd_epi32(acc, a, b)
#include "Int8Dot256.inc"
#undef QOPT_DOT256
#undef QOPT_DOT256_TARGET
} // namespace vnni512
namespace avxvnni {
#define QOPT_DOT256_TARGET QOPT_AVXVNNI
#define QOPT_DOT256(acc, a, b) _mm256_dpbusd_avx_epi32(acc, a, b)
#include "Int8Dot256.inc"
#undef QOPT_DOT256
#undef QOPT_DOT256_TARGET
} // namespace avxvnni
namespace avx2 {
#define QOPT_DOT256_TARGET
#define QOPT_DOT256(acc, a, b)                                                                 \
  _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)))
#define QOPT_DOT256_SATURATES
#include "Int8Dot256.inc"
#undef QOPT_DOT256_SATURATES
#undef QOPT_DOT256
#undef QOPT_DOT256_TARGET
} // namespace avx2

/// The 256-bit int8 kernels of one instruction set.
struct Int8Kernels256 {
  decltype(&avx2::int8Gemm4Bit) gemm4;
  decltype(&avx2::rowsTimes4BitRows) rows4;
  int32_t (*dotGroup8)(const uint8_t *codes, const int8_t *q, int64_t len);
};

/// The kernels a library of instruction-set level `isa` (Context::isa) runs. AVX2 keeps its
/// widening 8-bit dot, which cannot saturate.
const Int8Kernels256 &int8Kernels256(int32_t isa) {
  static const Int8Kernels256 avx512Vnni = {vnni512::int8Gemm4Bit, vnni512::rowsTimes4BitRows,
                                            vnni512::dotGroup8},
                              avxVnni = {avxvnni::int8Gemm4Bit, avxvnni::rowsTimes4BitRows,
                                         avxvnni::dotGroup8},
                              plain = {avx2::int8Gemm4Bit, avx2::rowsTimes4BitRows, dotGroup8};
  return isa >= kIsaAvx512Vnni ? avx512Vnni : isa == kIsaAvxVnni ? avxVnni : plain;
}

/// y[r, n] = sum over groups of (dot(q_r, codes_n) - zero * sum(q_r)) * scale_x * scale_w.
void int8ActivationMatMul(Context &ctx, const PackedWeight &w, const float *x, int64_t m,
                          float *y, float staticScale) {
  bool fast4 = w.bits == 4 && w.group % 32 == 0 && w.k % w.group == 0;
  bool fast8 = w.bits == 8 && w.group % 16 == 0 && w.k % w.group == 0;
  // Rows in channel panels go to the panel kernels; the rows after them (fewer than 16) and
  // weights in row layout to the row kernels, from `first` on.
  const int64_t first = w.panelRows;
  Int8Rows rows = quantizeRowsInt8(w, x, m, fast4 && first < w.n, staticScale);
  int32_t symmetricZero = 1 << (w.bits - 1);
  const bool vnni = ctx.isa >= kIsaAvx512Vnni;
  const Int8Kernels256 &kernels = int8Kernels256(ctx.isa);
  int64_t grain = std::max<int64_t>(8, (int64_t(1) << 17) / std::max<int64_t>(w.k * m, 1));
  if (first > 0) {
    int64_t panelGrain = std::max<int64_t>(1, grain / quant::kPanelChannels);
    ctx.workers->parallelFor(first / quant::kPanelChannels, panelGrain,
                             [&](int64_t begin, int64_t end) {
                               panelInt8MatMul(w, rows, m, y, begin, end);
                             });
    if (first == w.n)
      return;
  }
  if (fast4 && m >= 8) {
    ctx.workers->parallelFor(w.n - first, std::max<int64_t>(grain, 2), [&](int64_t begin, int64_t end) {
      kernels.gemm4(w, rows, m, first + begin, first + end, symmetricZero, y);
    });
    return;
  }
  ctx.workers->parallelFor(w.n - first, grain, [&](int64_t begin, int64_t end) {
    for (int64_t n = first + begin; n < first + end; ++n) {
      const uint8_t *codes = w.codes + n * w.rowBytes;
      // Four rows at a time share each group's codes; each row sums its groups in order, so the
      // result does not depend on how rows are grouped.
      for (int64_t r0 = 0; r0 < m; r0 += 4) {
        int64_t count = std::min<int64_t>(4, m - r0);
        if (fast4 && vnni && w.group % 64 == 0) {
          switch (count) {
          case 1: rowsTimes4BitRowVnni512<1>(w, rows, n, r0, symmetricZero, y); break;
          case 2: rowsTimes4BitRowVnni512<2>(w, rows, n, r0, symmetricZero, y); break;
          case 3: rowsTimes4BitRowVnni512<3>(w, rows, n, r0, symmetricZero, y); break;
          default: rowsTimes4BitRowVnni512<4>(w, rows, n, r0, symmetricZero, y); break;
          }
          continue;
        }
        if (fast4) {
          kernels.rows4(count, w, rows, n, r0, symmetricZero, y);
          continue;
        }
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t g = 0; g < w.groups; ++g) {
          int64_t start = g * w.group, len = std::min(w.k, start + w.group) - start;
          int32_t dots[4] = {0, 0, 0, 0};
          for (int64_t j = 0; j < count; ++j) {
            const int8_t *q = rows.q.data() + (r0 + j) * rows.stride + start;
            if (fast8) {
              dots[j] = kernels.dotGroup8(codes + start, q, len);
            } else {
              for (int64_t i = 0; i < len; ++i)
                dots[j] += q[i] * static_cast<int32_t>(quant::readRowCode(codes, start + i, w.bits));
            }
          }
          int32_t zero = w.symmetric ? symmetricZero : static_cast<int32_t>(w.zeros[w.groupIndex(n, g)]);
          float ws = w.scale(n, g);
          for (int64_t j = 0; j < count; ++j) {
            int64_t rg = (r0 + j) * w.groups + g;
            acc[j] += static_cast<float>(dots[j] - zero * rows.sum[rg]) * (rows.scale[rg] * ws);
          }
        }
        for (int64_t j = 0; j < count; ++j)
          y[(r0 + j) * w.n + n] = acc[j];
      }
    }
  });
}

/// Writes the 8x8 block at `src` (rows `srcStride` floats apart) transposed to `dst` (rows
/// `dstStride` apart), in registers.
void transpose8x8(const float *src, int64_t srcStride, float *dst, int64_t dstStride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i)
    r[i] = _mm256_loadu_ps(src + i * srcStride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dstStride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dstStride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

/// Runs the generated panel kernel on rows [0, m) of x and panel p, decoded at `decoded`.
void callPanelKernel(FusedKernelFn kernel, const float *px, int64_t m, float *decoded, int64_t k,
                     int64_t panel, int64_t p, float *py, int64_t n) {
  // The kernel addresses panel p at p * K * panel elements from the weight's base.
  int64_t params[4] = {0, m, p, p + 1};
  KernelOperands operands;
  operands.addBuffer(px, m * k);
  operands.addBuffer(decoded - p * k * panel, (p + 1) * k * panel);
  operands.addBuffer(py, m * n);
  operands.addBuffer(params, 4);
  operands.call(kernel);
}

/// Many rows by a quantized weight through a generated panel kernel: each part of the pool decodes
/// one panel of `panel` output channels at a time into [K, panel] (the layout the kernel reads;
/// lanes past N zero) and multiplies every row by it while it is in cache.
void panelKernelMatMul(Context &ctx, const PackedWeight &w, const float *px, int64_t m, float *py,
                       FusedKernelFn kernel, int64_t panel) {
  int64_t panels = (w.n + panel - 1) / panel;
  auto part = [&](int64_t begin, int64_t end) {
    static thread_local std::vector<float> decoded, rows, scratch;
    decoded.resize(w.k * panel);
    rows.resize(panel * w.k);
    scratch.resize(w.k);
    for (int64_t p = begin; p < end; ++p) {
      if (panel % quant::kPanelChannels == 0 && (p + 1) * panel <= w.panelRows) {
        // Channel panels decode straight into the kernel's [K, panel] layout.
        for (int64_t j = 0; j < panel; j += quant::kPanelChannels)
          decodePanel(w, (p * panel + j) / quant::kPanelChannels, decoded.data() + j, panel);
        callPanelKernel(kernel, px, m, decoded.data(), w.k, panel, p, py, w.n);
        continue;
      }
      // Decoded channel by channel ([panel, K]), then transposed in 8x8 blocks.
      for (int64_t j = 0; j < panel; ++j) {
        float *row = rows.data() + j * w.k;
        if (p * panel + j < w.n)
          decodeRow(w, p * panel + j, row, scratch.data());
        else
          std::fill(row, row + w.k, 0.0f);
      }
      int64_t j = 0;
      for (; j + 8 <= panel; j += 8) {
        int64_t kk = 0;
        for (; kk + 8 <= w.k; kk += 8)
          transpose8x8(rows.data() + j * w.k + kk, w.k, decoded.data() + kk * panel + j, panel);
        for (; kk < w.k; ++kk)
          for (int64_t jj = j; jj < j + 8; ++jj)
            decoded[kk * panel + jj] = rows[jj * w.k + kk];
      }
      for (; j < panel; ++j)
        for (int64_t kk = 0; kk < w.k; ++kk)
          decoded[kk * panel + j] = rows[j * w.k + kk];
      callPanelKernel(kernel, px, m, decoded.data(), w.k, panel, p, py, w.n);
    }
  };
  if (ctx.workers && ctx.threads > 1 && panels > 1)
    ctx.workers->parallelFor(panels, 1, part);
  else
    part(0, panels);
}

void floatMatMul(Context &ctx, const PackedWeight &w, const float *px, int64_t m, float *py,
                 int64_t kernelPanel, FusedKernelFn kernel);

/// y = bf16(x) · Wᵀ: `vdpbf16ps` over channel panels where the library's CPU has AVX-512-BF16
/// and the codes suit it, else the f32 kernels (a generated one if given) on the rounded input.
void bf16ActivationMatMul(Context &ctx, const PackedWeight &w, const float *px, int64_t m,
                          float *py, int64_t kernelPanel, FusedKernelFn kernel) {
  std::vector<float> rounded;
  auto roundAll = [&] {
    rounded.resize(m * w.k);
    roundRowsBf16(px, m * w.k, rounded.data());
  };
  if (ctx.isa < kIsaAvx512Bf16 || !bf16PanelsFit(w)) {
    roundAll();
    return floatMatMul(ctx, w, rounded.data(), m, py, kernelPanel, kernel);
  }
  Bf16Rows rows;
  rows.stride = w.k / 2;
  rows.pairs.resize(m * rows.stride);
  if (w.zeros)
    rows.sum.assign(m * w.groups, 0.0f);
  ctx.workers->parallelFor(m, std::max<int64_t>(1, 8192 / w.k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      packRowBf16(w, px + r * w.k, rows.pairs.data() + r * rows.stride,
                  w.zeros ? rows.sum.data() + r * w.groups : nullptr);
  });
  int64_t grain = std::max<int64_t>(16, (int64_t(1) << 18) / std::max<int64_t>(w.k * m, 1));
  ctx.workers->parallelFor(w.panelRows / quant::kPanelChannels,
                           std::max<int64_t>(1, grain / quant::kPanelChannels),
                           [&](int64_t begin, int64_t end) {
                             panelBf16MatMul(w, rows, m, py, begin, end);
                           });
  if (w.panelRows == w.n)
    return;
  // The rows past the last whole panel (fewer than 16) keep the row layout.
  roundAll();
  std::vector<float> row(w.k), scratch(w.k);
  for (int64_t n = w.panelRows; n < w.n; ++n) {
    decodeRow(w, n, row.data(), scratch.data());
    for (int64_t r = 0; r < m; ++r)
      py[r * w.n + n] = dot(rounded.data() + r * w.k, row.data(), w.k);
  }
}

void quantMatMul(Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs, const int64_t *i,
                 int64_t ni, FusedKernelFn kernel = nullptr) {
  if (numIns < 5 || !ins[0] || ins[0]->dtype != QOPT_FLOAT32)
    fail("quantized matmul needs a float32 input");
  PackedWeight w = describe(ins[1], ins[2], ins[3], ins[4], i, ni);
  Tensor &x = *ins[0];
  if (x.rank < 1 || x.dims[x.rank - 1] != w.k)
    fail("quantized matmul: the input has " + std::to_string(x.rank ? x.dims[x.rank - 1] : 0) +
         " features, the weight " + std::to_string(w.k));
  std::vector<int64_t> shape = x.shape();
  shape.back() = w.n;
  Tensor *out = ctx.allocate(QOPT_FLOAT32, shape);
  outs[0] = out;
  int64_t m = x.numElements() / w.k;
  const float *px = x.as<float>();
  float *py = out->as<float>();
  if (m == 0 || w.n == 0)
    return;
  if (w.panelRows > 0 && ctx.isa < kIsaAvx512Vnni)
    fail("quantized matmul: weights in channel panels need the AVX-512 VNNI kernels");
  int64_t activations = ni > 7 ? i[7] : 0;
  if (activations == kActivationsInt8) {
    if (w.codebook != 0)
      fail("quantized matmul: int8 activations need integer codes");
    float staticScale = 0.0f;
    if (ni > 8) {
      uint32_t bits = static_cast<uint32_t>(i[8]);
      std::memcpy(&staticScale, &bits, 4);
    }
    return int8ActivationMatMul(ctx, w, px, m, py, staticScale);
  }
  // With a generated kernel, the ninth attribute is its panel width.
  int64_t kernelPanel = kernel && ni > 8 ? i[8] : 0;
  if (activations == kActivationsBf16)
    return bf16ActivationMatMul(ctx, w, px, m, py, kernelPanel, kernel);
  if (activations != 0)
    fail("quantized matmul: unknown activation mode " + std::to_string(activations));
  floatMatMul(ctx, w, px, m, py, kernelPanel, kernel);
}

/// y = x · Wᵀ in f32; with a generated panel kernel (`kernel`, `kernelPanel` channels wide), many
/// rows go through it.
void floatMatMul(Context &ctx, const PackedWeight &w, const float *px, int64_t m, float *py,
                 int64_t kernelPanel, FusedKernelFn kernel) {
  if (m <= 4) {
    bool fused4 = w.bits == 4 && w.group % 16 == 0 && w.k % 16 == 0;
    const int64_t first = w.panelRows;
    // The group sums of x carry the zero point's term: for the row kernels' int path, and for
    // panels with zero points or 8-bit codes. Computed once for both.
    bool rowsNeedSums = fused4 && (w.codebook == 0 || !w.symmetric);
    bool panelsNeedSums = first > 0 && (w.zeros || (w.bits == 8 && w.codebook == 0));
    std::vector<float> xsum;
    if (rowsNeedSums || panelsNeedSums) {
      xsum.assign(m * w.groups, 0.0f);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t i = 0; i < w.k; ++i)
          xsum[r * w.groups + i / w.group] += px[r * w.k + i];
    }
    const float *pxsum = rowsNeedSums ? xsum.data() : nullptr;
    // Waking another thread costs tens of microseconds: split only layers big enough to repay it
    // (about half a million weights per thread).
    int64_t grain = std::max<int64_t>(16, (int64_t(1) << 19) / w.k);
    const bool wide = ctx.isa >= kIsaAvx512Vnni && w.group % 32 == 0 && w.k % w.group == 0;
    if (first > 0) {
      ctx.workers->parallelFor(first / quant::kPanelChannels,
                               std::max<int64_t>(1, grain / quant::kPanelChannels),
                               [&](int64_t begin, int64_t end) {
                                 panelGemv(w, px, m, py, begin, end, xsum.data());
                               });
      if (first == w.n)
        return;
    }
    ctx.workers->parallelFor(w.n - first, grain, [&](int64_t begin, int64_t end) {
      begin += first;
      end += first;
      if (!fused4)
        return gemvRows(w, px, m, py, begin, end);
      if (wide && w.codebook == 0 && pxsum) {
        switch (m) {
        case 1: return gemv4Int512<1>(w, px, py, begin, end, pxsum);
        case 2: return gemv4Int512<2>(w, px, py, begin, end, pxsum);
        case 3: return gemv4Int512<3>(w, px, py, begin, end, pxsum);
        default: return gemv4Int512<4>(w, px, py, begin, end, pxsum);
        }
      }
      switch (m) {
      case 1: return gemv4Dispatch<1>(w, px, py, begin, end, pxsum);
      case 2: return gemv4Dispatch<2>(w, px, py, begin, end, pxsum);
      case 3: return gemv4Dispatch<3>(w, px, py, begin, end, pxsum);
      default: return gemv4Dispatch<4>(w, px, py, begin, end, pxsum);
      }
    });
    return;
  }
  if (kernel && kernelPanel > 0)
    return panelKernelMatMul(ctx, w, px, m, py, kernel, kernelPanel);
  // Panels of output channels, decoded in parallel and multiplied by SGEMM while in cache.
  // A panel of at most 4 MB of decoded rows (the "packing" of a blocked GEMM): big enough for SGEMM
  // to run at speed, so the per-call overhead is amortized, and bounded whatever the layer size.
  const int64_t kPanel = std::max<int64_t>(64, (int64_t(1) << 20) / w.k / 64 * 64);
  static thread_local std::vector<float> panel;
  panel.resize(kPanel * w.k);
  float *panelData = panel.data(); // a lambda naming `panel` would see each thread's own

  for (int64_t n0 = 0; n0 < w.n; n0 += kPanel) {
    int64_t rows = std::min(kPanel, w.n - n0);
    ctx.workers->parallelFor(rows, 8, [&](int64_t begin, int64_t end) {
      static thread_local std::vector<float> scratch;
      scratch.resize(w.k);
      for (int64_t r = begin; r < end; ++r)
        decodeRow(w, n0 + r, panelData + r * w.k, scratch.data());
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, rows, w.k, 1.0f, px, w.k,
                panelData, w.k, 0.0f, py + n0, w.n);
  }
}

void quantGather(Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs, const int64_t *i,
                 int64_t ni) {
  if (numIns < 5 || !ins[4])
    fail("quantized gather needs indices");
  PackedWeight w = describe(ins[0], ins[1], ins[2], ins[3], i, ni);
  Tensor &indices = *ins[4];
  if (indices.dtype != QOPT_INT64 && indices.dtype != QOPT_INT32)
    fail("quantized gather takes int32 or int64 indices");
  std::vector<int64_t> shape = indices.shape();
  shape.push_back(w.k);
  Tensor *out = ctx.allocate(QOPT_FLOAT32, shape);
  outs[0] = out;
  static thread_local std::vector<float> scratch;
  scratch.resize(w.k);
  int64_t count = indices.numElements();
  for (int64_t j = 0; j < count; ++j) {
    int64_t row = readInt(indices, j);
    if (row < -w.n || row >= w.n)
      fail("gather index " + std::to_string(row) + " is out of range for " + std::to_string(w.n) +
           " rows");
    if (row < 0)
      row += w.n;
    decodeRow(w, row, out->as<float>() + j * w.k, scratch.data());
  }
}
/// y[..., n] = sum over the row's entries of x[..., column] * value: a layer's f16 outliers.
void sparseMatMul(Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs, const int64_t *i,
                  int64_t ni) {
  if (numIns < 4 || ni < 1 || !ins[0] || ins[0]->dtype != QOPT_FLOAT32)
    fail("sparse matmul needs a float32 input");
  Tensor &x = *ins[0], &offsets = *ins[1], &columns = *ins[2], &values = *ins[3];
  int64_t k = i[0];
  if (offsets.dtype != QOPT_INT32 || columns.dtype != QOPT_INT32 ||
      values.dtype != QOPT_FLOAT16 || offsets.rank != 1 || offsets.dims[0] < 1)
    fail("sparse matmul: expected i32 row offsets and columns and f16 values");
  if (x.rank < 1 || x.dims[x.rank - 1] != k)
    fail("sparse matmul: the input has the wrong number of features");
  int64_t n = offsets.dims[0] - 1, nnz = columns.numElements();
  const int32_t *off = offsets.as<int32_t>(), *col = columns.as<int32_t>();
  if (off[0] != 0 || off[n] != nnz || values.numElements() != nnz)
    fail("sparse matmul: the row offsets do not cover the entries");
  for (int64_t row = 0; row < n; ++row)
    if (off[row] > off[row + 1])
      fail("sparse matmul: the row offsets decrease");
  std::vector<float> val(nnz);
  for (int64_t j = 0; j < nnz; ++j) {
    if (col[j] < 0 || col[j] >= k)
      fail("sparse matmul: a column is out of range");
    val[j] = quant::halfToFloat(values.as<uint16_t>()[j]);
  }
  std::vector<int64_t> shape = x.shape();
  shape.back() = n;
  Tensor *out = ctx.allocate(QOPT_FLOAT32, shape);
  outs[0] = out;
  int64_t m = x.numElements() / std::max<int64_t>(k, 1);
  const float *px = x.as<float>();
  float *py = out->as<float>();
  ctx.workers->parallelFor(n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t row = begin; row < end; ++row) {
        float acc = 0.0f;
        for (int32_t j = off[row]; j < off[row + 1]; ++j)
          acc += px[r * k + col[j]] * val[j];
        py[r * n + row] = acc;
      }
  });
}
} // namespace

void qopt::rt::runQuantOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                          const int64_t *i, int64_t ni) {
  switch (op) {
  case Opcode::QuantMatMul: return quantMatMul(ctx, ins, numIns, outs, i, ni);
  case Opcode::QuantMatMulKernel:
    return quantMatMul(ctx, ins + 1, numIns - 1, outs, i, ni,
                       reinterpret_cast<FusedKernelFn>(static_cast<void *>(ins[0])));
  case Opcode::QuantGather: return quantGather(ctx, ins, numIns, outs, i, ni);
  case Opcode::SparseMatMul: return sparseMatMul(ctx, ins, numIns, outs, i, ni);
  default: fail("not a quantized op");
  }
}
