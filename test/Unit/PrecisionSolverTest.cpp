//===- PrecisionSolverTest.cpp - the knapsack against brute force ----------===//
#include "qopt/Quant/PrecisionCandidates.h"
#include "qopt/Quant/PrecisionSolver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <random>

using namespace qopt::quant;

namespace {
using Problem = std::vector<std::vector<LayerOption>>;

/// Calls `visit(cost, loss)` for every combination of options.
template <typename Visit> void forEachPlan(const Problem &p, Visit visit) {
  std::vector<size_t> pick(p.size(), 0);
  for (;;) {
    double cost = 0.0, loss = 0.0;
    for (size_t l = 0; l < p.size(); ++l) {
      cost += p[l][pick[l]].cost;
      loss += p[l][pick[l]].loss;
    }
    visit(cost, loss);
    size_t l = 0;
    while (l < p.size() && ++pick[l] == p[l].size())
      pick[l++] = 0;
    if (l == p.size())
      return;
  }
}

/// The least loss within `budget` (ties: least cost).
std::pair<double, double> bruteMinLoss(const Problem &p, double budget) {
  double bestLoss = std::numeric_limits<double>::infinity(), bestCost = 0.0;
  forEachPlan(p, [&](double cost, double loss) {
    if (cost <= budget && (loss < bestLoss || (loss == bestLoss && cost < bestCost))) {
      bestLoss = loss;
      bestCost = cost;
    }
  });
  return {bestLoss, bestCost};
}

/// The least cost whose loss is within `maxLoss`.
double bruteMinCost(const Problem &p, double maxLoss) {
  double bestCost = std::numeric_limits<double>::infinity();
  forEachPlan(p, [&](double cost, double loss) {
    if (loss <= maxLoss)
      bestCost = std::min(bestCost, cost);
  });
  return bestCost;
}

/// Random layers whose options, like quantization schemes, cost more and lose less; integer costs.
Problem randomProblem(std::mt19937 &rng, int layers, int options) {
  std::uniform_int_distribution<int> cost(1, 40);
  std::uniform_real_distribution<double> loss(0.0, 1.0);
  Problem p(layers);
  for (auto &layer : p)
    for (int o = 0; o < options; ++o)
      layer.push_back({double(cost(rng)), loss(rng)});
  return p;
}

double planCost(const Problem &p, const std::vector<int> &choice) {
  double c = 0.0;
  for (size_t l = 0; l < p.size(); ++l)
    c += p[l][choice[l]].cost;
  return c;
}
} // namespace

TEST(PrecisionSolver, MinLossEqualsBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    Problem p = randomProblem(rng, 1 + trial % 6, 1 + trial % 4);
    double lo = 0.0, hi = 0.0;
    for (const auto &layer : p) {
      double a = layer[0].cost, b = layer[0].cost;
      for (const auto &o : layer) {
        a = std::min(a, o.cost);
        b = std::max(b, o.cost);
      }
      lo += a;
      hi += b;
    }
    double budget = lo + std::uniform_real_distribution<double>(-2.0, hi - lo + 2.0)(rng);
    auto [bestLoss, bestCost] = bruteMinLoss(p, budget);
    SolverResult r = solveMinLoss(p, budget);
    ASSERT_EQ(r.feasible, std::isfinite(bestLoss)) << "trial " << trial;
    if (!r.feasible)
      continue;
    EXPECT_EQ(r.granularity, 1.0);
    EXPECT_NEAR(r.loss, bestLoss, 1e-12) << "trial " << trial;
    EXPECT_LE(r.cost, budget);
    EXPECT_EQ(r.cost, planCost(p, r.choice));
  }
}

TEST(PrecisionSolver, MinCostEqualsBruteForce) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    Problem p = randomProblem(rng, 1 + trial % 6, 1 + trial % 4);
    double maxLoss = std::uniform_real_distribution<double>(0.0, 3.0)(rng);
    double best = bruteMinCost(p, maxLoss);
    SolverResult r = solveMinCost(p, maxLoss);
    ASSERT_EQ(r.feasible, std::isfinite(best)) << "trial " << trial;
    if (!r.feasible)
      continue;
    EXPECT_EQ(r.cost, best) << "trial " << trial;
    EXPECT_LE(r.loss, maxLoss);
  }
}

TEST(PrecisionSolver, CoarseUnitsNeverExceedTheBudget) {
  // Costs in the millions force units far above one: the plan must still fit, and come close to
  // the optimum the brute force finds.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> cost(100000, 4000000);
  std::uniform_real_distribution<double> loss(0.0, 1.0);
  SolverOptions options;
  options.maxUnits = 64;
  for (int trial = 0; trial < 100; ++trial) {
    Problem p(5);
    for (auto &layer : p)
      for (int o = 0; o < 3; ++o)
        layer.push_back({double(cost(rng)), loss(rng)});
    double budget = 8e6;
    auto [bestLoss, bestCost] = bruteMinLoss(p, budget);
    SolverResult r = solveMinLoss(p, budget, options);
    if (!std::isfinite(bestLoss)) {
      EXPECT_FALSE(r.feasible);
      continue;
    }
    if (!r.feasible)
      continue; // rounding up may lose the last feasible plan, never gain an infeasible one
    EXPECT_GT(r.granularity, 1.0);
    EXPECT_LE(r.cost, budget);
    EXPECT_GE(r.loss, bestLoss - 1e-12);
  }
}

TEST(PrecisionSolver, ReportsWhyNoPlanFits) {
  Problem p = {{{10, 1.0}, {20, 0.5}}, {{5, 2.0}, {8, 0.1}}};
  SolverResult r = solveMinLoss(p, 14);
  EXPECT_FALSE(r.feasible);
  EXPECT_NE(r.reason.find("smallest plan costs 15"), std::string::npos) << r.reason;
  r = solveMinCost(p, 0.5);
  EXPECT_FALSE(r.feasible);
  EXPECT_NE(r.reason.find("least loss any plan reaches is 0.6"), std::string::npos) << r.reason;
  Problem bad = {{{1, std::nan("")}}};
  EXPECT_FALSE(solveMinLoss(bad, 10).feasible);
}

TEST(PrecisionSolver, UnboundedBudgetTakesEveryLayersBest) {
  Problem p = {{{10, 1.0}, {20, 0.5}}, {{5, 2.0}, {8, 0.1}}};
  for (double budget : {1e300, std::numeric_limits<double>::infinity()}) {
    SolverResult r = solveMinLoss(p, budget);
    ASSERT_TRUE(r.feasible);
    EXPECT_DOUBLE_EQ(r.loss, 0.6);
  }
}

TEST(PrecisionSolver, CurveFallsAsCostRises) {
  std::mt19937 rng(5);
  Problem p = randomProblem(rng, 8, 4);
  SolverResult r = solveMinLoss(p, 1e9);
  ASSERT_TRUE(r.feasible);
  ASSERT_GE(r.curve.size(), 2u);
  for (size_t i = 1; i < r.curve.size(); ++i) {
    EXPECT_GT(r.curve[i].first, r.curve[i - 1].first);
    EXPECT_LE(r.curve[i].second, r.curve[i - 1].second);
  }
}

TEST(PrecisionSolver, HundredsOfLayersInUnderASecond) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> loss(0.0, 1.0);
  Problem p(400);
  for (auto &layer : p)
    for (int o = 0; o < 9; ++o)
      layer.push_back({double(1000000 + o * 300000 + int(loss(rng) * 1000)), loss(rng) / (o + 1)});
  auto start = std::chrono::steady_clock::now();
  SolverResult r = solveMinLoss(p, 400 * 2000000.0);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.feasible);
  EXPECT_LE(r.cost, 400 * 2000000.0);
  // Generous for a loaded machine; the table is 400 x 65536 x 9 steps.
  EXPECT_LT(seconds, 5.0);
}

TEST(PrecisionCandidates, ParsesNamesAndPresets) {
  Scheme defaults; // int4, groups of 128, f16 scales
  std::string error;
  auto c = parseCandidate("int3g64asym", defaults, error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->scheme.bits, 3u);
  EXPECT_EQ(c->scheme.groupSize, 64);
  EXPECT_FALSE(c->scheme.symmetric);
  EXPECT_EQ(c->name, "int3g64asym");
  c = parseCandidate("int8", defaults, error);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "int8g128");
  c = parseCandidate("int8ch", defaults, error);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme.groupSize, 0);
  c = parseCandidate("nf4g64", defaults, error);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme.codebook, Codebook::NF4);
  EXPECT_TRUE(parseCandidate("f32", defaults, error)->keepFloat);
  for (const char *bad : {"int9", "int", "nf4asym", "int4g0", "int4gx", "f16", "int4g128z", ""})
    EXPECT_FALSE(parseCandidate(bad, defaults, error)) << bad;
  auto list = parseCandidates("default, int4g128, f32", defaults, error);
  ASSERT_TRUE(list) << error;
  EXPECT_EQ(list->front().name, "int2g64");
  EXPECT_EQ(list->back().name, "f32");
  EXPECT_EQ(std::count_if(list->begin(), list->end(),
                          [](const PrecisionCandidate &p) { return p.name == "int4g128"; }),
            1);
  EXPECT_FALSE(parseCandidates(" , ", defaults, error));
}

TEST(PrecisionCandidates, BytesMatchTheQuantizedForm) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  const int64_t n = 24, k = 200;
  std::vector<float> w(n * k);
  for (float &v : w)
    v = normal(rng);
  Scheme defaults;
  std::string error;
  for (const char *spec : {"int2g64", "int3g128asym", "int4ch", "int8g32", "nf4g64", "fp8"}) {
    auto c = parseCandidate(spec, defaults, error);
    ASSERT_TRUE(c) << error;
    QuantizedWeight q = quantizeWeight(w.data(), n, k, c->scheme);
    int64_t stored = q.codes.size() + 2 * q.scaleBits.size() + q.zeroPoints.size();
    EXPECT_EQ(c->bytes(n, k), stored) << spec;
  }
  Scheme dq = defaults;
  dq.doubleQuantBlock = 16;
  auto c = parseCandidate("nf4g32", dq, error);
  ASSERT_TRUE(c);
  QuantizedWeight q = quantizeWeight(w.data(), n, k, c->scheme);
  EXPECT_EQ(c->bytes(n, k),
            int64_t(q.codes.size() + q.scaleCodes.size() + 4 * q.scaleScales.size()));
}
