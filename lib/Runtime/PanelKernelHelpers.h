//===- PanelKernelHelpers.h - what the AVX-512 panel kernels share -*- C++ -*-===//
//
// A panel group's 16 scales and zero points as vectors, and the tiling: the int8 and bf16 panel
// kernels compute a tile of RB activation rows by PB panels of 16 output channels at a time, RB
// and PB fixed at compile time so that the tile's sums stay in registers. `forEachPanelTile`
// walks a row count and a panel range in such tiles: the last rows of a panel block through the
// RB - 1 .. 1 instances, the panels left over (fewer than PB) one at a time.
//
#ifndef QOPT_RUNTIME_PANELKERNELHELPERS_H
#define QOPT_RUNTIME_PANELKERNELHELPERS_H

#include "PackedWeight.h"
#include "qopt/Quant/ChannelPanels.h"

namespace qopt::rt {

/// The 16 scales of panel `p`'s group `g`.
QOPT_VNNI inline __m512 scaleVector(const PackedWeight &w, int64_t p, int64_t g) {
  int64_t i = (p * w.groups + g) * quant::kPanelChannels;
  switch (w.scaleDtype) {
  case QOPT_FLOAT16:
    return _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(static_cast<const uint16_t *>(w.scales) + i)));
  case QOPT_BFLOAT16:
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(
            reinterpret_cast<const __m256i *>(static_cast<const uint16_t *>(w.scales) + i))),
        16));
  default: return _mm512_loadu_ps(static_cast<const float *>(w.scales) + i);
  }
}

/// The 16 zero points of panel `p`'s group `g` (asymmetric weights).
QOPT_VNNI inline __m512 zeroVector(const PackedWeight &w, int64_t p, int64_t g) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(w.zeros + (p * w.groups + g) * quant::kPanelChannels))));
}

/// `Kernel::template block<R, P>(w, rows, r0, p0, y)` computes rows [r0, r0 + R) against panels
/// [p0, p0 + P).
template <class Kernel, int RB, int PB, class Rows>
void panelRowTail(const PackedWeight &w, const Rows &rows, int64_t r0, int64_t count, int64_t p0,
                  float *y) {
  if constexpr (RB > 1) {
    if (count == RB - 1)
      return Kernel::template block<RB - 1, PB>(w, rows, r0, p0, y);
    return panelRowTail<Kernel, RB - 1, PB>(w, rows, r0, count, p0, y);
  }
}

/// All m rows against panels [p0, p1), in tiles of RB rows by PB panels while they last.
template <class Kernel, int RB, int PB, class Rows>
void forEachPanelTile(const PackedWeight &w, const Rows &rows, int64_t m, int64_t p0, int64_t p1,
                      float *y) {
  int64_t p = p0;
  for (; p + PB <= p1; p += PB) {
    int64_t r = 0;
    for (; r + RB <= m; r += RB)
      Kernel::template block<RB, PB>(w, rows, r, p, y);
    if (r < m)
      panelRowTail<Kernel, RB, PB>(w, rows, r, m - r, p, y);
  }
  if constexpr (PB > 1)
    if (p < p1)
      forEachPanelTile<Kernel, RB, 1>(w, rows, m, p, p1, y);
}

/// m rows against panels [p0, p1) in the tiles that suit the row count: decoding (1-4 rows)
/// several panels at a time, so that the chains of dot products overlap; more rows eight at a
/// time sharing each decoded vector, `ManyPB` panels wide.
template <class Kernel, int ManyPB, class Rows>
void panelTiles(const PackedWeight &w, const Rows &rows, int64_t m, int64_t p0, int64_t p1,
                float *y) {
  switch (m) {
  case 1: return forEachPanelTile<Kernel, 1, 4>(w, rows, m, p0, p1, y);
  case 2: return forEachPanelTile<Kernel, 2, 4>(w, rows, m, p0, p1, y);
  case 3: return forEachPanelTile<Kernel, 3, 2>(w, rows, m, p0, p1, y);
  case 4: return forEachPanelTile<Kernel, 4, 2>(w, rows, m, p0, p1, y);
  default: return forEachPanelTile<Kernel, 8, ManyPB>(w, rows, m, p0, p1, y);
  }
}

} // namespace qopt::rt

#endif // QOPT_RUNTIME_PANELKERNELHELPERS_H
