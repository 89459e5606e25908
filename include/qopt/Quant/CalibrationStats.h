//===- CalibrationStats.h - what calibration records per layer input -*- C++ -*-===//
//
// Calibration runs the model on sample inputs and records, for the input of every linear layer
// to be quantized, what the data-aware algorithms need: the second moments X^T X (GPTQ's
// Hessian, AWQ's and the clipping search's output error), per-channel mean and largest
// magnitudes (AWQ, SmoothQuant) and the range (activation quantization). Layers that read the
// same tensor (q, k and v projections) share one record. Saved and loaded as a small binary file
// stamped with what made it.
//
#ifndef QOPT_QUANT_CALIBRATIONSTATS_H
#define QOPT_QUANT_CALIBRATIONSTATS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qopt::quant {

/// Statistics of one activation tensor, seen as rows of `channels` values.
struct ActivationStats {
  int64_t channels = 0;
  int64_t rows = 0;
  std::vector<double> gram;    ///< channels x channels: sum over rows of x x^T
  std::vector<double> absSum;  ///< per channel: sum of |x|
  std::vector<float> absMax;   ///< per channel: largest |x|
  float min = 0.0f, max = 0.0f;
  /// Counts of |x| in kHistogramBins bins of `histogramWidth` from 0 (static activation
  /// calibrators). The width doubles, pairs of bins merging, whenever a value falls past the end.
  std::vector<double> histogram;
  float histogramWidth = 0.0f;
  /// Per-channel factors were divided out after measuring (smoothing, AWQ): the histogram, over
  /// all channels at once, no longer describes the tensor.
  bool histogramStale = false;
  static constexpr int64_t kHistogramBins = 2048;

private:
  void addToHistogram(const float *x, int64_t count);
  /// Up to kFlushRows rows summed in f32 (one triangle) before they join `gram`.
  std::vector<float> pending;
  int64_t pendingRows = 0;

public:

  explicit ActivationStats(int64_t channels = 0);
  /// Adds `count` rows (row-major, `channels` values each). The Gram matrix is complete only
  /// after flush().
  void addRows(const float *x, int64_t count);
  /// Moves what addRows summed in f32 into the f64 Gram matrix.
  void flush();
  /// The statistics of x / s for per-channel factors `s` (after smoothing or AWQ scaling).
  void divideChannels(const std::vector<double> &s);
  std::vector<double> meanAbs() const;
};

/// What made a set of statistics; loading checks it against the present compilation.
struct CalibrationStamp {
  std::string modelDigest; ///< SHA-256 of the model file, hex
  std::string dataFile;    ///< the calibration data's file name (no directory)
  int64_t samples = 0, sequenceLength = 0;
};

struct CalibrationStats {
  CalibrationStamp stamp;
  std::vector<ActivationStats> tensors;
  /// Layer name -> index into `tensors` of its input's statistics.
  std::map<std::string, int64_t> layerInput;

  const ActivationStats *forLayer(const std::string &name) const;
  ActivationStats *forLayer(const std::string &name);

  /// Writes the statistics; false with `error` set on failure.
  bool save(const std::string &path, std::string &error) const;
  /// Reads statistics written by save; false with `error` naming what is wrong.
  bool load(const std::string &path, std::string &error);
};

} // namespace qopt::quant

#endif // QOPT_QUANT_CALIBRATIONSTATS_H
