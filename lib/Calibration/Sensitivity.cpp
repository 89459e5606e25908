//===- Sensitivity.cpp - how much each layer's quantization costs the model ===//
#include "qopt/Calibration/Sensitivity.h"

#include "qopt/Calibration/ModelRunner.h"
#include "qopt/Quant/PrecisionCandidates.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/CalibrationInput.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cblas.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fcntl.h>
#include <unistd.h>

using namespace mlir;
using namespace qopt;
using namespace qopt::QOpt;

namespace {
/// Output channels the output error is estimated from: more are sampled evenly, which keeps
/// the cost of a layer of a large model near that of a small one (rows quantize independently).
constexpr int64_t kSampledRows = 256;

struct Decided {
  WeightLayer layer;
  std::string name;
  std::vector<float> weight; // [n, k]
  const quant::ActivationStats *input = nullptr;
  std::vector<int64_t> rows; // the sampled output channels
};

/// The weights `candidate` makes of `rows` x k weights `w`, as the compiler would quantize them.
std::vector<float> quantizeRows(const float *w, int64_t rows, int64_t k,
                                const quant::PrecisionCandidate &candidate,
                                const quant::ActivationStats &input,
                                const SensitivityOptions &options) {
  if (candidate.keepFloat)
    return std::vector<float>(w, w + rows * k);
  if (!options.gptq)
    return quant::roundTripWeight(w, rows, k, candidate.scheme);
  quant::GPTQResult result =
      quant::gptqQuantize(w, rows, k, input.gram.data(), candidate.scheme, options.gptqOptions);
  return quant::dequantizeWeight(result.weight, candidate.scheme);
}

/// tr(E H E^T) / tokens over the sampled rows, scaled to all n: the summed squared error of the
/// layer's outputs per token.
double outputError(const Decided &d, const std::vector<float> &sampled,
                   const std::vector<float> &quantized) {
  int64_t m = static_cast<int64_t>(d.rows.size()), k = d.layer.k;
  std::vector<double> e(m * k), eh(m * k);
  for (int64_t i = 0; i < m * k; ++i)
    e[i] = double(sampled[i]) - double(quantized[i]);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, k, 1.0, e.data(), k,
              d.input->gram.data(), k, 0.0, eh.data(), k);
  double sum = 0.0;
  for (int64_t i = 0; i < m * k; ++i)
    sum += e[i] * eh[i];
  return sum / double(std::max<int64_t>(1, d.input->rows)) * double(d.layer.n) / double(m);
}

/// Log-probabilities of every row of `logits` ([rows, vocabulary]).
void logSoftmax(const float *logits, int64_t rows, int64_t vocabulary, float *out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = logits + r * vocabulary;
    float top = x[0];
    for (int64_t v = 1; v < vocabulary; ++v)
      top = std::max(top, x[v]);
    double sum = 0.0;
    for (int64_t v = 0; v < vocabulary; ++v)
      sum += std::exp(double(x[v]) - top);
    float logSum = top + static_cast<float>(std::log(sum));
    for (int64_t v = 0; v < vocabulary; ++v)
      out[r * vocabulary + v] = x[v] - logSum;
  }
}

/// Measures KL(f32 model || model with one weight replaced) on calibration windows, rewriting
/// the weight in the loaded model's weights file in place.
class KLProbe {
public:
  LogicalResult init(ModuleOp module, const std::vector<Decided> &layers,
                     const SensitivityOptions &options) {
    CalibrationOptions run = options.calibration;
    run.samples = std::min(run.samples, options.windows);
    FailureOr<CalibrationWindows> windows = readCalibrationWindows(module, run);
    if (failed(windows))
      return failure();
    data = std::move(*windows);
    OwningOpRef<ModuleOp> probe = module.clone();
    // The clone's layers, numbered as the original's, get their weight constants tagged.
    std::vector<WeightLayer> copies = decidedLayers(*probe);
    if (copies.size() != layers.size())
      return module.emitError() << "sensitivity: the model's copy has other layers";
    for (size_t i = 0; i < copies.size(); ++i)
      copies[i].weight->setAttr("qopt.weight_slot",
                                StringAttr::get(module.getContext(), std::to_string(i)));
    FailureOr<std::unique_ptr<CompiledModel>> built = CompiledModel::build(*probe, run, module);
    if (failed(built))
      return failure();
    compiled = std::move(*built);
    auto slots = (*probe)->getAttrOfType<DictionaryAttr>("qopt.weight_slots");
    for (size_t i = 0; i < layers.size(); ++i) {
      auto offset = slots ? slots.getAs<IntegerAttr>(std::to_string(i)) : IntegerAttr();
      if (!offset)
        return module.emitError() << "sensitivity: the weight of layer '" << layers[i].name
                                  << "' has no place in the compiled model's weights file";
      offsets.push_back(offset.getInt());
    }
    file = ::open(compiled->weightsPath().c_str(), O_RDWR | O_CLOEXEC);
    if (file < 0)
      return module.emitError() << "sensitivity: cannot open the compiled model's weights";
    // The reference: the f32 model's log-probabilities on every window.
    outputs.resize(1);
    for (size_t w = 0; w < data.windows.size(); ++w) {
      const float *logits;
      if (failed(runWindow(module, w, logits)))
        return failure();
      reference.resize((w + 1) * tokens * vocabulary);
      logSoftmax(logits, tokens, vocabulary, reference.data() + w * tokens * vocabulary);
    }
    return success();
  }
  ~KLProbe() {
    if (file >= 0)
      ::close(file);
  }

  /// Mean KL per token with layer `i`'s weight replaced by `rows` ([n, k]).
  FailureOr<double> divergence(ModuleOp module, const Decided &d, size_t i,
                               const std::vector<float> &rows) {
    if (failed(write(module, d, i, rows)))
      return failure();
    std::vector<float> logp(tokens * vocabulary);
    double kl = 0.0;
    for (size_t w = 0; w < data.windows.size(); ++w) {
      const float *logits;
      if (failed(runWindow(module, w, logits)))
        return failure();
      logSoftmax(logits, tokens, vocabulary, logp.data());
      const float *ref = reference.data() + w * tokens * vocabulary;
      for (int64_t t = 0; t < tokens * vocabulary; ++t)
        kl += std::exp(double(ref[t])) * (double(ref[t]) - double(logp[t]));
    }
    if (failed(write(module, d, i, d.weight)))
      return failure();
    return std::max(0.0, kl / double(tokens * data.windows.size()));
  }

private:
  CalibrationWindows data;
  std::unique_ptr<CompiledModel> compiled;
  std::vector<int64_t> offsets;
  std::vector<qopt_tensor> outputs;
  std::vector<float> reference;
  int64_t tokens = 0, vocabulary = 0;
  int file = -1;

  LogicalResult runWindow(ModuleOp module, size_t w, const float *&logits) {
    std::string error;
    outputs.assign(outputs.size(), qopt_tensor{});
    if (!compiled->run(data, w, outputs, error))
      return module.emitError() << "sensitivity: window " << w << ": the model failed: " << error;
    const qopt_tensor &out = outputs[0];
    if (out.dtype != QOPT_FLOAT32 || out.rank < 2)
      return module.emitError() << "sensitivity (measured): the model's first output must be f32 "
                                   "logits [..., tokens, vocabulary]";
    int64_t v = out.dims[out.rank - 1], rows = 1;
    for (int r = 0; r + 1 < out.rank; ++r)
      rows *= out.dims[r];
    if ((tokens && (rows != tokens || v != vocabulary)) || v < 2)
      return module.emitError() << "sensitivity (measured): the logits change shape between windows";
    tokens = rows;
    vocabulary = v;
    logits = static_cast<const float *>(out.data);
    return success();
  }

  /// Stores [n, k] rows as the constant holds them ([n, k], or [k, n]).
  LogicalResult write(ModuleOp module, const Decided &d, size_t i, const std::vector<float> &rows) {
    int64_t n = d.layer.n, k = d.layer.k;
    std::vector<float> stored(n * k);
    if (d.layer.rowsAreOutputs)
      stored = rows;
    else
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c)
          stored[c * n + r] = rows[r * k + c];
    size_t bytes = stored.size() * sizeof(float);
    if (::pwrite(file, stored.data(), bytes, offsets[i]) != static_cast<ssize_t>(bytes))
      return module.emitError() << "sensitivity: cannot rewrite a weight of the compiled model";
    return success();
  }
};

/// The hybrid's estimates: KL measured at the middle candidate and, where it is coarser, at the
/// coarsest, carried to every candidate along the power of the output error fitted through both.
template <typename Measure>
LogicalResult carryMeasurements(Measure measureAt, size_t middle, size_t coarsest,
                                const std::vector<double> &errors, std::vector<double> &losses) {
  FailureOr<double> atMiddle = measureAt(middle);
  if (failed(atMiddle))
    return failure();
  double power = 1.0;
  if (coarsest != middle && errors[coarsest] > errors[middle] && errors[middle] > 0.0) {
    FailureOr<double> atCoarsest = measureAt(coarsest);
    if (failed(atCoarsest))
      return failure();
    if (*atCoarsest > 0.0 && *atMiddle > 0.0)
      power = std::clamp(std::log(*atCoarsest / *atMiddle) /
                             std::log(errors[coarsest] / errors[middle]),
                         0.5, 2.0);
  }
  for (size_t c = 0; c < losses.size(); ++c)
    losses[c] = errors[middle] > 0.0 ? *atMiddle * std::pow(errors[c] / errors[middle], power)
                                     : 0.0;
  return success();
}
} // namespace

const char *qopt::sensitivityMethodName(SensitivityMethod method) {
  switch (method) {
  case SensitivityMethod::Auto: return "auto";
  case SensitivityMethod::Hessian: return "hessian";
  case SensitivityMethod::Measured: return "measured";
  case SensitivityMethod::Hybrid: return "hybrid";
  }
  return "";
}

std::optional<SensitivityMethod> qopt::parseSensitivityMethod(llvm::StringRef name) {
  if (name == "auto")
    return SensitivityMethod::Auto;
  if (name == "hessian")
    return SensitivityMethod::Hessian;
  if (name == "measured")
    return SensitivityMethod::Measured;
  if (name == "hybrid")
    return SensitivityMethod::Hybrid;
  return std::nullopt;
}

FailureOr<SensitivityMethod> qopt::attachSensitivities(ModuleOp module,
                                                       const SensitivityOptions &requested,
                                                       quant::CalibrationStats &stats) {
  SensitivityOptions options = requested;
  std::vector<Decided> layers;
  for (const WeightLayer &layer : decidedLayers(module)) {
    Decided d;
    d.layer = layer;
    d.name = layerDisplayName(layer);
    std::optional<std::vector<float>> w = readWeightRows(layer);
    if (!w)
      return layer.op->emitOpError() << "has a weight whose data cannot be read";
    d.weight = std::move(*w);
    FailureOr<quant::ActivationStats *> input = layerStatistics(stats, layer);
    if (failed(input))
      return failure();
    d.input = *input;
    int64_t m = std::min(layer.n, kSampledRows);
    for (int64_t i = 0; i < m; ++i)
      d.rows.push_back(i * layer.n / m);
    layers.push_back(std::move(d));
  }
  if (layers.empty())
    return options.method;

  std::string error;
  auto candidates = candidatesFor(layers.front().layer, options.candidates, error);
  if (!candidates)
    return module.emitError() << "mixed precision: " << error;

  if (options.method == SensitivityMethod::Auto) {
    // Measuring every candidate takes one model run per layer and candidate; its work grows as
    // layers x candidates x tokens x weights. Up to about 1e13 (qlm_llama: 5e12, 2 minutes on
    // two cores) it is measured; a larger model gets the hybrid's one or two runs per layer.
    double weights = 0.0;
    for (const Decided &d : layers)
      weights += double(d.layer.n) * double(d.layer.k);
    int64_t seq = options.calibration.sequenceLength ? options.calibration.sequenceLength : 256;
    double work = double(layers.size()) * double(candidates->size()) *
                  double(std::min(options.windows, options.calibration.samples)) * double(seq) *
                  weights;
    options.method = work <= 1e13 ? SensitivityMethod::Measured : SensitivityMethod::Hybrid;
  }
  KLProbe probe;
  bool measure = options.method != SensitivityMethod::Hessian;
  if (measure && failed(probe.init(module, layers, options)))
    return failure();
  // A hybrid measurement probes two candidates, the coarsest and the middle one by size, and
  // carries them to the others along a power of the output error fitted through both: the KL
  // divergence grows as the square of small errors, faster once 2-bit errors leave that regime
  // (qlm_llama: see docs/design.md).
  std::vector<size_t> bySize;
  for (size_t c = 0; c < candidates->size(); ++c)
    if (!(*candidates)[c].keepFloat)
      bySize.push_back(c);
  std::sort(bySize.begin(), bySize.end(), [&](size_t a, size_t b) {
    int64_t x = (*candidates)[a].bytes(1024, 1024), y = (*candidates)[b].bytes(1024, 1024);
    return x != y ? x < y : a < b;
  });
  size_t middle = bySize.empty() ? 0 : bySize[(bySize.size() - 1) / 2];
  size_t coarsest = bySize.empty() ? 0 : bySize.front();
  auto start = std::chrono::steady_clock::now();
  MLIRContext *ctx = module.getContext();
  for (size_t i = 0; i < layers.size(); ++i) {
    const Decided &d = layers[i];
    int64_t k = d.layer.k;
    auto measureAt = [&](size_t c) {
      return probe.divergence(
          module, d, i,
          quantizeRows(d.weight.data(), d.layer.n, k, (*candidates)[c], *d.input, options));
    };
    std::vector<double> losses(candidates->size());
    if (options.method == SensitivityMethod::Measured) {
      for (size_t c = 0; c < candidates->size(); ++c) {
        FailureOr<double> kl = measureAt(c);
        if (failed(kl))
          return failure();
        losses[c] = *kl;
      }
    } else {
      // The output errors: the estimate itself (hessian), or what carries the hybrid's
      // measurements to the other candidates.
      std::vector<float> sampled;
      for (int64_t r : d.rows)
        sampled.insert(sampled.end(), d.weight.begin() + r * k, d.weight.begin() + (r + 1) * k);
      std::vector<double> errors;
      for (const quant::PrecisionCandidate &c : *candidates)
        errors.push_back(outputError(
            d, sampled,
            quantizeRows(sampled.data(), int64_t(d.rows.size()), k, c, *d.input, options)));
      losses = errors;
      if (options.method == SensitivityMethod::Hybrid &&
          failed(carryMeasurements(measureAt, middle, coarsest, errors, losses)))
        return failure();
    }
    SmallVector<NamedAttribute> entries;
    for (size_t c = 0; c < candidates->size(); ++c)
      entries.emplace_back(StringAttr::get(ctx, (*candidates)[c].name),
                           FloatAttr::get(Float64Type::get(ctx), losses[c]));
    d.layer.op->setAttr("qopt.sensitivity", DictionaryAttr::get(ctx, entries));
    if (options.progress) {
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      llvm::errs() << "\rsensitivity: layer " << (i + 1) << "/" << layers.size() << ", "
                   << llvm::format("%.0f", elapsed) << "s elapsed   ";
      if (i + 1 == layers.size())
        llvm::errs() << "\n";
    }
  }
  return options.method;
}
