//===- PrecisionCandidates.h - the schemes a layer may take -----*- C++ -*-===//
//
// A candidate is a weight scheme named compactly: `int4g128` (4-bit integers, groups of 128),
// `int8ch` (one scale per output channel), `int3g64asym` (with zero points), `nf4g64`, `fp4`,
// `fp8`, or `f32` (the layer stays unquantized). Widths and groups left out come from the
// defaults (the --group-size flag). Presets name common sets.
//
#ifndef QOPT_QUANT_PRECISIONCANDIDATES_H
#define QOPT_QUANT_PRECISIONCANDIDATES_H

#include "qopt/Quant/WeightQuantizer.h"

#include <optional>
#include <string>
#include <vector>

namespace qopt::quant {

struct PrecisionCandidate {
  std::string name;
  /// The layer keeps its f32 weight.
  bool keepFloat = false;
  Scheme scheme;

  /// Bytes of an [n, k] weight stored in this candidate (codes, scales, zero points, the
  /// second-level scales of double quantization; f32 for keepFloat).
  int64_t bytes(int64_t n, int64_t k) const;
  /// The same constants as a weights file lays them out, each starting at a multiple of
  /// `alignment` bytes.
  int64_t fileBytes(int64_t n, int64_t k, int64_t alignment = 64) const;
};

/// `bytes` rounded up to a multiple of `alignment`.
inline int64_t alignBytes(int64_t bytes, int64_t alignment = 64) {
  return (bytes + alignment - 1) / alignment * alignment;
}

/// The scheme of a spec, with `defaults` supplying the group size, scale type and double
/// quantization left unsaid; nothing, with `error` set, for a spec that names no valid scheme.
std::optional<PrecisionCandidate> parseCandidate(const std::string &spec, const Scheme &defaults,
                                                 std::string &error);
/// A comma-separated list of specs and presets (`default`, `int`, `fast`, `wide`). Duplicates are
/// dropped; the order is kept.
std::optional<std::vector<PrecisionCandidate>>
parseCandidates(const std::string &list, const Scheme &defaults, std::string &error);
/// The canonical name of a scheme (as parseCandidate reads it back).
std::string candidateName(const Scheme &scheme, bool keepFloat = false);

} // namespace qopt::quant

#endif // QOPT_QUANT_PRECISIONCANDIDATES_H
