//===- AWQ.cpp - activation-aware weight scaling and clipping -------------===//
#include "qopt/Quant/AWQ.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <limits>

using namespace qopt::quant;

namespace {
/// sum over rows of d G d^T for d (n x k) and G (k x k), f32 products summed in f64.
double quadraticForm(const std::vector<float> &d, int64_t n, int64_t k,
                     const std::vector<float> &g) {
  std::vector<float> dg(n * k);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(k),
              static_cast<int>(k), 1.0f, d.data(), static_cast<int>(k), g.data(),
              static_cast<int>(k), 0.0f, dg.data(), static_cast<int>(k));
  double total = 0.0;
  for (size_t i = 0; i < d.size(); ++i)
    total += static_cast<double>(d[i]) * dg[i];
  return total;
}

/// ||(W - Q(W diag(s)) diag(s)^-1) X||^2 summed over the layers, from `gram` = X^T X (k x k).
double layersError(const std::vector<ScaledLayer> &layers, const std::vector<float> &gram,
                   const std::vector<double> &s) {
  double total = 0.0;
  for (const ScaledLayer &l : layers) {
    std::vector<float> scaled(l.n * l.k);
    for (int64_t r = 0; r < l.n; ++r)
      for (int64_t c = 0; c < l.k; ++c)
        scaled[r * l.k + c] = static_cast<float>(l.weight[r * l.k + c] * s[c]);
    std::vector<float> restored = roundTripWeight(scaled.data(), l.n, l.k, l.scheme);
    for (int64_t r = 0; r < l.n; ++r)
      for (int64_t c = 0; c < l.k; ++c)
        scaled[r * l.k + c] =
            static_cast<float>(l.weight[r * l.k + c] - restored[r * l.k + c] / s[c]);
    total += quadraticForm(scaled, l.n, l.k, gram);
  }
  return total;
}

/// The Gram matrix in f32, divided by its mean diagonal so that f32 sums stay well scaled.
std::vector<float> normalizedGram(const std::vector<double> &gram, int64_t k) {
  double mean = 0.0;
  for (int64_t i = 0; i < k; ++i)
    mean += gram[i * k + i];
  mean = mean > 0.0 ? mean / static_cast<double>(k) : 1.0;
  std::vector<float> g(gram.size());
  for (size_t i = 0; i < gram.size(); ++i)
    g[i] = static_cast<float>(gram[i] / mean);
  return g;
}
} // namespace

AWQScaleSearch qopt::quant::searchAWQScales(const std::vector<ScaledLayer> &layers,
                                            const std::vector<double> &gram,
                                            const std::vector<double> &meanAbs, int64_t grid) {
  int64_t k = static_cast<int64_t>(meanAbs.size());
  std::vector<float> g = normalizedGram(gram, k);
  AWQScaleSearch best;
  best.scales.assign(k, 1.0);
  best.error = std::numeric_limits<double>::infinity();
  for (int64_t step = 0; step < std::max<int64_t>(1, grid); ++step) {
    double a = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, grid));
    std::vector<double> s(k);
    double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
    for (int64_t c = 0; c < k; ++c) {
      s[c] = std::max(std::pow(meanAbs[c], a), 1e-4);
      lo = std::min(lo, s[c]);
      hi = std::max(hi, s[c]);
    }
    double norm = std::sqrt(lo * hi);
    for (double &v : s)
      v /= norm;
    double error = layersError(layers, g, s);
    if (step == 0)
      best.rtnError = error;
    if (error < best.error) {
      best.error = error;
      best.exponent = a;
      best.scales = s;
    }
  }
  return best;
}

std::vector<float> qopt::quant::searchClipRatios(const float *w, int64_t n, int64_t k,
                                                 const Scheme &scheme,
                                                 const std::vector<double> &gram, int64_t grid,
                                                 double maxShrink) {
  GridFitter fitter(scheme, w, n, k);
  int64_t groups = fitter.numGroups(), group = fitter.groupLength();
  std::vector<float> g = normalizedGram(gram, k);
  std::vector<float> ratios(n * groups, 1.0f);
  int64_t steps = std::max<int64_t>(1, static_cast<int64_t>(maxShrink * grid));
  std::vector<float> d(group), hd(group);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t gi = 0; gi < groups; ++gi) {
      int64_t begin = gi * group, count = std::min(group, k - begin);
      const float *values = w + r * k + begin;
      double bestError = std::numeric_limits<double>::infinity();
      for (int64_t step = 0; step < steps; ++step) {
        float ratio = 1.0f - static_cast<float>(step) / static_cast<float>(grid);
        GroupGrid grid_ = fitter.fit(r, gi, values, count, ratio);
        for (int64_t t = 0; t < count; ++t)
          d[t] = values[t] - decodeWeight(encodeWeight(values[t], grid_, scheme), grid_, scheme);
        double error = 0.0;
        for (int64_t i = 0; i < count; ++i) {
          const float *row = &g[(begin + i) * k + begin];
          float acc = 0.0f;
          for (int64_t j = 0; j < count; ++j)
            acc += row[j] * d[j];
          error += static_cast<double>(d[i]) * acc;
        }
        if (error < bestError) {
          bestError = error;
          ratios[r * groups + gi] = ratio;
        }
      }
    }
  return ratios;
}

void qopt::quant::clipWeight(float *w, int64_t n, int64_t k, const Scheme &scheme,
                             const std::vector<float> &ratios) {
  int64_t groups = scheme.numGroups(k), group = scheme.groupSize ? scheme.groupSize : k;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t gi = 0; gi < groups; ++gi) {
      float ratio = ratios[r * groups + gi];
      if (ratio >= 1.0f)
        continue;
      int64_t begin = gi * group, end = std::min(k, begin + group);
      float absmax = 0.0f;
      for (int64_t i = begin; i < end; ++i)
        absmax = std::max(absmax, std::fabs(w[r * k + i]));
      float limit = absmax * ratio;
      for (int64_t i = begin; i < end; ++i)
        w[r * k + i] = std::clamp(w[r * k + i], -limit, limit);
    }
}
