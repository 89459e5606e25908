//===- PlanReportTest.cpp - the mixed-precision plan page from small reports -===//
//
// The page is read by people and by a headless browser, so the tests check what both rely on:
// a complete document, the stable ids, one row and one bar per layer, escaping of every string
// from the report, no network references, and a page (not a crash) for a malformed report.
//
#include "qopt/Precision/PlanReport.h"

#include <gtest/gtest.h>

#include <string>

using namespace llvm;
using qopt::precision::renderPlanHtml;

namespace {

json::Value option(const std::string &candidate, int64_t bytes, double loss) {
  return json::Object{{"candidate", candidate}, {"bytes", bytes}, {"loss", loss}};
}

json::Value layer(const std::string &name, const std::string &chosen, json::Array options,
                  bool pinned = false) {
  return json::Object{
      {"name", name},     {"weights", 4096},  {"out_features", 64},           {"in_features", 64},
      {"chosen", chosen}, {"pinned", pinned}, {"options", std::move(options)}};
}

/// Three layers over three candidates; the second layer's name would open a script if it were
/// not escaped, the third is pinned with a single option.
json::Object smallReport(bool met = true) {
  json::Array layers;
  layers.push_back(layer("model.layers.0.q_proj", "int4g128",
                         json::Array{option("int2g64", 1152, 0.02), option("int4g128", 2176, 0.004),
                                     option("int8g128", 4160, 0.0005)}));
  layers.push_back(
      layer("a<script>b", "int2g64",
            json::Array{option("int2g64", 1152, 0.001), option("int4g128", 2176, 0.0004),
                        option("int8g128", 4160, 0.0001)}));
  layers.push_back(layer("lm_head", "int8g128", json::Array{option("int8g128", 4160, 0.0)}, true));
  json::Object budget{{"kind", "bits"},        {"target", 3.5}, {"achieved", met ? 3.49 : 3.61},
                      {"unit", "bits/weight"}, {"met", met},    {"slack", met ? 0.01 : -0.11}};
  json::Object curve{{"x", "bytes"},
                     {"points", json::Array{json::Array{4000, 0.031}, json::Array{6000, 0.02},
                                            json::Array{8000, 0.0055}, json::Array{12000, 0.001}}},
                     {"chosen", json::Array{7488, 0.0045}}};
  json::Object precision{
      {"budget", std::move(budget)}, {"sensitivity", "hessian"},
      {"algorithm", "gptq"},         {"candidates", json::Array{"int2g64", "int4g128", "int8g128"}},
      {"estimated_loss", 0.0045},    {"total_bytes", 7488},
      {"bits_per_weight", 4.875},    {"layers", std::move(layers)},
      {"curve", std::move(curve)}};
  return json::Object{{"model", "tiny&\"quoted'.onnx"},
                      {"model_bytes_before", 49152},
                      {"precision", std::move(precision)}};
}

bool contains(StringRef html, StringRef s) { return html.contains(s); }

} // namespace

TEST(PlanReport, IsACompletePageWithStableIds) {
  std::string html = renderPlanHtml(smallReport());
  EXPECT_TRUE(StringRef(html).starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(contains(html, "</html>"));
  for (const char *id :
       {"summary", "bits-chart", "plan-table", "curve-chart", "chosen-point", "render-status"})
    EXPECT_TRUE(contains(html, std::string("id=\"") + id + "\"")) << id;
  EXPECT_TRUE(contains(html, ">not rendered</p>"));
  EXPECT_TRUE(contains(html, "<script>"));
  EXPECT_TRUE(contains(html, "gptq"));
  EXPECT_TRUE(contains(html, "hessian"));
}

TEST(PlanReport, OneRowAndOneBarPerLayer) {
  std::string html = renderPlanHtml(smallReport());
  EXPECT_EQ(StringRef(html).count("class=\"layer-row\""), 3u);
  EXPECT_EQ(StringRef(html).count("<rect class=\"bar\""), 3u);
  // One highlighted loss cell per layer, in the column of its chosen scheme.
  EXPECT_EQ(StringRef(html).count("<td class=\"chosen\">"), 3u);
  // 8 * 2176 bytes / 4096 weights.
  EXPECT_TRUE(contains(html, "4.25"));
}

TEST(PlanReport, EscapesStringsFromTheReport) {
  std::string html = renderPlanHtml(smallReport());
  EXPECT_TRUE(contains(html, "a&lt;script&gt;b"));
  EXPECT_FALSE(contains(html, "a<script>b"));
  EXPECT_TRUE(contains(html, "tiny&amp;&quot;quoted&#39;.onnx"));
  EXPECT_FALSE(contains(html, "tiny&\"quoted'"));
  // The page's own script is the only one.
  EXPECT_EQ(StringRef(html).count("<script"), 1u);
}

TEST(PlanReport, ReferencesNothingOnTheNetwork) {
  std::string html = renderPlanHtml(smallReport());
  const std::string svgNamespace = "http://www.w3.org/2000/svg";
  for (size_t at; (at = html.find(svgNamespace)) != std::string::npos;)
    html.erase(at, svgNamespace.size());
  EXPECT_FALSE(contains(html, "http://"));
  EXPECT_FALSE(contains(html, "https://"));
}

TEST(PlanReport, ShowsWhetherTheBudgetWasMet) {
  EXPECT_FALSE(contains(renderPlanHtml(smallReport(true)), "NOT met"));
  std::string missed = renderPlanHtml(smallReport(false));
  EXPECT_TRUE(contains(missed, "NOT met"));
  EXPECT_TRUE(contains(missed, "slack -0.11"));
}

TEST(PlanReport, LatencyCurveIsInMilliseconds) {
  json::Object report = smallReport();
  json::Object *precision = report.getObject("precision");
  (*precision)["latency_ms"] = 0.71;
  (*precision)["curve"] =
      json::Object{{"x", "ms"},
                   {"points", json::Array{json::Array{0.5, 0.03}, json::Array{0.9, 0.001}}},
                   {"chosen", json::Array{0.71, 0.0045}}};
  std::string html = renderPlanHtml(report);
  EXPECT_TRUE(contains(html, "latency (ms)"));
  EXPECT_TRUE(contains(html, "0.710 ms"));
  EXPECT_TRUE(contains(html, "id=\"chosen-point\""));
}

TEST(PlanReport, NoPrecisionObjectStillGivesAPage) {
  for (json::Object report : {json::Object{{"model", "m.onnx"}}, json::Object{},
                              json::Object{{"model", 3}, {"precision", "oops"}}}) {
    std::string html = renderPlanHtml(report);
    EXPECT_TRUE(StringRef(html).starts_with("<!DOCTYPE html>"));
    EXPECT_TRUE(contains(html, "no mixed-precision plan"));
    EXPECT_TRUE(contains(html, "id=\"render-status\""));
    EXPECT_EQ(StringRef(html).count("class=\"layer-row\""), 0u);
  }
}

TEST(PlanReport, IllTypedFieldsAreTreatedAsAbsent) {
  json::Object everythingWrong{{"model", json::Array{1}},
                               {"precision", json::Object{{"budget", "bits"},
                                                          {"candidates", 3},
                                                          {"layers", "many"},
                                                          {"curve", json::Array{1, 2}},
                                                          {"total_bytes", "big"},
                                                          {"estimated_loss", nullptr}}}};
  std::string html = renderPlanHtml(everythingWrong);
  EXPECT_TRUE(StringRef(html).starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(contains(html, "no mixed-precision plan"));
  EXPECT_EQ(StringRef(html).count("class=\"layer-row\""), 0u);
  EXPECT_FALSE(contains(html, "id=\"chosen-point\""));

  // A layer whose fields have the wrong types still gets its row, but no bar.
  json::Object wrongInside{
      {"precision", json::Object{{"layers", json::Array{1, "x",
                                                        json::Object{{"name", 5},
                                                                     {"weights", "many"},
                                                                     {"chosen", json::Object{}},
                                                                     {"pinned", "yes"},
                                                                     {"options", json::Object{}}}}},
                                 {"curve", json::Object{{"x", 1},
                                                        {"points", json::Array{json::Array{"a", 1},
                                                                               json::Array{1}, 5}},
                                                        {"chosen", "here"}}}}}};
  html = renderPlanHtml(wrongInside);
  EXPECT_EQ(StringRef(html).count("class=\"layer-row\""), 1u);
  EXPECT_EQ(StringRef(html).count("<rect class=\"bar\""), 0u);
  EXPECT_TRUE(contains(html, "no trade-off curve"));
}
