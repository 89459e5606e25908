//===- AllocatePrecision.cpp - each layer's scheme under a budget ----------===//
//
// The layers and their candidates become a multiple-choice knapsack (qopt/Quant/PrecisionSolver.h):
// costs are bytes (target-bits, target-size, max-loss) or microseconds (target-latency), losses
// the sensitivities the driver attached. What is not decided here (other constants, pinned
// layers, the rest of a decode step) is a fixed cost added to the plan's.
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/PrecisionCandidates.h"
#include "qopt/Quant/PrecisionSolver.h"

#include "llvm/ADT/DenseSet.h"

#include <cmath>
#include <cstdio>

namespace qopt::QOpt {
#define GEN_PASS_DEF_ALLOCATEPRECISIONPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
/// The weights file's header, as its first constant's aligned start leaves it.
constexpr int64_t kWeightsFileHeader = 64;

std::string fixed3(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f", v);
  return buffer;
}

std::string shortest(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

enum class Budget { Bits, Size, Loss, Latency };

struct DecidedLayer {
  WeightLayer layer;
  std::string name;
  std::vector<quant::LayerOption> options; // one per candidate
  std::vector<int64_t> bytes;     // the data
  std::vector<int64_t> fileBytes; // as the weights file lays them out
  std::vector<double> latency; // microseconds, empty without
};

struct AllocatePrecisionPass
    : public qopt::QOpt::impl::AllocatePrecisionPassBase<AllocatePrecisionPass> {
  using Base::Base;
  AllocatePrecisionPass(const AllocatePrecisionPassOptions &options, PrecisionPlanReport *report)
      : Base(options), report(report) {}

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Budget> budget = chooseBudget(module);
    if (failed(budget))
      return signalPassFailure();

    std::vector<WeightLayer> free, pinned;
    module.walk([&](Operation *op) {
      if (auto layer = matchWeightLayer(op); layer && op->hasAttr("qopt.scheme"))
        (isDecidedLayer(op) ? free : pinned).push_back(*layer);
    });
    if (free.empty()) {
      module.emitError() << "mixed precision: no layer is left to decide (every layer with a "
                            "scheme is pinned by a rule)";
      return signalPassFailure();
    }

    // Candidates take what they leave unsaid from the layers' present scheme.
    std::string error;
    auto parsed = candidatesFor(free.front(), candidates, error);
    if (!parsed) {
      module.emitError() << "mixed precision: " << error;
      return signalPassFailure();
    }
    std::vector<quant::PrecisionCandidate> cands = std::move(*parsed);

    std::vector<DecidedLayer> decided;
    for (const WeightLayer &l : free) {
      FailureOr<DecidedLayer> d = describe(l, cands, *budget == Budget::Latency);
      if (failed(d))
        return signalPassFailure();
      decided.push_back(std::move(*d));
    }

    // What the plan does not decide.
    llvm::DenseSet<Operation *> decidedWeights;
    int64_t decidedWeightCount = 0;
    for (const DecidedLayer &d : decided) {
      decidedWeights.insert(d.layer.weight);
      decidedWeightCount += d.layer.n * d.layer.k;
    }
    // Pinned layers' data (for bits per weight) and every constant the plan does not decide as
    // the weights file will hold it (for sizes).
    int64_t pinnedData = 0, pinnedWeights = 0, fixedBytes = kWeightsFileHeader;
    for (const WeightLayer &l : pinned) {
      quant::PrecisionCandidate c;
      c.scheme = toQuantScheme(cast<SchemeAttr>(l.op->getAttr("qopt.scheme")));
      pinnedData += c.bytes(l.n, l.k);
      fixedBytes += c.fileBytes(l.n, l.k);
      pinnedWeights += l.n * l.k;
      decidedWeights.insert(l.weight);
    }
    module.walk([&](arith::ConstantOp cst) {
      auto type = dyn_cast<RankedTensorType>(cst.getType());
      if (!type || !type.hasStaticShape() || decidedWeights.contains(cst))
        return;
      fixedBytes += quant::alignBytes(type.getNumElements() *
                                      std::max<int64_t>(1, type.getElementTypeBitWidth() / 8));
    });

    // Costs and the budget in the solver's terms.
    std::vector<std::vector<quant::LayerOption>> problem;
    double fixedLatencyUs = 0.0;
    if (*budget == Budget::Latency) {
      auto fixed = module->getAttrOfType<FloatAttr>("qopt.fixed_latency_us");
      if (!fixed) {
        module.emitError() << "mixed precision: target-latency needs the module's "
                              "qopt.fixed_latency_us (the decode step's time outside the "
                              "decided layers)";
        return signalPassFailure();
      }
      fixedLatencyUs = fixed.getValueAsDouble();
    }
    for (DecidedLayer &d : decided) {
      for (size_t c = 0; c < cands.size(); ++c)
        d.options[c].cost = *budget == Budget::Latency ? d.latency[c] : double(d.fileBytes[c]);
      problem.push_back(d.options);
    }
    quant::SolverOptions solverOptions;
    solverOptions.minGranularity = *budget == Budget::Latency ? 1e-3 : 1.0;
    quant::SolverResult plan;
    double target = 0.0;
    switch (*budget) {
    case Budget::Bits: {
      // bits * weights / 8 bytes of data in all, pinned layers' included; alignment does not
      // count towards bits per weight.
      target = targetBits;
      for (size_t l = 0; l < problem.size(); ++l)
        for (size_t c = 0; c < cands.size(); ++c)
          problem[l][c].cost = double(decided[l].bytes[c]);
      double allowed = targetBits * double(decidedWeightCount + pinnedWeights) / 8.0 - pinnedData;
      plan = quant::solveMinLoss(problem, std::floor(allowed), solverOptions);
      break;
    }
    case Budget::Size:
      target = double(targetSize);
      plan = quant::solveMinLoss(problem, double(targetSize - fixedBytes), solverOptions);
      break;
    case Budget::Loss:
      target = maxLoss;
      plan = quant::solveMinCost(problem, maxLoss, solverOptions);
      break;
    case Budget::Latency:
      target = targetLatency;
      plan = quant::solveMinLoss(problem, targetLatency * 1000.0 - fixedLatencyUs, solverOptions);
      break;
    }
    if (!plan.feasible) {
      InFlightDiagnostic diag = module.emitError() << "mixed precision: no plan meets "
                                                   << budgetFlag(*budget) << ": ";
      describeInfeasible(diag, *budget, problem, fixedBytes, fixedLatencyUs, pinnedData,
                         decidedWeightCount + pinnedWeights, plan);
      return signalPassFailure();
    }

    // The plan onto the layers.
    int64_t quantizedBytes = pinnedData;
    int64_t totalBytes = fixedBytes;
    double latencyUs = fixedLatencyUs;
    for (size_t l = 0; l < decided.size(); ++l) {
      const quant::PrecisionCandidate &c = cands[plan.choice[l]];
      Operation *op = decided[l].layer.op;
      if (c.keepFloat)
        op->removeAttr("qopt.scheme");
      else
        op->setAttr("qopt.scheme", toSchemeAttr(&getContext(), c.scheme));
      op->removeAttr("qopt.sensitivity");
      op->removeAttr("qopt.latency");
      quantizedBytes += decided[l].bytes[plan.choice[l]];
      totalBytes += decided[l].fileBytes[plan.choice[l]];
      if (!decided[l].latency.empty())
        latencyUs += decided[l].latency[plan.choice[l]];
      ++numAllocated;
    }
    for (const WeightLayer &l : pinned)
      for (StringRef name : {"qopt.pinned", "qopt.sensitivity", "qopt.latency"})
        l.op->removeAttr(name);
    double bits = 8.0 * double(quantizedBytes) / double(decidedWeightCount + pinnedWeights);
    if (!report)
      return;
    report->budgetKind = *budget == Budget::Bits   ? "bits"
                         : *budget == Budget::Size ? "size"
                         : *budget == Budget::Loss ? "loss"
                                                   : "latency";
    report->target = target;
    report->achieved = *budget == Budget::Bits      ? bits
                       : *budget == Budget::Size    ? double(totalBytes)
                       : *budget == Budget::Loss    ? plan.loss
                                                    : latencyUs / 1000.0;
    report->estimatedLoss = plan.loss;
    report->totalBytes = totalBytes;
    report->bitsPerWeight = bits;
    report->latencyMs = decided.front().latency.empty() ? -1.0 : latencyUs / 1000.0;
    for (const auto &c : cands)
      report->candidates.push_back(c.name);
    for (size_t l = 0; l < decided.size(); ++l) {
      PrecisionPlanReport::Layer entry;
      entry.name = decided[l].name;
      entry.outFeatures = decided[l].layer.n;
      entry.inFeatures = decided[l].layer.k;
      entry.chosen = cands[plan.choice[l]].name;
      for (size_t c = 0; c < cands.size(); ++c)
        entry.options.push_back({cands[c].name, decided[l].bytes[c], decided[l].options[c].loss,
                                 decided[l].latency.empty() ? -1.0 : decided[l].latency[c]});
      report->layers.push_back(std::move(entry));
    }
    for (const WeightLayer &l : pinned) {
      PrecisionPlanReport::Layer entry;
      entry.name = layerDisplayName(l);
      entry.outFeatures = l.n;
      entry.inFeatures = l.k;
      entry.pinned = true;
      quant::Scheme s = toQuantScheme(cast<SchemeAttr>(l.op->getAttr("qopt.scheme")));
      entry.chosen = quant::candidateName(s);
      quant::PrecisionCandidate c;
      c.scheme = s;
      entry.options.push_back({entry.chosen, c.bytes(l.n, l.k), 0.0, -1.0});
      report->layers.push_back(std::move(entry));
    }
    // The curve in the budget's own currency: whole-model bytes, or milliseconds.
    double offset = *budget == Budget::Latency ? fixedLatencyUs : double(fixedBytes);
    // Under a bits budget the solver counted data only: the alignment the chosen plan adds is
    // added to every point alike.
    double alignment = double(totalBytes - fixedBytes - (quantizedBytes - pinnedData));
    for (auto [cost, loss] : plan.curve) {
      if (*budget == Budget::Bits)
        cost += alignment;
      double x = *budget == Budget::Latency ? (cost + offset) / 1000.0 : cost + offset;
      report->curve.emplace_back(x, loss);
    }
  }

private:
  PrecisionPlanReport *report = nullptr;

  const char *budgetFlag(Budget b) {
    switch (b) {
    case Budget::Bits: return "target-bits";
    case Budget::Size: return "target-size";
    case Budget::Loss: return "max-loss";
    case Budget::Latency: return "target-latency";
    }
    return "";
  }

  FailureOr<Budget> chooseBudget(ModuleOp module) {
    int given = (targetBits > 0.0) + (targetSize > 0) + (maxLoss >= 0.0) + (targetLatency > 0.0);
    if (given != 1)
      return module.emitError() << "mixed precision needs exactly one budget: target-bits, "
                                   "target-size, max-loss or target-latency ("
                                << given << " given)";
    if (targetBits > 0.0)
      return Budget::Bits;
    if (targetSize > 0)
      return Budget::Size;
    if (maxLoss >= 0.0)
      return Budget::Loss;
    return Budget::Latency;
  }

  /// A layer's options: every candidate's bytes, sensitivity and (for latency) kernel time.
  FailureOr<DecidedLayer> describe(const WeightLayer &l,
                                   const std::vector<quant::PrecisionCandidate> &cands,
                                   bool needLatency) {
    DecidedLayer d;
    d.layer = l;
    d.name = layerDisplayName(l);
    auto sensitivity = l.op->getAttrOfType<DictionaryAttr>("qopt.sensitivity");
    if (!sensitivity)
      return l.op->emitOpError() << "layer '" << d.name
                                 << "' has no qopt.sensitivity: mixed precision needs each "
                                    "layer's estimated loss per candidate (calibration data)";
    auto latency = l.op->getAttrOfType<DictionaryAttr>("qopt.latency");
    if (needLatency && !latency)
      return l.op->emitOpError() << "layer '" << d.name
                                 << "' has no qopt.latency: target-latency needs each layer's "
                                    "kernel time per candidate";
    for (const quant::PrecisionCandidate &c : cands) {
      auto loss = sensitivity.getAs<FloatAttr>(c.name);
      if (!loss || !std::isfinite(loss.getValueAsDouble()))
        return l.op->emitOpError() << "layer '" << d.name << "' has no sensitivity for candidate '"
                                   << c.name << "'";
      d.options.push_back({0.0, loss.getValueAsDouble()});
      d.bytes.push_back(c.bytes(l.n, l.k));
      d.fileBytes.push_back(c.fileBytes(l.n, l.k));
      if (needLatency) {
        auto us = latency.getAs<FloatAttr>(c.name);
        if (!us || !(us.getValueAsDouble() >= 0.0))
          return l.op->emitOpError() << "layer '" << d.name << "' has no latency for candidate '"
                                     << c.name << "'";
        d.latency.push_back(us.getValueAsDouble());
      }
    }
    return d;
  }

  /// Why nothing fits, in the budget's own unit: the least value any plan reaches.
  void describeInfeasible(InFlightDiagnostic &diag, Budget budget,
                          const std::vector<std::vector<quant::LayerOption>> &problem,
                          int64_t fixedBytes, double fixedLatencyUs, int64_t pinnedData,
                          int64_t weights, const quant::SolverResult &plan) {
    double least = 0.0;
    for (const auto &layer : problem) {
      double m = layer.front().cost;
      for (const auto &o : layer)
        m = std::min(m, o.cost);
      least += m;
    }
    switch (budget) {
    case Budget::Bits:
      diag << "the smallest plan has "
           << fixed3(8.0 * (least + double(pinnedData)) / double(weights))
           << " bits per weight, more than " << shortest(targetBits);
      break;
    case Budget::Size:
      diag << "the smallest plan is " << int64_t(least) + fixedBytes << " bytes, more than "
           << targetSize;
      break;
    case Budget::Latency:
      diag << "the fastest plan takes " << fixed3((least + fixedLatencyUs) / 1000.0)
           << " ms per token, more than " << shortest(targetLatency);
      break;
    case Budget::Loss:
      diag << plan.reason;
      break;
    }
  }
};
} // namespace

std::unique_ptr<Pass>
qopt::QOpt::createAllocatePrecisionPass(const AllocatePrecisionPassOptions &options,
                                        PrecisionPlanReport *report) {
  return std::make_unique<AllocatePrecisionPass>(options, report);
}
