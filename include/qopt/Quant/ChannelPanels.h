//===- ChannelPanels.h - 2-, 4- and 8-bit codes in panels of 16 output channels -*- C++ -*-===//
//
// The layout the AVX-512 kernels read 2-, 4- and 8-bit weights in (qopt.quantized_matmul's
// `channel_panels`). One 512-bit load holds 16 output channels, one 32-bit lane per channel, so a
// vector of 16 outputs accumulates with no horizontal sums.
//
// 4-bit codes: a block of 8 inputs is 64 bytes; byte 4 * j + t holds channel 16 * p + j's code
// at input 8 * b + t in its low nibble and at 8 * b + t + 4 in its high nibble.
//   - `vpdpbusd` takes the low nibbles (inputs 0-3 of each lane's channel, as bytes) and the high
//     nibbles (inputs 4-7) against 4 broadcast int8 activations each;
//   - the float kernels shift the lane right by 8t (input t) or 8t + 4 (input t + 4) and look up
//     its low 4 bits with `vpermps`.
// 8-bit codes: a block of 4 inputs is 64 bytes; byte 4 * j + t holds channel 16 * p + j's code at
// input 4 * b + t: one `vpdpbusd` against 4 broadcast activations.
// 2-bit codes: a block of 16 inputs is 64 bytes; byte 4 * j + t holds channel 16 * p + j's codes
// at inputs 16 * b + t + 4c in bits 2c, 2c + 1 (c = 0..3): four `vpdpbusd`, one per pair of bits.
// In general a block holds 32 / bits inputs, input u of a block sitting at byte u % 4, bit
// bits * (u / 4) of its lane.
//
// Rows past the last whole panel keep the row layout, so the tensor keeps its shape and size.
// The per-group scales and zero points ([n, groups]) of the panels' rows are stored panel by
// panel too, [n / 16, groups, 16], so that one load gives a group's 16 scales.
//
// Header-only: the compiler packs with it and the runtime reads with it.
//
#ifndef QOPT_QUANT_CHANNELPANELS_H
#define QOPT_QUANT_CHANNELPANELS_H

#include <cstdint>
#include <cstring>

namespace qopt::quant {

constexpr int64_t kPanelChannels = 16;
constexpr int64_t kPanelBlockBytes = 64;

/// Inputs per 64-byte block: 16 for 2-bit codes, 8 for 4-bit ones, 4 for 8-bit ones.
constexpr int64_t panelBlockInputs(unsigned bits) { return 32 / bits; }

/// Whether codes can be stored in panels: 4-bit codes of any codebook, or 2- and 8-bit integer
/// codes (`integerCodes`), without double-quantized scales (their blocks follow the row order).
inline bool panelCodesFit(unsigned bits, bool integerCodes, bool doubleQuantized) {
  return !doubleQuantized && (bits == 4 || ((bits == 2 || bits == 8) && integerCodes));
}

/// Whether `k` inputs in groups of `group` (0: one group per row) are whole blocks of inputs.
inline bool panelShapeFits(unsigned bits, int64_t k, int64_t group) {
  int64_t inputs = panelBlockInputs(bits);
  return k % inputs == 0 && group % inputs == 0;
}

/// The rows stored in panels: whole panels of 16.
inline int64_t panelRows(int64_t n) { return n / kPanelChannels * kPanelChannels; }

/// Where channel `row`'s code at input `k` lies in panel layout (`k` inputs per row of
/// `bits`-bit codes): the byte and the bit shift of the code within it.
inline int64_t panelCodeByte(int64_t row, int64_t k, int64_t numInputs, unsigned bits,
                             unsigned &shift) {
  int64_t panel = row / kPanelChannels, lane = row % kPanelChannels;
  int64_t inputs = panelBlockInputs(bits), block = k / inputs, t = k % inputs;
  shift = static_cast<unsigned>(bits * (t / 4));
  return panel * kPanelChannels * (numInputs * bits / 8) + block * kPanelBlockBytes + lane * 4 +
         t % 4;
}

/// Moves codes between the row layout (LSB first, [n, k * bits / 8] bytes) and panels: the first
/// panelRows(n) rows are repacked (`toPanels`) or unpacked, the others copied as they are.
inline void convertChannelPanels(const uint8_t *in, int64_t n, int64_t k, unsigned bits,
                                 uint8_t *out, bool toPanels) {
  const int64_t rowBytes = k * bits / 8, packed = panelRows(n);
  const unsigned mask = (1u << bits) - 1;
  std::memset(out, 0, packed * rowBytes);
  for (int64_t r = 0; r < packed; ++r)
    for (int64_t i = 0; i < k; ++i) {
      unsigned shift;
      int64_t panelByte = panelCodeByte(r, i, k, bits, shift);
      int64_t rowByte = r * rowBytes + i * bits / 8;
      unsigned rowShift = static_cast<unsigned>(i * bits % 8);
      if (toPanels)
        out[panelByte] |= static_cast<uint8_t>(((in[rowByte] >> rowShift) & mask) << shift);
      else
        out[rowByte] |= static_cast<uint8_t>(((in[panelByte] >> shift) & mask) << rowShift);
    }
  std::memcpy(out + packed * rowBytes, in + packed * rowBytes, (n - packed) * rowBytes);
}

/// Reorders per-group values `in` ([n, groups], `bytes` each) into `out`: the rows of whole
/// panels as [n / 16, groups, 16] (`unpack` reverses it); the other rows as they are.
inline void permutePanelGroups(const uint8_t *in, int64_t n, int64_t groups, int64_t bytes,
                               uint8_t *out, bool unpack = false) {
  const int64_t packed = panelRows(n);
  for (int64_t r = 0; r < packed; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t rowIndex = r * groups + g;
      int64_t panelIndex = (r / kPanelChannels) * kPanelChannels * groups + g * kPanelChannels +
                           r % kPanelChannels;
      std::memcpy(out + (unpack ? rowIndex : panelIndex) * bytes,
                  in + (unpack ? panelIndex : rowIndex) * bytes, bytes);
    }
  std::memcpy(out + packed * groups * bytes, in + packed * groups * bytes,
              (n - packed) * groups * bytes);
}

} // namespace qopt::quant

#endif // QOPT_QUANT_CHANNELPANELS_H
