//===- PlanReport.h - the mixed-precision plan as one HTML page --*- C++ -*-===//
//
// qopt-compile's JSON report carries the mixed-precision plan under `precision`: the budget,
// every layer's options (bytes, estimated loss, latency per candidate scheme) and the chosen
// one, and the size/loss trade-off curve. This renders it as a single self-contained HTML page,
// so a person can see at a glance where the bits went.
//
#ifndef QOPT_PRECISION_PLANREPORT_H
#define QOPT_PRECISION_PLANREPORT_H

#include "llvm/Support/JSON.h"

#include <string>

namespace qopt::precision {

/// A self-contained HTML page (no network: inline CSS, inline SVG, a small inline script) showing
/// a mixed-precision plan read from the `precision` object of qopt-compile's JSON report.
///
/// The page has a summary (`id="summary"`), a bar chart of the bits per weight of every layer
/// (`id="bits-chart"`, one `rect.bar` per layer with a chosen option), a table with one
/// `tr class="layer-row"` per layer (`id="plan-table"`) and the trade-off curve
/// (`id="curve-chart"`, the chosen point `id="chosen-point"`). A script writes
/// `rendered: N layers, M bars` into `p#render-status` on load, which otherwise reads
/// `not rendered`.
///
/// Missing or ill-typed fields are treated as absent; a report without a `precision` object
/// gives a page saying there is no plan. Every string from the report is HTML-escaped.
std::string renderPlanHtml(const llvm::json::Object &report);

} // namespace qopt::precision

#endif // QOPT_PRECISION_PLANREPORT_H
