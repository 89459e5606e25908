//===- WeightQuantizer.h - round-to-nearest weight quantization -*- C++ -*-===//
//
// Quantizes a constant weight, one output channel per row and groups of consecutive input-channel
// (K) weights sharing a scale, into packed codes plus scales (and zero points, or double-quantized
// scales). The conventions are those of docs/quantization.md; plain C++ so that the compiler's
// passes and the unit tests use the same code.
//
#ifndef QOPT_QUANT_WEIGHTQUANTIZER_H
#define QOPT_QUANT_WEIGHTQUANTIZER_H

#include <cstdint>
#include <string>
#include <vector>

namespace qopt::quant {

enum class Codebook { Int, NF4, FP4, FP8E4M3, BnbFP4 };
enum class ScaleType { F32, F16, BF16 };

struct Scheme {
  Codebook codebook = Codebook::Int;
  unsigned bits = 4;
  /// Consecutive K weights sharing a scale; 0 means one group per output channel.
  int64_t groupSize = 128;
  bool symmetric = true;
  ScaleType scaleType = ScaleType::F16;
  /// Scales quantized to 8 bits in blocks of this many (flattened row-major), 0 for none.
  int64_t doubleQuantBlock = 0;

  int64_t numGroups(int64_t k) const;
  /// Bytes of one row of `k` codes packed densely, least significant bit first.
  int64_t rowBytes(int64_t k) const { return (k * bits + 7) / 8; }
  /// Why this scheme is invalid, or an empty string.
  std::string validate() const;
  /// The 8-bit offset of double-quantized scale codes: signed scales (symmetric int) use 128.
  int64_t scaleCodeOffset() const {
    return codebook == Codebook::Int && symmetric ? 128 : 0;
  }
};

struct QuantizedWeight {
  int64_t n = 0, k = 0, groups = 0;
  std::vector<uint8_t> codes;       ///< n x rowBytes(k)
  std::vector<float> scales;        ///< n x groups: the scales dequantization uses
  std::vector<uint16_t> scaleBits;  ///< n x groups as f16/bf16 bits (16-bit scale types only)
  std::vector<uint8_t> zeroPoints;  ///< n x groups (asymmetric only)
  std::vector<uint8_t> scaleCodes;  ///< n x groups (double quantization only)
  std::vector<float> scaleScales;   ///< one per block of scales (double quantization only)
};

/// How the weights of one group of one row map to codes: the scale as stored (after f16/bf16
/// rounding or double quantization) and, for asymmetric ints, the zero point.
struct GroupGrid {
  float scale = 0.0f;
  float zero = 0.0f;       ///< asymmetric int only
  uint16_t scaleBits = 0;  ///< the stored f16/bf16 bits
  uint8_t scaleCode = 0;   ///< the 8-bit code of a double-quantized scale
};

/// Chooses the grid of a group from its weights, as round-to-nearest does. Data-aware algorithms
/// call it on weights they have already updated (GPTQ at each group boundary).
class GridFitter {
public:
  /// `w` (n x k) fixes what must be fixed for the whole weight: with double quantization, the
  /// second-level scale of every block of scales.
  GridFitter(const Scheme &scheme, const float *w, int64_t n, int64_t k);
  /// The grid of group `g` of row `row` for these `count` values; `clip` (0, 1] shrinks their
  /// range (clipping search).
  GroupGrid fit(int64_t row, int64_t g, const float *values, int64_t count,
                float clip = 1.0f) const;
  int64_t numGroups() const { return groups; }
  /// Weights per group (the last one may be shorter).
  int64_t groupLength() const { return group; }
  const std::vector<float> &secondLevelScales() const { return scaleScales; }

private:
  Scheme scheme;
  int64_t groups, group;
  std::vector<float> scaleScales;
};

/// The code of `w` on `grid` (nearest level, clamped to the codebook).
unsigned encodeWeight(float w, const GroupGrid &grid, const Scheme &scheme);
/// The weight that `code` stands for on `grid`.
float decodeWeight(unsigned code, const GroupGrid &grid, const Scheme &scheme);
/// Packs one code per weight (n x k) with the grids (n x groups) into the stored form.
QuantizedWeight packWeight(int64_t n, int64_t k, const Scheme &scheme,
                           const std::vector<GroupGrid> &grids, const std::vector<uint8_t> &codes,
                           const std::vector<float> &scaleScales);

/// Quantizes `w`, `n` rows of `k` (row n holds output channel n's weights), round-to-nearest.
/// `clip`, when given, holds a range factor per group (n x groups).
QuantizedWeight quantizeWeight(const float *w, int64_t n, int64_t k, const Scheme &scheme,
                               const float *clip = nullptr);
/// The weights round-to-nearest quantization of `w` stands for (quantize, then dequantize,
/// without packing), n x k.
std::vector<float> roundTripWeight(const float *w, int64_t n, int64_t k, const Scheme &scheme);
/// The weights that the quantized form stands for, n x k.
std::vector<float> dequantizeWeight(const QuantizedWeight &q, const Scheme &scheme);
/// Rows [begin, end) of dequantizeWeight into `out` ((end - begin) x k floats).
void dequantizeRows(const QuantizedWeight &q, const Scheme &scheme, int64_t begin, int64_t end,
                    float *out);

/// The value of `code` before scaling; for int schemes the symmetric zero point 2^(bits-1) is
/// already subtracted, an asymmetric one is not.
float codeValue(const Scheme &scheme, unsigned code);
unsigned readCode(const uint8_t *row, int64_t index, unsigned bits);
void writeCode(uint8_t *row, int64_t index, unsigned bits, unsigned code);

/// Round to nearest even.
uint16_t floatToHalf(float value);
uint16_t floatToBFloat(float value);

} // namespace qopt::quant

#endif // QOPT_QUANT_WEIGHTQUANTIZER_H
