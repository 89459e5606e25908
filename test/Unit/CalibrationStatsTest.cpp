//===- CalibrationStatsTest.cpp - statistics, saved and loaded ------------===//
#include "qopt/Quant/CalibrationStats.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>

using namespace qopt::quant;

namespace {
std::string tempPath(const char *name) {
  return ::testing::TempDir() + "/" + name;
}
} // namespace

TEST(CalibrationStats, AccumulatesMomentsOverParts) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  int64_t k = 5, rows = 9000; // more rows than one f32 part
  std::vector<float> x(rows * k);
  for (float &v : x)
    v = normal(rng);
  ActivationStats s(k);
  s.addRows(x.data(), 5000);
  s.addRows(x.data() + 5000 * k, rows - 5000);
  s.flush();
  EXPECT_EQ(s.rows, rows);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double want = 0.0;
      for (int64_t r = 0; r < rows; ++r)
        want += static_cast<double>(x[r * k + i]) * x[r * k + j];
      EXPECT_NEAR(s.gram[i * k + j], want, 1e-4 * std::fabs(want) + 1e-2);
    }
  float lo = x[0], hi = x[0];
  std::vector<double> mean(k, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c) {
      lo = std::min(lo, x[r * k + c]);
      hi = std::max(hi, x[r * k + c]);
      mean[c] += std::fabs(x[r * k + c]) / rows;
    }
  EXPECT_EQ(s.min, lo);
  EXPECT_EQ(s.max, hi);
  for (int64_t c = 0; c < k; ++c)
    EXPECT_NEAR(s.meanAbs()[c], mean[c], 1e-8 * mean[c]);
}

TEST(CalibrationStats, SavesAndLoads) {
  CalibrationStats s;
  s.stamp = {"abc123", "train.txt", 4, 16};
  s.tensors.emplace_back(3);
  std::vector<float> rows{1, 2, 3, -4, 5, -6};
  s.tensors[0].addRows(rows.data(), 2);
  s.tensors[0].flush();
  s.layerInput["layers.0.q"] = 0;
  s.layerInput["layers.0.k"] = 0;
  std::string path = tempPath("stats.qcal"), error;
  ASSERT_TRUE(s.save(path, error)) << error;
  CalibrationStats t;
  ASSERT_TRUE(t.load(path, error)) << error;
  EXPECT_EQ(t.stamp.modelDigest, "abc123");
  EXPECT_EQ(t.stamp.dataFile, "train.txt");
  EXPECT_EQ(t.stamp.samples, 4);
  ASSERT_EQ(t.tensors.size(), 1u);
  EXPECT_EQ(t.tensors[0].gram, s.tensors[0].gram);
  EXPECT_EQ(t.tensors[0].absMax, s.tensors[0].absMax);
  EXPECT_EQ(t.forLayer("layers.0.k"), &t.tensors[0]);
  EXPECT_EQ(t.forLayer("layers.1.k"), nullptr);
}

TEST(CalibrationStats, RejectsCorruptFiles) {
  CalibrationStats s;
  s.tensors.emplace_back(4);
  s.layerInput["fc"] = 0;
  std::string path = tempPath("good.qcal"), error;
  ASSERT_TRUE(s.save(path, error));
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto loadBytes = [&](const std::string &content) {
    std::string bad = tempPath("bad.qcal");
    std::ofstream(bad, std::ios::binary) << content;
    CalibrationStats t;
    std::string message;
    bool ok = t.load(bad, message);
    return ok ? std::string() : message;
  };
  EXPECT_NE(loadBytes(""), "");
  EXPECT_NE(loadBytes("not a calibration file"), "");
  for (size_t cut : {9ul, 40ul, bytes.size() - 3})
    EXPECT_NE(loadBytes(bytes.substr(0, cut)), "") << "cut at " << cut;
  EXPECT_NE(loadBytes(bytes + "extra"), "");
  // A huge channel count is refused before anything is allocated.
  std::string huge = bytes;
  size_t channelsAt = 8 + 8 * 2 + 8 * 2 + 8; // after magic, 2 strings (empty), 2 ints, count
  int64_t big = int64_t(1) << 40;
  huge.replace(channelsAt, 8, reinterpret_cast<const char *>(&big), 8);
  EXPECT_NE(loadBytes(huge), "");
  CalibrationStats missing;
  EXPECT_FALSE(missing.load(tempPath("does-not-exist.qcal"), error));
}
