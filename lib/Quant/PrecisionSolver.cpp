//===- PrecisionSolver.cpp - one option per layer under a budget -----------===//
#include "qopt/Quant/PrecisionSolver.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

using namespace qopt::quant;

namespace {
constexpr double kInfinity = std::numeric_limits<double>::infinity();

std::string formatNumber(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

/// The dynamic programme over the whole range of costs: best[u] is the least summed loss of a
/// plan whose summed cost, in units above every layer's cheapest option, is at most u.
struct CostTable {
  double granularity = 1.0;
  double baseCost = 0.0; // the summed cheapest options
  int64_t units = 0;
  std::vector<std::vector<int64_t>> optionUnits; // per layer and option
  std::vector<double> best;
  /// choices[l][u]: the option layer l takes in the best plan of layers 0..l within u units.
  std::vector<std::vector<uint8_t>> choices;

  CostTable(const std::vector<std::vector<LayerOption>> &layers, const SolverOptions &options) {
    double range = 0.0;
    std::vector<double> cheapest;
    for (const auto &layer : layers) {
      double lo = kInfinity, hi = -kInfinity;
      for (const LayerOption &o : layer) {
        lo = std::min(lo, o.cost);
        hi = std::max(hi, o.cost);
      }
      cheapest.push_back(lo);
      baseCost += lo;
      range += hi - lo;
    }
    granularity = std::max(options.minGranularity, range / double(std::max<int64_t>(1, options.maxUnits)));
    for (size_t l = 0; l < layers.size(); ++l) {
      std::vector<int64_t> us;
      int64_t widest = 0;
      for (const LayerOption &o : layers[l]) {
        // Rounded up, so that a plan's true cost never exceeds what the table counts.
        double exact = (o.cost - cheapest[l]) / granularity;
        int64_t u = static_cast<int64_t>(std::ceil(exact - 1e-9 * std::max(1.0, exact)));
        us.push_back(std::max<int64_t>(0, u));
        widest = std::max(widest, us.back());
      }
      units += widest;
      optionUnits.push_back(std::move(us));
    }
    best.assign(units + 1, 0.0);
    std::vector<double> next(units + 1);
    for (size_t l = 0; l < layers.size(); ++l) {
      std::vector<uint8_t> choice(units + 1, 0);
      for (int64_t u = 0; u <= units; ++u) {
        double least = kInfinity;
        for (size_t o = 0; o < layers[l].size(); ++o) {
          int64_t cu = optionUnits[l][o];
          if (cu > u)
            continue;
          double loss = best[u - cu] + layers[l][o].loss;
          if (loss < least) {
            least = loss;
            choice[u] = static_cast<uint8_t>(o);
          }
        }
        next[u] = least;
      }
      best.swap(next);
      choices.push_back(std::move(choice));
    }
  }

  /// The best plan within `u` units.
  std::vector<int> planAt(int64_t u) const {
    std::vector<int> plan(choices.size());
    for (size_t l = choices.size(); l-- > 0;) {
      plan[l] = choices[l][u];
      u -= optionUnits[l][plan[l]];
    }
    return plan;
  }
};

void totals(const std::vector<std::vector<LayerOption>> &layers, const std::vector<int> &plan,
            double &cost, double &loss) {
  cost = loss = 0.0;
  for (size_t l = 0; l < layers.size(); ++l) {
    cost += layers[l][plan[l]].cost;
    loss += layers[l][plan[l]].loss;
  }
}

std::string checkInput(const std::vector<std::vector<LayerOption>> &layers) {
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].empty())
      return "layer " + std::to_string(l) + " has no option";
    if (layers[l].size() > 255)
      return "layer " + std::to_string(l) + " has more than 255 options";
    for (const LayerOption &o : layers[l])
      if (!std::isfinite(o.cost) || !std::isfinite(o.loss) || o.cost < 0.0)
        return "layer " + std::to_string(l) + " has an option with a cost or loss that is not a "
               "finite number (or a negative cost)";
  }
  return "";
}

void fillCurve(const std::vector<std::vector<LayerOption>> &layers, const CostTable &table,
               const SolverOptions &options, SolverResult &result) {
  if (options.curvePoints <= 0)
    return;
  int64_t points = std::min<int64_t>(options.curvePoints, table.units + 1);
  for (int64_t i = 0; i < points; ++i) {
    int64_t u = points > 1 ? i * table.units / (points - 1) : table.units;
    double cost, loss;
    totals(layers, table.planAt(u), cost, loss);
    if (result.curve.empty() || cost > result.curve.back().first)
      result.curve.emplace_back(cost, loss);
  }
}

/// Applies, one at a time, the single-layer change that improves the plan most while it stays
/// within its limit: lowering the loss within a cost budget (`lowerLoss`), or the cost within a
/// loss budget. Rounding costs up to whole units leaves such changes to the table.
void improveGreedily(const std::vector<std::vector<LayerOption>> &layers, bool lowerLoss,
                     double limit, SolverResult &result) {
  for (;;) {
    double bestGain = 0.0;
    size_t bestLayer = 0;
    int bestOption = -1;
    for (size_t l = 0; l < layers.size(); ++l) {
      const LayerOption &now = layers[l][result.choice[l]];
      for (size_t o = 0; o < layers[l].size(); ++o) {
        const LayerOption &other = layers[l][o];
        double gain = lowerLoss ? now.loss - other.loss : now.cost - other.cost;
        bool fits = lowerLoss ? result.cost + (other.cost - now.cost) <= limit
                              : result.loss + (other.loss - now.loss) <= limit;
        if (gain > bestGain && fits) {
          bestGain = gain;
          bestLayer = l;
          bestOption = static_cast<int>(o);
        }
      }
    }
    if (bestOption < 0)
      return;
    result.choice[bestLayer] = bestOption;
    totals(layers, result.choice, result.cost, result.loss);
  }
}

/// The table of `layers` and the curve it gives, or nothing (with `result.reason`) for a problem
/// the solver cannot take.
std::optional<CostTable> tabulate(const std::vector<std::vector<LayerOption>> &layers,
                                  const SolverOptions &options, SolverResult &result) {
  if (result.reason = checkInput(layers); !result.reason.empty())
    return std::nullopt;
  CostTable table(layers, options);
  result.granularity = table.granularity;
  fillCurve(layers, table, options, result);
  return table;
}
} // namespace

SolverResult qopt::quant::solveMinLoss(const std::vector<std::vector<LayerOption>> &layers,
                                       double budget, const SolverOptions &options) {
  SolverResult result;
  std::optional<CostTable> filled = tabulate(layers, options, result);
  if (!filled)
    return result;
  const CostTable &table = *filled;
  if (budget < table.baseCost) {
    result.reason = "the smallest plan costs " + formatNumber(table.baseCost) +
                    ", more than the budget of " + formatNumber(budget);
    return result;
  }
  // A budget past every plan's cost admits the whole table (and would overflow as units).
  double within = std::floor((budget - table.baseCost) / table.granularity);
  int64_t u = within >= double(table.units) ? table.units : static_cast<int64_t>(within);
  result.choice = table.planAt(u);
  totals(layers, result.choice, result.cost, result.loss);
  improveGreedily(layers, /*lowerLoss=*/true, budget, result);
  result.feasible = true;
  return result;
}

SolverResult qopt::quant::solveMinCost(const std::vector<std::vector<LayerOption>> &layers,
                                       double maxLoss, const SolverOptions &options) {
  SolverResult result;
  std::optional<CostTable> filled = tabulate(layers, options, result);
  if (!filled)
    return result;
  const CostTable &table = *filled;
  int64_t u = 0;
  while (u <= table.units && !(table.best[u] <= maxLoss))
    ++u;
  if (u > table.units) {
    result.reason = "the least loss any plan reaches is " + formatNumber(table.best[table.units]) +
                    ", more than the budget of " + formatNumber(maxLoss);
    return result;
  }
  result.choice = table.planAt(u);
  totals(layers, result.choice, result.cost, result.loss);
  improveGreedily(layers, /*lowerLoss=*/false, maxLoss, result);
  result.feasible = true;
  return result;
}
