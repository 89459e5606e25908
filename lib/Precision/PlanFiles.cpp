//===- PlanFiles.cpp - a mixed-precision plan as JSON, text and back -------===//
#include "qopt/Precision/PlanFiles.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/PrecisionCandidates.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"

#include <map>

using namespace mlir;
using namespace qopt;
using namespace qopt::precision;

namespace {
const QOpt::PrecisionPlanReport::Option *chosenOption(const QOpt::PrecisionPlanReport::Layer &l) {
  for (const auto &o : l.options)
    if (o.candidate == l.chosen)
      return &o;
  return nullptr;
}

const char *budgetUnit(llvm::StringRef kind) {
  return kind == "bits" ? "bits/weight" : kind == "size" ? "bytes" : kind == "loss" ? "loss" : "ms";
}
} // namespace

llvm::json::Object qopt::precision::planToJson(const QOpt::PrecisionPlanReport &plan,
                                               llvm::StringRef algorithm,
                                               llvm::StringRef sensitivity) {
  llvm::json::Array layers;
  for (const auto &l : plan.layers) {
    llvm::json::Array options;
    for (const auto &o : l.options) {
      llvm::json::Object option{{"candidate", o.candidate}, {"bytes", o.bytes}, {"loss", o.loss}};
      if (o.latencyUs >= 0.0)
        option["latency_ms"] = o.latencyUs / 1000.0;
      options.push_back(std::move(option));
    }
    layers.push_back(llvm::json::Object{{"name", l.name},
                                        {"weights", l.outFeatures * l.inFeatures},
                                        {"out_features", l.outFeatures},
                                        {"in_features", l.inFeatures},
                                        {"chosen", l.chosen},
                                        {"pinned", l.pinned},
                                        {"options", std::move(options)}});
  }
  // Sizes and latencies must stay within the target; a loss budget is an upper bound too.
  bool met = plan.achieved <= plan.target * (1.0 + 1e-12);
  llvm::json::Object budget{{"kind", plan.budgetKind},
                            {"target", plan.target},
                            {"achieved", plan.achieved},
                            {"unit", budgetUnit(plan.budgetKind)},
                            {"met", met},
                            {"slack", plan.target - plan.achieved}};
  llvm::json::Array points;
  for (auto [x, loss] : plan.curve)
    points.push_back(llvm::json::Array{x, loss});
  bool latency = plan.budgetKind == "latency";
  double chosenX = latency ? plan.latencyMs : double(plan.totalBytes);
  llvm::json::Object result{
      {"budget", std::move(budget)},
      {"algorithm", algorithm},
      {"sensitivity", sensitivity},
      {"candidates", llvm::json::Array(plan.candidates)},
      {"estimated_loss", plan.estimatedLoss},
      {"total_bytes", plan.totalBytes},
      {"bits_per_weight", plan.bitsPerWeight},
      {"layers", std::move(layers)},
      {"curve", llvm::json::Object{{"x", latency ? "ms" : "bytes"},
                                   {"points", std::move(points)},
                                   {"chosen", llvm::json::Array{chosenX, plan.estimatedLoss}}}}};
  if (plan.latencyMs >= 0.0)
    result["latency_ms"] = plan.latencyMs;
  if (plan.measuredLatencyMs >= 0.0)
    result["measured_latency_ms"] = plan.measuredLatencyMs;
  return result;
}

void qopt::precision::printPlan(const QOpt::PrecisionPlanReport &plan, llvm::raw_ostream &os) {
  bool latency = plan.latencyMs >= 0.0;
  os << llvm::format("%-44s %-12s %10s %7s %12s", "layer", "scheme", "bytes", "bits/w",
                     "est. loss");
  if (latency)
    os << llvm::format(" %10s", "kernel us");
  os << "\n";
  for (const auto &l : plan.layers) {
    const auto *o = chosenOption(l);
    std::string name = l.name.size() > 44 ? "..." + l.name.substr(l.name.size() - 41) : l.name;
    int64_t bytes = o ? o->bytes : 0;
    os << llvm::format("%-44s %-12s %10lld %7.3f %12.3g", name.c_str(),
                       (l.chosen + (l.pinned ? "*" : "")).c_str(), (long long)bytes,
                       8.0 * double(bytes) / double(std::max<int64_t>(1, l.outFeatures * l.inFeatures)),
                       o ? o->loss : 0.0);
    if (latency)
      os << llvm::format(" %10.2f", o ? o->latencyUs : 0.0);
    os << "\n";
  }
  bool anyPinned = llvm::any_of(plan.layers, [](const auto &l) { return l.pinned; });
  if (anyPinned)
    os << "(* pinned by --layer-bits)\n";
  std::map<std::string, int64_t> counts;
  for (const auto &l : plan.layers)
    counts[l.chosen] += 1;
  os << "plan:";
  for (const auto &[scheme, count] : counts)
    os << " " << count << " x " << scheme;
  os << "\n";
  os << llvm::format("plan: %.3f bits per weight, %.2f MB of constants, estimated loss increase "
                     "%.4g",
                     plan.bitsPerWeight, double(plan.totalBytes) / 1e6, plan.estimatedLoss);
  if (latency)
    os << llvm::format(", %.3f ms per token", plan.latencyMs);
  os << "\n";
  double slack = plan.target - plan.achieved;
  // Sizes are whole bytes; the other budgets are fractional.
  const char *value = plan.budgetKind == "size" ? "%.0f" : "%.6g";
  os << "budget: " << plan.budgetKind << " <= " << llvm::format(value, plan.target) << " "
     << budgetUnit(plan.budgetKind) << ", achieved " << llvm::format(value, plan.achieved)
     << (slack >= 0.0 ? " (met, " : " (NOT met, ")
     << llvm::format(plan.budgetKind == "size" ? "%.0f" : "%.4g", slack) << " to spare)\n";
}

LogicalResult qopt::precision::applyPlanFile(ModuleOp module, llvm::StringRef path) {
  auto fail = [&](const llvm::Twine &why) {
    return emitError(FileLineColLoc::get(module.getContext(), path, 0, 0)) << "plan: " << why;
  };
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return fail("cannot read the file: " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return fail("not JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Object *precision = root ? root->getObject("precision") : nullptr;
  const llvm::json::Array *entries = precision ? precision->getArray("layers") : nullptr;
  if (!entries)
    return fail("no precision.layers: expected a report written by qopt-compile --report with a "
                "mixed-precision budget");
  std::map<std::string, std::string> chosen;
  for (const llvm::json::Value &v : *entries) {
    const llvm::json::Object *e = v.getAsObject();
    auto name = e ? e->getString("name") : std::nullopt;
    auto scheme = e ? e->getString("chosen") : std::nullopt;
    if (!name || !scheme)
      return fail("every entry of precision.layers needs a name and a chosen scheme");
    chosen[name->str()] = scheme->str();
  }
  std::map<std::string, bool> used;
  std::vector<QOpt::WeightLayer> layers;
  module.walk([&](Operation *op) {
    if (auto layer = QOpt::matchWeightLayer(op))
      layers.push_back(*layer);
  });
  // Widths and groups are explicit in the names; scale storage follows the flags.
  quant::Scheme defaults;
  for (const QOpt::WeightLayer &l : layers)
    if (auto s = l.op->getAttrOfType<QOpt::SchemeAttr>("qopt.scheme")) {
      defaults = QOpt::toQuantScheme(s);
      break;
    }
  for (const QOpt::WeightLayer &l : layers) {
    std::string name = QOpt::layerDisplayName(l);
    auto it = chosen.find(name);
    if (it == chosen.end()) {
      if (l.op->hasAttr("qopt.scheme"))
        return fail("layer '" + name + "' of the model is not in the plan");
      continue;
    }
    used[name] = true;
    std::string error;
    auto candidate = quant::parseCandidate(it->second, defaults, error);
    if (!candidate)
      return fail("layer '" + name + "': " + error);
    if (candidate->keepFloat)
      l.op->removeAttr("qopt.scheme");
    else
      l.op->setAttr("qopt.scheme", QOpt::toSchemeAttr(module.getContext(), candidate->scheme));
    l.op->removeAttr("qopt.pinned");
  }
  for (const auto &[name, scheme] : chosen)
    if (!used.count(name))
      return fail("the plan names layer '" + name + "', which the model does not have");
  return success();
}
