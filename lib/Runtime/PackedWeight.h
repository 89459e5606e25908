//===- PackedWeight.h - a quantized weight as the runtime's kernels read it -*- C++ -*-===//
//
// Shared by the row-layout kernels (QuantKernels.cpp) and the channel-panel kernels
// (ChannelPanelKernels.cpp).
//
#ifndef QOPT_RUNTIME_PACKEDWEIGHT_H
#define QOPT_RUNTIME_PACKEDWEIGHT_H

#include "Tensor.h"
#include "qopt/Quant/Codebooks.h"

#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <vector>

namespace qopt::rt {

/// KernelABI.h: I = codebook (0 int, 1 nf4, 2 fp4, 3 fp8_e4m3, 4 bnb_fp4), bits, group size (0: channel),
/// symmetric, scale dtype, double-quantization block, K.
/// Kernels for libraries compiled for AVX-512 with VNNI (Context::isa) carry this attribute; the
/// rest of the runtime is compiled for AVX2.
#define QOPT_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
/// Kernels for libraries compiled for AVX-VNNI (256-bit vpdpbusd without AVX-512).
#define QOPT_AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

struct PackedWeight {
  int codebook = 0;
  unsigned bits = 4;
  int64_t group = 0, groups = 1;
  bool symmetric = true;
  int32_t scaleDtype = QOPT_FLOAT32;
  int64_t dqBlock = 0, scaleOffset = 0;
  int64_t n = 0, k = 0, rowBytes = 0;
  const uint8_t *codes = nullptr;
  const void *scales = nullptr;
  const uint8_t *zeros = nullptr;
  const float *scaleScales = nullptr;
  /// Rows [0, panelRows) are stored in channel panels (qopt/Quant/ChannelPanels.h): their codes,
  /// and their scales and zero points as [panelRows / 16, groups, 16].
  int64_t panelRows = 0;
  /// Code → value before scaling (the symmetric int zero point already subtracted).
  alignas(64) float lut[256];

  /// Where row `row`'s group `g` lies among the scales and zero points.
  int64_t groupIndex(int64_t row, int64_t g) const {
    if (row < panelRows)
      return (row / 16) * 16 * groups + g * 16 + row % 16;
    return row * groups + g;
  }
  float scale(int64_t row, int64_t g) const {
    int64_t i = groupIndex(row, g);
    if (dqBlock > 0)
      return (static_cast<float>(static_cast<const uint8_t *>(scales)[i]) -
              static_cast<float>(scaleOffset)) * scaleScales[i / dqBlock];
    switch (scaleDtype) {
    case QOPT_FLOAT16: return _cvtsh_ss(static_cast<const uint16_t *>(scales)[i]);
    case QOPT_BFLOAT16: return quant::bfloatToFloat(static_cast<const uint16_t *>(scales)[i]);
    default: return static_cast<const float *>(scales)[i];
    }
  }
  float zero(int64_t row, int64_t g) const {
    return zeros ? static_cast<float>(zeros[groupIndex(row, g)]) : 0.0f;
  }
};

/// Plane c of a 3-bit panel block at `block` (qopt/Quant/ChannelPanels.h), whose first 64 bytes
/// are `low`: inputs 4c .. 4c + 3 of each lane's channel, one code a byte (byte t: input 4c + t),
/// made of the pair of bits 2c of every byte plus 4 where the block's mask c holds the high bit.
QOPT_VNNI inline __m512i threeBitPlane(__m512i low, const uint8_t *block, int c) {
  uint64_t high;
  std::memcpy(&high, block + 64 + 8 * c, 8);
  __m512i pairs = _mm512_and_si512(c ? _mm512_srli_epi16(low, 2 * c) : low, _mm512_set1_epi8(3));
  return _mm512_mask_add_epi8(pairs, _cvtu64_mask64(high), pairs, _mm512_set1_epi8(4));
}

/// The weight of a quantized kernel call from its operands and integer attributes (KernelABI.h).
PackedWeight describe(Tensor *codes, Tensor *scales, Tensor *zeros, Tensor *scaleScales,
                      const int64_t *i, int64_t ni);

/// Activation rows quantized to int8 per group of the weight's scheme, as ONNX Runtime's
/// accuracy-level-4 MatMulNBits does: scale = max|x| / 127, codes = round_half_even(x * 127 / max|x|).
/// Each group is stored padded to the group size; for 4-bit weights the values of a 32-wide chunk
/// are also kept reordered (even positions, then odd) to line up with the low and high nibbles.
struct Int8Rows {
  int64_t groups = 0, stride = 0;
  std::vector<int8_t> q, interleaved;
  std::vector<float> scale;
  std::vector<int32_t> sum;
};
/// The rows of x ([m, K]) quantized per group of `w`'s scheme; `interleave` also keeps each
/// 32-wide chunk reordered for the row-layout 4-bit kernels. A positive `staticScale` is used for
/// every element instead of max|x| / 127.
Int8Rows quantizeRowsInt8(const PackedWeight &w, const float *x, int64_t m, bool interleave,
                          float staticScale);

/// Activation rows rounded to bf16, as the AVX-512-BF16 panel kernels read them
/// (Bf16PanelKernels.cpp): per block of the weight's inputs, bf16 pairs in the order its code
/// planes come in; with zero points, the group sums of the rounded values.
struct Bf16Rows {
  int64_t stride = 0;
  std::vector<uint32_t> pairs;
  std::vector<float> sum;
};
/// `count` floats rounded to bf16 (to nearest, ties to even) and widened back to f32.
void roundRowsBf16(const float *x, int64_t count, float *out);
/// One row of x ([K]) rounded to bf16 and packed for `panelBf16MatMul` into `pairs` (K / 2);
/// with `sums`, the rounded values' group sums added to them (AVX-512-BF16 libraries only).
void packRowBf16(const PackedWeight &w, const float *x, uint32_t *pairs, float *sums);
/// Whether `panelBf16MatMul` takes `w`: 2-, 3- or 4-bit integer codes in channel panels.
bool bf16PanelsFit(const PackedWeight &w);
/// y = x · Wᵀ for m bf16 rows, panels [p0, p1), with `vdpbf16ps` (AVX-512-BF16 only).
void panelBf16MatMul(const PackedWeight &w, const Bf16Rows &rows, int64_t m, float *y, int64_t p0,
                     int64_t p1);

// Kernels over channel panels (ChannelPanelKernels.cpp, AVX-512 VNNI only): panels [p0, p1)
// give outputs [16 * p0, 16 * p1) of every row.

/// y = x · Wᵀ for m ≤ 4 float rows of x ([m, K]); `xsum` holds x's group sums when the weight
/// has zero points.
void panelGemv(const PackedWeight &w, const float *x, int64_t m, float *y, int64_t p0, int64_t p1,
               const float *xsum);
/// y = x · Wᵀ for m int8 rows (quantized by quantizeRowsInt8), with integer dot products.
void panelInt8MatMul(const PackedWeight &w, const Int8Rows &rows, int64_t m, float *y, int64_t p0,
                     int64_t p1);
/// Panel p dequantized into [K, 16] floats at `dst`, rows `stride` floats apart.
void decodePanel(const PackedWeight &w, int64_t p, float *dst, int64_t stride);
/// The dequantized weight of channel `row` (< w.panelRows) at input k.
float panelValue(const PackedWeight &w, int64_t row, int64_t k);

} // namespace qopt::rt

#endif // QOPT_RUNTIME_PACKEDWEIGHT_H
