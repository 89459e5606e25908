//===- PrecisionSolver.h - one option per layer under a budget ---*- C++ -*-===//
//
// Mixed precision as a multiple-choice knapsack: every layer picks one of its options, each with a
// cost (bytes, or microseconds) and an estimated loss; the plan minimizes the summed loss under a
// cost budget, or the summed cost under a loss budget. Solved exactly by dynamic programming over
// costs counted in whole units of `granularity`, each option's cost rounded up to a unit, so a plan
// never exceeds its budget; with costs that are multiples of the unit (small integer costs, as in
// the tests) the result is the true optimum. Plain C++, deterministic.
//
#ifndef QOPT_QUANT_PRECISIONSOLVER_H
#define QOPT_QUANT_PRECISIONSOLVER_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qopt::quant {

struct LayerOption {
  double cost = 0.0;
  double loss = 0.0;
};

struct SolverOptions {
  /// Cost units of the table: the budget (or the cost range) is split into at most this many.
  int64_t maxUnits = 1 << 16;
  /// The smallest unit; costs known to be integers (bytes) use 1.
  double minGranularity = 1.0;
  /// Points of the loss-against-cost curve to return (0: none).
  int64_t curvePoints = 48;
};

struct SolverResult {
  bool feasible = false;
  /// Why no plan meets the budget (when not feasible).
  std::string reason;
  /// Per layer, the index of the chosen option.
  std::vector<int> choice;
  double cost = 0.0, loss = 0.0;
  /// The unit costs were counted in.
  double granularity = 1.0;
  /// The smallest summed loss reachable at each cost, increasing cost: (cost, loss).
  std::vector<std::pair<double, double>> curve;
};

/// The plan of least summed loss whose summed cost is at most `budget`.
SolverResult solveMinLoss(const std::vector<std::vector<LayerOption>> &layers, double budget,
                          const SolverOptions &options = {});
/// The plan of least summed cost whose summed loss is at most `maxLoss` (ties: least loss).
SolverResult solveMinCost(const std::vector<std::vector<LayerOption>> &layers, double maxLoss,
                          const SolverOptions &options = {});

} // namespace qopt::quant

#endif // QOPT_QUANT_PRECISIONSOLVER_H
