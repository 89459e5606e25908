//===- ChannelPanels.h - 4-bit codes in panels of 16 output channels -*- C++ -*-===//
//
// The layout the AVX-512 kernels read 4-bit weights in (qopt.quantized_matmul's
// `channel_panels`). One 512-bit load holds 8 inputs of 16 output channels, one 32-bit lane per
// channel, so a vector of 16 outputs accumulates with no horizontal sums:
//   - `vpdpbusd` takes the low nibbles (inputs 0-3 of each lane's channel, as bytes) and the high
//     nibbles (inputs 4-7) against 4 broadcast int8 activations each;
//   - the float kernels shift the lane right by 8t (input t) or 8t + 4 (input t + 4) and look up
//     its low 4 bits with `vpermps`.
// Panel p, block b of 8 inputs: 64 bytes; byte 4 * j + t holds channel 16 * p + j's code at input
// 8 * b + t in its low nibble and at 8 * b + t + 4 in its high nibble. Rows past the last whole
// panel keep the row layout (codes LSB first), so the tensor keeps its shape and size.
// The per-group scales and zero points ([n, groups]) of those rows are stored panel by panel
// too, [n / 16, groups, 16], so that one load gives a group's 16 scales.
//
// Header-only: the compiler packs with it and the runtime reads with it.
//
#ifndef QOPT_QUANT_CHANNELPANELS_H
#define QOPT_QUANT_CHANNELPANELS_H

#include <cstdint>
#include <cstring>

namespace qopt::quant {

constexpr int64_t kPanelChannels = 16;
constexpr int64_t kPanelInputs = 8;
constexpr int64_t kPanelBlockBytes = kPanelChannels * kPanelInputs / 2;

/// The rows stored in panels: whole panels of 16.
inline int64_t panelRows(int64_t n) { return n / kPanelChannels * kPanelChannels; }

/// Where channel `row`'s code at input `k` lies in panel layout: the byte and the shift (0 or 4).
inline int64_t panelCodeByte(int64_t row, int64_t k, int64_t numInputs, unsigned &shift) {
  int64_t panel = row / kPanelChannels, lane = row % kPanelChannels;
  int64_t block = k / kPanelInputs, t = k % kPanelInputs;
  shift = t >= 4 ? 4 : 0;
  return panel * kPanelChannels * (numInputs / 2) + block * kPanelBlockBytes + lane * 4 + t % 4;
}

/// Repacks the first panelRows(n) rows of row-layout 4-bit codes `rows` ([n, k / 2] bytes, k a
/// multiple of 8) into panels in `out` (same size); the other rows are copied as they are.
inline void packChannelPanels(const uint8_t *rows, int64_t n, int64_t k, uint8_t *out) {
  const int64_t rowBytes = k / 2, packed = panelRows(n);
  std::memset(out, 0, packed * rowBytes);
  for (int64_t r = 0; r < packed; ++r)
    for (int64_t i = 0; i < k; ++i) {
      unsigned code = (rows[r * rowBytes + i / 2] >> ((i % 2) * 4)) & 15, shift;
      int64_t byte = panelCodeByte(r, i, k, shift);
      out[byte] |= static_cast<uint8_t>(code << shift);
    }
  std::memcpy(out + packed * rowBytes, rows + packed * rowBytes, (n - packed) * rowBytes);
}

/// The inverse of packChannelPanels: row-layout codes from `panels`.
inline void unpackChannelPanels(const uint8_t *panels, int64_t n, int64_t k, uint8_t *out) {
  const int64_t rowBytes = k / 2, packed = panelRows(n);
  std::memset(out, 0, packed * rowBytes);
  for (int64_t r = 0; r < packed; ++r)
    for (int64_t i = 0; i < k; ++i) {
      unsigned shift;
      int64_t byte = panelCodeByte(r, i, k, shift);
      unsigned code = (panels[byte] >> shift) & 15;
      out[r * rowBytes + i / 2] |= static_cast<uint8_t>(code << ((i % 2) * 4));
    }
  std::memcpy(out + packed * rowBytes, panels + packed * rowBytes, (n - packed) * rowBytes);
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
