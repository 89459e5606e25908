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
// 3-bit codes: a block of 16 inputs is 96 bytes. The first 64 hold the codes' low two bits as
// 2-bit codes are held; then four 64-bit masks of their high bits, mask c's bit 4 * j + t that of
// channel 16 * p + j at input 16 * b + 4 * c + t. So `vpdpbusd`'s plane c is the pair of bits 2c
// of every byte plus 4 where mask c says (one masked byte add), and the float kernels look up
// that plane's bytes as the 4-bit ones look up nibbles.
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
/// One 512-bit load: a block's codes (3-bit codes: their low two bits; their masks follow).
constexpr int64_t kPanelVectorBytes = 64;

/// Inputs per block: 16 for 2-bit codes, 8 for 4-bit ones, 4 for 8-bit ones (64 bytes each),
/// and 16 for 3-bit codes (96 bytes).
constexpr int64_t panelBlockInputs(unsigned bits) { return bits == 3 ? 16 : 32 / bits; }
/// Bytes of a block: 16 channels of its inputs.
constexpr int64_t panelBlockBytes(unsigned bits) {
  return kPanelChannels * panelBlockInputs(bits) * bits / 8;
}

/// Whether codes can be stored in panels: 4- and 8-bit codes of any codebook (FP8 for 8 bits), or
/// 2- and 3-bit integer codes (`integerCodes`), without double-quantized scales (their blocks
/// follow the row order).
inline bool panelCodesFit(unsigned bits, bool integerCodes, bool doubleQuantized) {
  return !doubleQuantized && (bits == 4 || bits == 8 || ((bits == 2 || bits == 3) && integerCodes));
}

/// Whether `k` inputs in groups of `group` (0: one group per row) are whole blocks of inputs.
inline bool panelShapeFits(unsigned bits, int64_t k, int64_t group) {
  int64_t inputs = panelBlockInputs(bits);
  return k % inputs == 0 && group % inputs == 0;
}

/// The rows stored in panels: whole panels of 16.
inline int64_t panelRows(int64_t n) { return n / kPanelChannels * kPanelChannels; }

/// Where channel `row`'s code at input `k` lies in panel layout (`k` inputs per row of
/// `bits`-bit codes): its low `lowBits` bits at `byte`, `shift`; a 3-bit code's high bit at
/// `highByte`, `highShift`.
struct PanelCodePlace {
  int64_t byte = 0, highByte = -1;
  unsigned shift = 0, lowBits = 0, highShift = 0;
};
inline PanelCodePlace panelCodePlace(int64_t row, int64_t k, int64_t numInputs, unsigned bits) {
  int64_t panel = row / kPanelChannels, lane = row % kPanelChannels;
  int64_t inputs = panelBlockInputs(bits), block = k / inputs, t = k % inputs;
  int64_t blockStart = panel * kPanelChannels * (numInputs * bits / 8) + block * panelBlockBytes(bits);
  PanelCodePlace place;
  place.lowBits = bits == 3 ? 2 : bits;
  place.byte = blockStart + lane * 4 + t % 4;
  place.shift = static_cast<unsigned>(place.lowBits * (t / 4));
  if (bits == 3) {
    int64_t bit = 4 * lane + t % 4;
    place.highByte = blockStart + kPanelVectorBytes + 8 * (t / 4) + bit / 8;
    place.highShift = static_cast<unsigned>(bit % 8);
  }
  return place;
}

/// Channel `row`'s code at input `k` from codes in panel layout.
inline unsigned readPanelCode(const uint8_t *codes, int64_t row, int64_t k, int64_t numInputs,
                              unsigned bits) {
  PanelCodePlace place = panelCodePlace(row, k, numInputs, bits);
  unsigned code = (codes[place.byte] >> place.shift) & ((1u << place.lowBits) - 1);
  if (place.highByte >= 0)
    code |= ((codes[place.highByte] >> place.highShift) & 1u) << place.lowBits;
  return code;
}

/// The code at `index` of a row of codes packed LSB first (codes may straddle bytes; the row holds
/// the second byte of one that does). The runtime's row kernels read codes with it too.
inline unsigned readRowCode(const uint8_t *row, int64_t index, unsigned bits) {
  int64_t bit = index * bits;
  unsigned shift = static_cast<unsigned>(bit % 8), value = row[bit / 8] >> shift;
  if (shift + bits > 8)
    value |= static_cast<unsigned>(row[bit / 8 + 1]) << (8 - shift);
  return value & ((1u << bits) - 1);
}

/// Moves codes between the row layout (LSB first, [n, k * bits / 8] bytes) and panels: the first
/// panelRows(n) rows are repacked (`toPanels`) or unpacked, the others copied as they are.
inline void convertChannelPanels(const uint8_t *in, int64_t n, int64_t k, unsigned bits,
                                 uint8_t *out, bool toPanels) {
  const int64_t rowBytes = k * bits / 8, packed = panelRows(n);
  std::memset(out, 0, packed * rowBytes);
  for (int64_t r = 0; r < packed; ++r)
    for (int64_t i = 0; i < k; ++i) {
      unsigned code = toPanels ? readRowCode(in + r * rowBytes, i, bits)
                               : readPanelCode(in, r, i, k, bits);
      if (!toPanels) {
        int64_t bit = i * bits;
        uint8_t *row = out + r * rowBytes;
        row[bit / 8] |= static_cast<uint8_t>(code << (bit % 8));
        if (bit % 8 + bits > 8)
          row[bit / 8 + 1] |= static_cast<uint8_t>(code >> (8 - bit % 8));
        continue;
      }
      PanelCodePlace place = panelCodePlace(r, i, k, bits);
      out[place.byte] |= static_cast<uint8_t>((code & ((1u << place.lowBits) - 1)) << place.shift);
      if (place.highByte >= 0)
        out[place.highByte] |= static_cast<uint8_t>((code >> place.lowBits) << place.highShift);
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
