//===- CalibrationStats.cpp - what calibration records per layer input ----===//
#include "qopt/Quant/CalibrationStats.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

using namespace qopt::quant;

ActivationStats::ActivationStats(int64_t channels)
    : channels(channels), gram(channels * channels, 0.0), absSum(channels, 0.0),
      absMax(channels, 0.0f) {}

namespace {
/// Rows summed in f32 before they move to f64: few enough that the f32 sums keep their digits.
constexpr int64_t kFlushRows = 4096;
} // namespace

void ActivationStats::addRows(const float *x, int64_t count) {
  if (count <= 0 || channels <= 0)
    return;
  if (pending.empty())
    pending.assign(channels * channels, 0.0f);
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(channels),
              static_cast<int>(count), 1.0f, x, static_cast<int>(channels), 1.0f, pending.data(),
              static_cast<int>(channels));
  pendingRows += count;
  if (pendingRows >= kFlushRows)
    flush();
  if (rows == 0) {
    min = max = x[0];
  }
  addToHistogram(x, count * channels);
  for (int64_t r = 0; r < count; ++r) {
    const float *row = x + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      float v = row[c], a = std::fabs(v);
      absSum[c] += a;
      absMax[c] = std::max(absMax[c], a);
      min = std::min(min, v);
      max = std::max(max, v);
    }
  }
  rows += count;
}

void ActivationStats::addToHistogram(const float *x, int64_t count) {
  float largest = 0.0f;
  for (int64_t i = 0; i < count; ++i)
    largest = std::max(largest, std::fabs(x[i]));
  if (histogram.empty()) {
    histogram.assign(kHistogramBins, 0.0);
    histogramWidth = largest > 0.0f ? largest / static_cast<float>(kHistogramBins) : 1e-8f;
  }
  while (largest >= histogramWidth * static_cast<float>(kHistogramBins)) {
    for (int64_t b = 0; b < kHistogramBins / 2; ++b)
      histogram[b] = histogram[2 * b] + histogram[2 * b + 1];
    std::fill(histogram.begin() + kHistogramBins / 2, histogram.end(), 0.0);
    histogramWidth *= 2.0f;
  }
  float inverse = 1.0f / histogramWidth;
  for (int64_t i = 0; i < count; ++i) {
    int64_t bin = static_cast<int64_t>(std::fabs(x[i]) * inverse);
    histogram[std::min(bin, kHistogramBins - 1)] += 1.0;
  }
}

void ActivationStats::flush() {
  if (pendingRows == 0)
    return;
  for (int64_t i = 0; i < channels; ++i)
    for (int64_t j = i; j < channels; ++j) {
      double v = pending[i * channels + j];
      gram[i * channels + j] += v;
      if (j != i)
        gram[j * channels + i] += v;
    }
  std::fill(pending.begin(), pending.end(), 0.0f);
  pendingRows = 0;
}

void ActivationStats::divideChannels(const std::vector<double> &s) {
  for (int64_t i = 0; i < channels; ++i)
    for (int64_t j = 0; j < channels; ++j)
      gram[i * channels + j] /= s[i] * s[j];
  float largest = 0.0f;
  for (int64_t c = 0; c < channels; ++c) {
    absSum[c] /= s[c];
    absMax[c] = static_cast<float>(absMax[c] / s[c]);
    largest = std::max(largest, absMax[c]);
  }
  histogramStale = true;
  // Per-channel signs are not kept: the range after scaling is bounded by the magnitudes.
  if (channels > 0) {
    min = -largest;
    max = largest;
  }
}

std::vector<double> ActivationStats::meanAbs() const {
  std::vector<double> mean(channels, 0.0);
  for (int64_t c = 0; c < channels; ++c)
    mean[c] = rows ? absSum[c] / static_cast<double>(rows) : 0.0;
  return mean;
}

const ActivationStats *CalibrationStats::forLayer(const std::string &name) const {
  auto it = layerInput.find(name);
  return it == layerInput.end() ? nullptr : &tensors[it->second];
}

ActivationStats *CalibrationStats::forLayer(const std::string &name) {
  auto it = layerInput.find(name);
  return it == layerInput.end() ? nullptr : &tensors[it->second];
}

namespace {
constexpr char kMagic[8] = {'Q', 'O', 'P', 'T', 'C', 'A', 'L', '3'};
/// Bounds that no real layer reaches and that keep a hostile file from asking for huge buffers.
constexpr int64_t kMaxChannels = 1 << 16, kMaxTensors = 1 << 16, kMaxString = 1 << 16;

struct Writer {
  std::ofstream out;
  void i64(int64_t v) { out.write(reinterpret_cast<const char *>(&v), 8); }
  void f32(float v) { out.write(reinterpret_cast<const char *>(&v), 4); }
  void str(const std::string &s) {
    i64(static_cast<int64_t>(s.size()));
    out.write(s.data(), static_cast<std::streamsize>(s.size()));
  }
  template <typename T> void array(const std::vector<T> &v) {
    out.write(reinterpret_cast<const char *>(v.data()),
              static_cast<std::streamsize>(v.size() * sizeof(T)));
  }
};

struct Reader {
  const std::vector<char> &bytes;
  size_t at = 0;
  bool ok = true;
  bool take(void *dst, size_t n) {
    if (!ok || n > bytes.size() - at)
      return ok = false;
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
    return true;
  }
  int64_t i64() {
    int64_t v = 0;
    take(&v, 8);
    return v;
  }
  float f32() {
    float v = 0;
    take(&v, 4);
    return v;
  }
  std::string str() {
    int64_t n = i64();
    if (n < 0 || n > kMaxString) {
      ok = false;
      return "";
    }
    std::string s(static_cast<size_t>(n), '\0');
    take(s.data(), s.size());
    return s;
  }
  template <typename T> void array(std::vector<T> &v, int64_t count) {
    if (!ok || count < 0 || static_cast<size_t>(count) * sizeof(T) > bytes.size() - at) {
      ok = false;
      return;
    }
    v.resize(static_cast<size_t>(count));
    take(v.data(), v.size() * sizeof(T));
  }
};
} // namespace

bool CalibrationStats::save(const std::string &path, std::string &error) const {
  Writer w;
  w.out.open(path, std::ios::binary | std::ios::trunc);
  if (!w.out) {
    error = "cannot write " + path;
    return false;
  }
  w.out.write(kMagic, 8);
  w.str(stamp.modelDigest);
  w.str(stamp.dataFile);
  w.i64(stamp.samples);
  w.i64(stamp.sequenceLength);
  w.i64(static_cast<int64_t>(tensors.size()));
  for (const ActivationStats &t : tensors) {
    w.i64(t.channels);
    w.i64(t.rows);
    w.f32(t.min);
    w.f32(t.max);
    w.array(t.gram);
    w.array(t.absSum);
    w.array(t.absMax);
    w.f32(t.histogramWidth);
    w.i64(t.histogramStale ? 1 : 0);
    w.i64(static_cast<int64_t>(t.histogram.size()));
    w.array(t.histogram);
  }
  w.i64(static_cast<int64_t>(layerInput.size()));
  for (const auto &[name, index] : layerInput) {
    w.str(name);
    w.i64(index);
  }
  w.out.flush();
  if (!w.out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

bool CalibrationStats::load(const std::string &path, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    error = path + " is not a qopt calibration file";
    return false;
  }
  Reader r{bytes, 8};
  CalibrationStats s;
  s.stamp.modelDigest = r.str();
  s.stamp.dataFile = r.str();
  s.stamp.samples = r.i64();
  s.stamp.sequenceLength = r.i64();
  int64_t count = r.i64();
  if (!r.ok || count < 0 || count > kMaxTensors) {
    error = path + " is truncated or corrupt (header)";
    return false;
  }
  for (int64_t i = 0; i < count && r.ok; ++i) {
    ActivationStats t;
    t.channels = r.i64();
    t.rows = r.i64();
    if (t.channels <= 0 || t.channels > kMaxChannels || t.rows < 0) {
      r.ok = false;
      break;
    }
    t.min = r.f32();
    t.max = r.f32();
    r.array(t.gram, t.channels * t.channels);
    r.array(t.absSum, t.channels);
    r.array(t.absMax, t.channels);
    t.histogramWidth = r.f32();
    t.histogramStale = r.i64() != 0;
    int64_t bins = r.i64();
    if (bins != 0 && bins != ActivationStats::kHistogramBins) {
      r.ok = false;
      break;
    }
    r.array(t.histogram, bins);
    s.tensors.push_back(std::move(t));
  }
  int64_t layers = r.i64();
  if (!r.ok || layers < 0 || layers > kMaxTensors * 16) {
    error = path + " is truncated or corrupt (statistics)";
    return false;
  }
  for (int64_t i = 0; i < layers && r.ok; ++i) {
    std::string name = r.str();
    int64_t index = r.i64();
    if (index < 0 || index >= count) {
      r.ok = false;
      break;
    }
    s.layerInput[name] = index;
  }
  if (!r.ok || r.at != bytes.size()) {
    error = path + " is truncated or corrupt (layers)";
    return false;
  }
  *this = std::move(s);
  return true;
}
