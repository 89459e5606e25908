//===- Outliers.cpp - weights kept in f16 beside the packed codes ---------===//
#include "qopt/Quant/Outliers.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace qopt::quant;

SparseOutliers qopt::quant::makeOutliers(int64_t n,
                                         std::vector<std::tuple<int64_t, int64_t, float>> entries) {
  std::sort(entries.begin(), entries.end(), [](const auto &a, const auto &b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  SparseOutliers s;
  s.rowOffsets.assign(n + 1, 0);
  for (const auto &[row, column, value] : entries) {
    s.rowOffsets[row + 1] += 1;
    s.columns.push_back(static_cast<int32_t>(column));
    s.values.push_back(floatToHalf(value));
  }
  for (int64_t r = 0; r < n; ++r)
    s.rowOffsets[r + 1] += s.rowOffsets[r];
  return s;
}

unsigned qopt::quant::zeroCode(const Scheme &scheme, const GroupGrid &grid) {
  if (scheme.codebook == Codebook::Int)
    return scheme.symmetric ? 1u << (scheme.bits - 1) : static_cast<unsigned>(grid.zero);
  for (unsigned c = 0; c < (1u << scheme.bits); ++c)
    if (codeValue(scheme, c) == 0.0f)
      return c;
  return 0;
}

SparseOutliers qopt::quant::extractOutliers(const float *w, QuantizedWeight &q,
                                            const Scheme &scheme, const double *hessianDiagonal,
                                            double fraction) {
  int64_t n = q.n, k = q.k, total = n * k;
  int64_t count = std::min<int64_t>(total, std::llround(fraction * static_cast<double>(total)));
  if (count <= 0)
    return makeOutliers(n, {});
  std::vector<float> restored = dequantizeWeight(q, scheme);
  std::vector<double> cost(total);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      double d = static_cast<double>(w[r * k + c]) - restored[r * k + c];
      cost[r * k + c] = d * d * (hessianDiagonal ? hessianDiagonal[c] : 1.0);
    }
  std::vector<int64_t> order(total);
  std::iota(order.begin(), order.end(), 0);
  std::nth_element(order.begin(), order.begin() + (count - 1), order.end(),
                   [&](int64_t a, int64_t b) { return cost[a] > cost[b]; });
  int64_t group = scheme.groupSize ? scheme.groupSize : k;
  int64_t rowBytes = scheme.rowBytes(k);
  std::vector<std::tuple<int64_t, int64_t, float>> entries;
  for (int64_t j = 0; j < count; ++j) {
    int64_t r = order[j] / k, c = order[j] % k, g = c / group;
    GroupGrid grid;
    grid.scale = q.scales[r * q.groups + g];
    grid.zero = scheme.symmetric ? 0.0f : static_cast<float>(q.zeroPoints[r * q.groups + g]);
    writeCode(q.codes.data() + r * rowBytes, c, scheme.bits, zeroCode(scheme, grid));
    entries.emplace_back(r, c, w[r * k + c]);
  }
  return makeOutliers(n, std::move(entries));
}
