//===- PlanReport.cpp - the mixed-precision plan as one HTML page ---------===//
//
// The report is first read into plain structs, every field optional, so that the rendering below
// never has to ask whether a JSON value has the right type. The page must open anywhere, offline
// and from a file, so everything is inline: CSS, static SVG drawn here, and one small script
// whose only job is to prove (in a headless browser's DOM dump) that the page was rendered.
//
#include "qopt/Precision/PlanReport.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

using namespace llvm;

namespace {

// --- Reading the report ---

using OptNum = std::optional<double>;

/// A number, or nothing: a non-finite value would only produce NaN coordinates in the SVG.
OptNum number(const json::Value *v) {
  OptNum n = v ? v->getAsNumber() : std::nullopt;
  return n && std::isfinite(*n) ? n : std::nullopt;
}
OptNum number(const json::Object &o, StringRef key) { return number(o.get(key)); }

std::string text(const json::Object &o, StringRef key) {
  return o.getString(key).value_or("").str();
}

struct Option {
  std::string candidate;
  OptNum bytes, loss, latencyMs;
};

struct Layer {
  std::string name, chosen;
  OptNum weights;
  bool pinned = false;
  std::vector<Option> options;

  const Option *option(StringRef candidate) const {
    for (const Option &o : options)
      if (o.candidate == candidate)
        return &o;
    return nullptr;
  }
  const Option *chosenOption() const { return chosen.empty() ? nullptr : option(chosen); }
  OptNum bitsPerWeight() const {
    const Option *o = chosenOption();
    if (!o || !o->bytes || !weights || *weights <= 0)
      return std::nullopt;
    return 8.0 * *o->bytes / *weights;
  }
};

struct Budget {
  std::string kind, unit;
  OptNum target, achieved, slack;
  std::optional<bool> met;
};

using Point = std::pair<double, double>;

struct Plan {
  std::string model, sensitivity, algorithm;
  OptNum bytesBefore, estimatedLoss, totalBytes, bitsPerWeight, latencyMs;
  // What the compiled model measured, where it was compiled and timed.
  OptNum measuredBytes, measuredLatencyMs;
  Budget budget;
  std::vector<std::string> candidates;
  std::vector<Layer> layers;
  bool curveInMs = false; // the curve's x is latency rather than bytes
  std::vector<Point> curve;
  std::optional<Point> chosenPoint;
};

std::optional<Point> point(const json::Value &v) {
  const json::Array *a = v.getAsArray();
  OptNum x = a && a->size() >= 2 ? number(&(*a)[0]) : std::nullopt;
  OptNum y = x ? number(&(*a)[1]) : std::nullopt;
  return y ? std::optional<Point>(Point(*x, *y)) : std::nullopt;
}

Layer readLayer(const json::Object &o) {
  Layer l;
  l.name = text(o, "name"), l.chosen = text(o, "chosen"), l.weights = number(o, "weights");
  l.pinned = o.getBoolean("pinned").value_or(false);
  if (const json::Array *options = o.getArray("options"))
    for (const json::Value &v : *options)
      if (const json::Object *opt = v.getAsObject())
        l.options.push_back({text(*opt, "candidate"), number(*opt, "bytes"), number(*opt, "loss"),
                             number(*opt, "latency_ms")});
  return l;
}

Budget readBudget(const json::Object *o) {
  if (!o)
    return {};
  return {text(*o, "kind"),       text(*o, "unit"),    number(*o, "target"),
          number(*o, "achieved"), number(*o, "slack"), o->getBoolean("met")};
}

void readCurve(const json::Object *o, Plan &plan) {
  if (o) {
    plan.curveInMs = text(*o, "x") == "ms";
    if (const json::Array *points = o->getArray("points"))
      for (const json::Value &v : *points)
        if (std::optional<Point> p = point(v))
          plan.curve.push_back(*p);
    if (const json::Value *chosen = o->get("chosen"))
      plan.chosenPoint = point(*chosen);
  }
  std::sort(plan.curve.begin(), plan.curve.end());
  // Without an explicit chosen point the plan's own totals are that point.
  OptNum x = plan.curveInMs ? plan.latencyMs : plan.totalBytes;
  if (!plan.chosenPoint && x && plan.estimatedLoss)
    plan.chosenPoint = Point(*x, *plan.estimatedLoss);
}

/// The report's candidates, then any scheme a layer uses that they do not list, so that every
/// bar has a legend entry and every option a column.
void collectCandidates(const json::Object &p, Plan &plan) {
  auto add = [&](const std::string &c) {
    if (!c.empty() &&
        std::find(plan.candidates.begin(), plan.candidates.end(), c) == plan.candidates.end())
      plan.candidates.push_back(c);
  };
  if (const json::Array *cs = p.getArray("candidates"))
    for (const json::Value &v : *cs)
      if (std::optional<StringRef> s = v.getAsString())
        add(s->str());
  for (const Layer &l : plan.layers) {
    add(l.chosen);
    for (const Option &o : l.options)
      add(o.candidate);
  }
}

Plan readPlan(const json::Object &report, const json::Object &p) {
  Plan plan;
  plan.model = text(report, "model");
  plan.bytesBefore = number(report, "model_bytes_before");
  plan.sensitivity = text(p, "sensitivity");
  plan.algorithm = text(p, "algorithm");
  plan.estimatedLoss = number(p, "estimated_loss");
  plan.totalBytes = number(p, "total_bytes");
  if (!plan.totalBytes)
    plan.totalBytes = number(report, "model_bytes_after");
  plan.bitsPerWeight = number(p, "bits_per_weight");
  plan.latencyMs = number(p, "latency_ms");
  plan.measuredBytes = number(p, "measured_total_bytes");
  plan.measuredLatencyMs = number(p, "measured_latency_ms");
  plan.budget = readBudget(p.getObject("budget"));
  if (const json::Array *layers = p.getArray("layers"))
    for (const json::Value &v : *layers)
      if (const json::Object *o = v.getAsObject())
        plan.layers.push_back(readLayer(*o));
  collectCandidates(p, plan);
  readCurve(p.getObject("curve"), plan);
  return plan;
}

// --- Formatting ---

std::string escape(StringRef s) {
  std::string out;
  for (char c : s)
    out += c == '&'    ? "&amp;"
           : c == '<'  ? "&lt;"
           : c == '>'  ? "&gt;"
           : c == '"'  ? "&quot;"
           : c == '\'' ? "&#39;"
                       : std::string(1, c);
  return out;
}

std::string printf1(const char *format, int precision, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, precision, v);
  return buf;
}
std::string fixed(double v, int decimals) { return printf1("%.*f", decimals, v); }
/// Losses span orders of magnitude; significant digits keep the small ones readable.
std::string sig(double v) { return printf1("%.*g", 3, v); }
/// Signed, for losses that a noisy estimate can make negative.
std::string delta(double v) { return printf1("%+.*g", 3, v); }
/// Megabytes of 10^6 bytes; below one, significant digits so that small models do not read 0.00.
std::string mb(double bytes) {
  return (std::fabs(bytes) < 1e6 ? sig(bytes / 1e6) : fixed(bytes / 1e6, 2)) + " MB";
}
std::string dash() { return "&ndash;"; }

/// Integral values with thousands separators (byte counts), anything else to four digits.
std::string plain(double v) {
  if (v != std::floor(v) || std::fabs(v) >= 1e15)
    return printf1("%.*g", 4, v);
  std::string digits = fixed(std::fabs(v), 0), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

/// Light, distinct colours; candidates are usually listed from fewest to most bits, so the
/// palette runs from warm to cool.
std::string colour(const Plan &plan, StringRef candidate) {
  static const char *palette[] = {"#e4572e", "#f3a712", "#f6d55c", "#8bc34a", "#3caea3",
                                  "#20639b", "#7e57c2", "#c2185b", "#8d6e63", "#90a4ae"};
  auto it = std::find(plan.candidates.begin(), plan.candidates.end(), candidate.str());
  size_t i = it - plan.candidates.begin();
  return palette[i % (sizeof palette / sizeof *palette)];
}

/// An axis from lo to hi in round steps (1, 2 or 5 times a power of ten).
struct Axis {
  double lo, hi, step;
  int decimals;
  double pixelsFrom, pixelsTo;

  double map(double v) const { return pixelsFrom + (v - lo) / (hi - lo) * (pixelsTo - pixelsFrom); }
  std::string label(double v) const { return fixed(v, decimals); }
  std::vector<double> ticks() const {
    std::vector<double> t;
    for (int i = 0; i <= 40 && lo + i * step <= hi + step * 1e-6; ++i)
      t.push_back(lo + i * step);
    return t;
  }
};

Axis niceAxis(double lo, double hi, double pixelsFrom, double pixelsTo) {
  if (!(hi > lo)) {
    double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / 5 > 0 ? (hi - lo) / 5 : 1.0;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw))), f = raw / magnitude;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  double first = std::floor(lo / step) * step, last = std::ceil(hi / step) * step;
  return {first, last, step, decimals, pixelsFrom, pixelsTo};
}

// --- Page sections ---

const char *const kNoPlan = "There is no mixed-precision plan in this report";

const char *const kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;
background:#fbfbfb}
h1{font-size:1.35em;margin:0 0 10px}h2{font-size:1.1em;margin:28px 0 8px}
#summary dl{display:grid;grid-template-columns:max-content auto;gap:3px 18px;margin:0}
#summary dt{color:#666}#summary dd{margin:0}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}.empty{color:#666}
.chart{overflow-x:auto;background:#fff;border:1px solid #ddd;padding:4px}
.legend{margin:6px 0;font-size:13px}
.sw{display:inline-block;width:11px;height:11px;margin:0 4px 0 12px;border:1px solid #999;
vertical-align:-1px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f0f0f0}
.name{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace}
td.chosen{background:#fff3bf;font-weight:600}.pin{color:#888;font-size:11px;margin-left:6px}
svg text{font-size:11px;fill:#444}.axis{stroke:#888}.grid{stroke:#eee}
#render-status{color:#999;font-size:11px}
)";

void writeFact(raw_ostream &os, StringRef label, const std::string &html) {
  os << "<dt>" << label << "</dt><dd>" << html << "</dd>\n";
}

std::string budgetHtml(const Budget &b) {
  std::string unit = b.unit.empty() ? "" : " " + escape(b.unit);
  auto value = [&](double v) {
    std::string s = plain(v) + unit;
    return b.kind == "size" ? s + " (" + mb(v) + ")" : s;
  };
  std::string s = b.kind.empty() ? "" : escape(b.kind) + ": ";
  if (b.target)
    s += "target " + value(*b.target);
  if (b.achieved)
    s += (b.target ? ", " : "") + std::string("achieved ") + value(*b.achieved);
  if (b.met)
    s += *b.met ? " &mdash; <span class=\"ok\">met</span>"
                : " &mdash; <span class=\"bad\">NOT met</span>";
  if (b.slack)
    s += " (slack " + plain(*b.slack) + ")";
  return s;
}

void writeSummary(raw_ostream &os, const Plan &plan) {
  os << "<section id=\"summary\">\n<h1>Mixed-precision plan: "
     << (plan.model.empty() ? "(unnamed model)" : escape(plan.model)) << "</h1>\n<dl>\n";
  std::string budget = budgetHtml(plan.budget);
  writeFact(os, "Budget", budget.empty() ? dash() : budget);
  writeFact(os, "Algorithm", plan.algorithm.empty() ? dash() : escape(plan.algorithm));
  writeFact(os, "Sensitivity", plan.sensitivity.empty() ? dash() : escape(plan.sensitivity));
  std::string size = plan.totalBytes ? mb(*plan.totalBytes) : dash();
  if (plan.totalBytes && plan.bytesBefore)
    size += " (from " + mb(*plan.bytesBefore) + ")";
  if (plan.measuredBytes)
    size += "; compiled: " + mb(*plan.measuredBytes);
  writeFact(os, "Total size", size);
  writeFact(os, "Bits per weight", plan.bitsPerWeight ? fixed(*plan.bitsPerWeight, 2) : dash());
  writeFact(os, "Estimated loss increase",
            plan.estimatedLoss ? sig(*plan.estimatedLoss) + " nats/token" : dash());
  if (plan.latencyMs)
    writeFact(os, "Latency", fixed(*plan.latencyMs, 3) + " ms estimated" +
                                 (plan.measuredLatencyMs
                                      ? ", " + fixed(*plan.measuredLatencyMs, 3) + " ms measured"
                                      : std::string()));
  writeFact(os, "Layers", std::to_string(plan.layers.size()));
  os << "</dl>\n";
  // A plan without layers (or with none readable) has nothing to show below.
  if (plan.layers.empty())
    os << "<p class=\"empty\">" << kNoPlan << " (no layers).</p>\n";
  os << "</section>\n";
}

/// The horizontal grid with its labels, both axis lines and the y title, shared by the charts.
void writeYAxis(raw_ostream &os, const Axis &y, double left, double right, StringRef title) {
  for (double t : y.ticks())
    os << formatv("<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>"
                  "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
                  left, right, y.map(t), left - 6, y.map(t) + 4, y.label(t));
  os << formatv("<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>"
                "<line class=\"axis\" x1=\"{0}\" x2=\"{3}\" y1=\"{2}\" y2=\"{2}\"/>\n"
                "<text x=\"14\" y=\"{4}\" transform=\"rotate(-90 14 {4})\" "
                "text-anchor=\"middle\">{5}</text>\n",
                left, y.pixelsTo, y.pixelsFrom, right, (y.pixelsFrom + y.pixelsTo) / 2, title);
}

void writeLegend(raw_ostream &os, const Plan &plan) {
  os << "<div class=\"legend\">";
  for (const std::string &c : plan.candidates) {
    size_t n = std::count_if(plan.layers.begin(), plan.layers.end(),
                             [&](const Layer &l) { return l.chosen == c; });
    os << "<span class=\"sw\" style=\"background:" << colour(plan, c) << "\"></span>" << escape(c)
       << " (" << n << (n == 1 ? " layer)" : " layers)");
  }
  os << "</div>\n";
}

void writeBitsChart(raw_ostream &os, const Plan &plan) {
  const double left = 44, top = 12, height = 220, bottom = 34;
  size_t n = plan.layers.size();
  double barWidth = n ? std::clamp(900.0 / n, 3.0, 28.0) : 28.0;
  double width = left + std::max<double>(n, 4) * barWidth + 16;
  double maxBits = std::max(1.0, plan.bitsPerWeight.value_or(0.0));
  for (const Layer &l : plan.layers)
    maxBits = std::max(maxBits, l.bitsPerWeight().value_or(0.0));
  Axis y = niceAxis(0, maxBits, top + height, top);

  os << "<h2>Bits per weight by layer</h2>\n<div class=\"chart\">"
     << formatv("<svg id=\"bits-chart\" width=\"{0}\" height=\"{1}\" role=\"img\">\n", width,
                top + height + bottom);
  writeYAxis(os, y, left, width - 8, "bits/weight");
  for (size_t i = 0; i < n; ++i) {
    const Layer &l = plan.layers[i];
    OptNum bits = l.bitsPerWeight();
    if (!bits)
      continue; // no chosen option to measure: leave the slot empty
    double y0 = y.map(std::max(0.0, *bits));
    os << formatv("<rect class=\"bar\" x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" "
                  "fill=\"{4}\"{5}><title>",
                  left + i * barWidth + barWidth * 0.1, y0, barWidth * 0.8, top + height - y0,
                  colour(plan, l.chosen), l.pinned ? " stroke=\"#333\"" : "")
       << escape(l.name) << ": " << escape(l.chosen) << ", " << fixed(*bits, 2) << " bits/weight"
       << (l.pinned ? " (pinned)" : "") << "</title></rect>\n";
  }
  if (plan.bitsPerWeight)
    os << formatv("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#555\" "
                  "stroke-dasharray=\"5 4\"><title>plan average: {3} bits/weight</title></line>\n",
                  left, width - 8, y.map(*plan.bitsPerWeight), fixed(*plan.bitsPerWeight, 2));
  os << formatv("<text x=\"{0}\" y=\"{1}\">layers in model order (hover a bar for its name; "
                "dashed: plan average)</text>\n",
                left, top + height + 22);
  if (n == 0)
    os << formatv("<text x=\"{0}\" y=\"{1}\">no layers in the plan</text>\n", left + 10,
                  top + height / 2);
  os << "</svg></div>\n";
  writeLegend(os, plan);
}

bool anyLatency(const Plan &plan) {
  for (const Layer &l : plan.layers)
    if (const Option *o = l.chosenOption(); o && o->latencyMs)
      return true;
  return false;
}

void writeLayerRow(raw_ostream &os, const Plan &plan, const Layer &l, bool latency) {
  const Option *o = l.chosenOption();
  OptNum bits = l.bitsPerWeight();
  os << "<tr class=\"layer-row\"" << (l.pinned ? " data-pinned=\"true\"" : "") << ">"
     << "<td class=\"name\">" << escape(l.name)
     << (l.pinned ? "<span class=\"pin\">pinned</span>" : "") << "</td><td class=\"name\">";
  if (!l.chosen.empty())
    os << "<span class=\"sw\" style=\"margin-left:0;background:" << colour(plan, l.chosen)
       << "\"></span>" << escape(l.chosen);
  os << "</td><td>" << (o && o->bytes ? plain(*o->bytes) : dash()) << "</td><td>"
     << (bits ? fixed(*bits, 2) : dash()) << "</td><td>" << (o && o->loss ? sig(*o->loss) : dash())
     << "</td>";
  if (latency)
    os << "<td>" << (o && o->latencyMs ? fixed(*o->latencyMs, 4) : dash()) << "</td>";
  for (const std::string &c : plan.candidates) {
    const Option *opt = l.option(c);
    os << (c == l.chosen ? "<td class=\"chosen\">" : "<td>")
       << (opt && opt->loss ? sig(*opt->loss) : dash()) << "</td>";
  }
  os << "</tr>\n";
}

void writeTable(raw_ostream &os, const Plan &plan) {
  bool latency = anyLatency(plan);
  os << "<h2>Layers</h2>\n<table id=\"plan-table\">\n<thead><tr>"
     << "<th class=\"name\">layer</th><th class=\"name\">chosen</th><th>bytes</th>"
     << "<th>bits/weight</th><th>&Delta;loss</th>" << (latency ? "<th>latency ms</th>" : "");
  for (const std::string &c : plan.candidates)
    os << "<th>&Delta;loss " << escape(c) << "</th>";
  os << "</tr></thead>\n<tbody>\n";
  for (const Layer &l : plan.layers)
    writeLayerRow(os, plan, l, latency);
  os << "</tbody>\n</table>\n"
     << "<p class=\"empty\">&Delta;loss: estimated increase of the model's loss (nats/token) "
        "when only that layer takes that scheme; the chosen scheme is highlighted.</p>\n";
}

void writeCurveAxes(raw_ostream &os, const Axis &x, const Axis &y, bool latency) {
  for (double t : x.ticks())
    os << formatv("<line class=\"grid\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>"
                  "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                  x.map(t), y.pixelsTo, y.pixelsFrom, y.pixelsFrom + 16, x.label(t));
  writeYAxis(os, y, x.pixelsFrom, x.pixelsTo, "estimated loss increase (nats/token)");
  os << formatv("<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\">{2}</text>\n",
                (x.pixelsFrom + x.pixelsTo) / 2, y.pixelsFrom + 34,
                latency ? "latency (ms)" : "model size (MB)");
}

void writeCurveChart(raw_ostream &os, const Plan &plan) {
  const double left = 70, right = 620, top = 16, bottom = 276;
  // Sizes are shown in MB; latencies stay in ms.
  double xScale = plan.curveInMs ? 1.0 : 1e-6;
  std::vector<Point> pts;
  for (const Point &p : plan.curve)
    pts.emplace_back(p.first * xScale, p.second);
  std::optional<Point> chosen;
  if (plan.chosenPoint)
    chosen = Point(plan.chosenPoint->first * xScale, plan.chosenPoint->second);

  os << "<h2>Trade-off curve</h2>\n<div class=\"chart\">"
     << formatv("<svg id=\"curve-chart\" width=\"{0}\" height=\"{1}\" role=\"img\">\n", right + 20,
                bottom + 44);
  std::vector<Point> all = pts;
  if (chosen)
    all.push_back(*chosen);
  if (all.empty()) {
    os << formatv("<text x=\"{0}\" y=\"{1}\">no trade-off curve in the report</text>", left,
                  (top + bottom) / 2)
       << "</svg></div>\n";
    return;
  }
  // The loss axis starts at zero at the latest, so that small losses look small.
  double x0 = all[0].first, x1 = x0, y0 = std::min(0.0, all[0].second), y1 = all[0].second;
  for (const Point &p : all) {
    x0 = std::min(x0, p.first), x1 = std::max(x1, p.first);
    y0 = std::min(y0, p.second), y1 = std::max(y1, p.second);
  }
  Axis x = niceAxis(x0, x1, left, right), y = niceAxis(y0, y1, bottom, top);
  writeCurveAxes(os, x, y, plan.curveInMs);
  std::string unit = plan.curveInMs ? " ms" : " MB";
  if (!pts.empty()) {
    os << "<polyline fill=\"none\" stroke=\"#20639b\" stroke-width=\"1.5\" points=\"";
    for (const Point &p : pts)
      os << formatv("{0},{1} ", x.map(p.first), y.map(p.second));
    os << "\"/>\n";
  }
  for (const Point &p : pts)
    os << formatv("<circle class=\"curve-point\" cx=\"{0}\" cy=\"{1}\" r=\"2.5\" fill=\"#20639b\">"
                  "<title>{2}{3}, loss {4}</title></circle>\n",
                  x.map(p.first), y.map(p.second), fixed(p.first, x.decimals + 1), unit,
                  delta(p.second));
  if (chosen) {
    double cx = x.map(chosen->first), cy = y.map(chosen->second);
    // The label goes on the side of the point with more room.
    bool leftHalf = cx < (left + right) / 2;
    os << formatv("<circle id=\"chosen-point\" cx=\"{0}\" cy=\"{1}\" r=\"6\" fill=\"#e4572e\" "
                  "fill-opacity=\"0.85\" stroke=\"#222\" stroke-width=\"1.5\"/>\n"
                  "<text x=\"{2}\" y=\"{3}\" text-anchor=\"{4}\" font-weight=\"600\">"
                  "chosen: {5}{6}, loss {7}</text>\n",
                  cx, cy, leftHalf ? cx + 10 : cx - 10, std::max(top + 10, cy - 10),
                  leftHalf ? "start" : "end", fixed(chosen->first, x.decimals + 1), unit,
                  delta(chosen->second));
  }
  os << "</svg></div>\n";
}

// Counts what the page shows, so that a DOM dump tells a rendered page from a broken one.
const char *const kScript = R"(<script>
(function () {
  var rows = document.querySelectorAll('#plan-table tr.layer-row').length;
  var bars = document.querySelectorAll('#bits-chart rect.bar').length;
  document.getElementById('render-status').textContent =
      'rendered: ' + rows + ' layers, ' + bars + ' bars';
})();
</script>
)";

void writeHead(raw_ostream &os, const std::string &title) {
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<title>" << title << "</title>\n<style>\n"
     << kStyle << "</style>\n</head>\n<body>\n";
}
void writeTail(raw_ostream &os) {
  os << "<p id=\"render-status\">not rendered</p>\n" << kScript << "</body>\n</html>\n";
}

} // namespace

std::string qopt::precision::renderPlanHtml(const json::Object &report) {
  std::string html;
  raw_string_ostream os(html);
  std::string model = escape(text(report, "model"));
  writeHead(os, "Precision plan" + (model.empty() ? "" : " &ndash; " + model));
  if (const json::Object *precision = report.getObject("precision")) {
    Plan plan = readPlan(report, *precision);
    writeSummary(os, plan);
    writeBitsChart(os, plan);
    writeTable(os, plan);
    writeCurveChart(os, plan);
  } else {
    os << "<section id=\"summary\">\n<h1>Mixed-precision plan"
       << (model.empty() ? "" : ": " + model) << "</h1>\n<p class=\"empty\">" << kNoPlan
       << ".</p>\n</section>\n";
  }
  writeTail(os);
  return html;
}
