//===- QuantizeWeights.cpp - RTN quantization of constant weights ---------===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/CalibrationInput.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/ActivationRange.h"
#include "qopt/Quant/CalibrationStats.h"
#include "qopt/Quant/Codebooks.h"
#include "qopt/Quant/GPTQ.h"
#include "qopt/Quant/Outliers.h"
#include "qopt/Quant/WeightQuantizer.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <map>
#include <tuple>

namespace qopt::QOpt {
#define GEN_PASS_DEF_QUANTIZEWEIGHTSPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
/// A constant holding `data` as a dense resource blob named after `name`.
template <typename T>
Value blobConstant(OpBuilder &b, Location loc, const std::string &name, ArrayRef<int64_t> shape,
                   Type elementType, const std::vector<T> &data) {
  return resourceConstant(b, loc, name, shape, elementType,
                          ArrayRef<char>(reinterpret_cast<const char *>(data.data()),
                                         data.size() * sizeof(T)),
                          alignof(T));
}

struct QuantizeWeightsPass
    : public qopt::QOpt::impl::QuantizeWeightsPassBase<QuantizeWeightsPass> {
  using Base::Base;
  QuantizeWeightsPass(std::vector<LayerQuantReport> *report, bool int8) : report(report) {
    int8Activations = int8;
  }
  QuantizeWeightsPass(const QuantizeWeightsPassOptions &options,
                      std::vector<LayerQuantReport> *report,
                      std::shared_ptr<quant::CalibrationStats> stats)
      : Base(options), report(report), stats(std::move(stats)) {}

  void runOnOperation() override {
    if (algorithm != "rtn" && algorithm != "gptq") {
      getOperation().emitError() << "algorithm '" << algorithm << "' is not rtn or gptq";
      return signalPassFailure();
    }
    if (activations != "none" && activations != "int8-dynamic" && activations != "int8-static" &&
        activations != "bf16") {
      getOperation().emitError() << "activations '" << activations
                                 << "' is not none, int8-dynamic, int8-static or bf16";
      return signalPassFailure();
    }
    if (int8Activations && activations == "bf16") {
      getOperation().emitError() << "int8-activations and activations=bf16 exclude each other";
      return signalPassFailure();
    }
    if (int8Activations && activations == "none")
      activations = "int8-dynamic";
    std::optional<quant::RangeCalibrator> parsedCalibrator =
        quant::parseRangeCalibrator(calibrator);
    if (!parsedCalibrator) {
      getOperation().emitError() << "calibrator '" << calibrator
                                 << "' is not minmax, percentile, mse or entropy";
      return signalPassFailure();
    }
    rangeCalibrator = *parsedCalibrator;
    if ((algorithm == "gptq" || activations == "int8-static") &&
        failed(loadCalibrationInput(stats, calibration, getOperation(),
                                   algorithm == "gptq" ? "algorithm gptq"
                                                       : "activations=int8-static")))
      return signalPassFailure();
    std::vector<WeightLayer> layers;
    getOperation().walk([&](Operation *op) {
      if (!op->hasAttr("qopt.scheme"))
        return;
      if (auto layer = matchWeightLayer(op))
        layers.push_back(*layer);
      else
        op->emitWarning() << "carries a quantization scheme but no constant 2-D f32 weight; left as is";
    });
    for (WeightLayer &layer : layers)
      if (failed(quantize(layer)))
        return signalPassFailure();
    // Transposes first, then the constants they read.
    for (bool transposes : {true, false})
      for (Operation *op : maybeDead)
        if (isa<TransposeOp>(op) == transposes && op->use_empty())
          op->erase();
  }

private:
  LogicalResult quantize(WeightLayer layer) {
    Operation *op = layer.op;
    auto schemeAttr = dyn_cast<SchemeAttr>(op->getAttr("qopt.scheme"));
    if (!schemeAttr)
      return op->emitOpError() << "has a qopt.scheme attribute that is not a #qopt.scheme";
    quant::Scheme scheme = toQuantScheme(schemeAttr);
    std::string displayName = layerDisplayName(layer);
    std::vector<std::string> names = layerNames(layer);
    std::string weightName = names.empty() ? "weight" : names.back();
    // A table read by both the embedding and the tied output head is quantized once.
    // Codes with outliers taken out serve their own layer only.
    auto key = std::make_tuple(layer.weight.getOperation(), schemeAttr.getAsOpaquePointer(),
                               layer.rowsAreOutputs, outliers > 0.0 && !layer.isEmbedding);
    auto cached = packed.find(key);
    if (cached == packed.end()) {
      FailureOr<Packed> made = pack(layer, schemeAttr, scheme, weightName);
      if (failed(made))
        return failure();
      cached = packed.emplace(key, *made).first;
    }
    const Packed &p = cached->second;
    Value codes = p.codes, scales = p.scales, zeroPoints = p.zeroPoints,
          scaleScales = p.scaleScales;
    int64_t bytes = p.bytes;
    OpBuilder b(op);
    Operation *replacement;
    QuantizedMatMulOp quantized;
    if (isa<MatMulOp, GemmOp>(op)) {
      quantized = QuantizedMatMulOp::create(b, op->getLoc(), op->getResult(0).getType(),
                                            op->getOperand(0), codes, scales, zeroPoints,
                                            scaleScales, schemeAttr, b.getI64IntegerAttr(layer.k),
                                            UnitAttr(), FloatAttr());
      if (failed(markActivations(quantized, layer)))
        return failure();
      // The factors AWQ or SmoothQuant folded into a norm, for exports (qopt-apply-awq).
      if (Attribute factors = op->getAttr("qopt.input_scale"))
        quantized->setAttr("qopt.input_scale", factors);
      replacement = quantized;
      if (auto gemm = dyn_cast<GemmOp>(op); gemm && gemm.getC())
        replacement = AddOp::create(b, op->getLoc(), gemm.getType(), replacement->getResult(0),
                                    gemm.getC());
    } else
      replacement = QuantizedGatherOp::create(b, op->getLoc(), op->getResult(0).getType(), codes,
                                              scales, zeroPoints, scaleScales,
                                              cast<GatherOp>(op).getIndices(), schemeAttr,
                                              b.getI64IntegerAttr(layer.k));
    if (p.outlierOffsets) {
      // The outliers' f16 product joins the packed one.
      auto sparseOp = SparseMatMulOp::create(b, op->getLoc(), op->getResult(0).getType(),
                                             op->getOperand(0), p.outlierOffsets,
                                             p.outlierColumns, p.outlierValues,
                                             b.getI64IntegerAttr(layer.k));
      replacement = AddOp::create(b, op->getLoc(), op->getResult(0).getType(),
                                  replacement->getResult(0), sparseOp.getResult());
    }
    Value oldWeight = op->getOperand(isa<GatherOp>(op) ? 0 : 1);
    op->getResult(0).replaceAllUsesWith(replacement->getResult(0));
    op->erase();
    // Erased once every layer is done: a weight may serve two layers, and the cache of packed
    // weights is keyed by the weight op.
    if (auto t = oldWeight.getDefiningOp<TransposeOp>())
      maybeDead.insert(t);
    maybeDead.insert(layer.weight);

    int64_t before = layer.n * layer.k * 4;
    numQuantized++;
    numWeightBytesBefore += before;
    numWeightBytesAfter += bytes;
    if (report) {
      std::string schemeText;
      llvm::raw_string_ostream os(schemeText);
      Attribute(schemeAttr).print(os);
      // Read from the quantized matmul itself: a bias or the outliers may be added after it.
      double activationScale = quantized && quantized.getActivationScale()
                                   ? quantized.getActivationScale()->convertToDouble()
                                   : 0.0;
      report->push_back({displayName, schemeText, weightName,
                         layer.rowsAreOutputs ? "NxK" : "KxN", layer.n, layer.k, before, bytes,
                         p.relativeError, activationScale});
    }
    return success();
  }

  struct Packed {
    Value codes, scales, zeroPoints, scaleScales;
    Value outlierOffsets, outlierColumns, outlierValues; // null without outliers
    int64_t bytes = 0;
    double relativeError = 0.0;
  };

  /// Quantizes the layer's weight into constants placed before its first user.
  FailureOr<Packed> pack(const WeightLayer &layer, SchemeAttr schemeAttr,
                         const quant::Scheme &scheme, const std::string &base) {
    Operation *op = layer.op;
    std::optional<WeightRowsView> view = viewWeightRows(layer);
    if (!view)
      return op->emitOpError() << "has a weight whose data cannot be read";
    const float *weight = view->data;
    quant::QuantizedWeight q;
    quant::SparseOutliers sparse;
    // Embedding lookups have no input activations: they are always rounded to nearest.
    if (algorithm == "gptq" && !layer.isEmbedding) {
      FailureOr<quant::ActivationStats *> input = layerStatistics(*stats, layer);
      if (failed(input))
        return failure();
      quant::GPTQOptions options;
      options.dampening = dampening;
      options.blockSize = blockSize;
      options.actOrder = actOrder;
      options.outlierFraction = outliers;
      quant::GPTQResult result = quant::gptqQuantize(weight, layer.n, layer.k,
                                                     (*input)->gram.data(), scheme, options);
      if (result.fellBackToRTN)
        op->emitWarning() << "layer '" << layerDisplayName(layer)
                          << "': the Hessian could not be factored even with more dampening; "
                             "rounded to nearest instead";
      q = std::move(result.weight);
      sparse = std::move(result.outliers);
    } else {
      q = quant::quantizeWeight(weight, layer.n, layer.k, scheme);
      if (outliers > 0.0 && !layer.isEmbedding) {
        // Weighted by the input's energy where calibration measured it.
        std::vector<double> diagonal;
        if (stats)
          if (const quant::ActivationStats *input = stats->forLayer(layerDisplayName(layer));
              input && input->channels == layer.k)
            for (int64_t i = 0; i < layer.k; ++i)
              diagonal.push_back(input->gram[i * layer.k + i]);
        sparse = quant::extractOutliers(weight, q, scheme,
                                        diagonal.empty() ? nullptr : diagonal.data(), outliers);
      }
    }
    OpBuilder b(op);
    arith::ConstantOp weightOp = layer.weight;
    Location loc = weightOp.getLoc();
    MLIRContext *ctx = &getContext();
    Type u8 = IntegerType::get(ctx, 8, IntegerType::Unsigned);
    Packed p;
    auto count = [&](const auto &v) { p.bytes += v.size() * sizeof(v[0]); };
    p.codes = blobConstant(b, loc, base + ".codes", {layer.n, scheme.rowBytes(layer.k)}, u8,
                           q.codes);
    count(q.codes);
    SmallVector<int64_t> groupShape{layer.n, q.groups};
    if (scheme.doubleQuantBlock > 0) {
      p.scales = blobConstant(b, loc, base + ".scales", groupShape, u8, q.scaleCodes);
      p.scaleScales = blobConstant(b, loc, base + ".scale_scales",
                                   {static_cast<int64_t>(q.scaleScales.size())},
                                   Float32Type::get(ctx), q.scaleScales);
      count(q.scaleCodes);
      count(q.scaleScales);
    } else if (scheme.scaleType == quant::ScaleType::F32) {
      p.scales = blobConstant(b, loc, base + ".scales", groupShape, Float32Type::get(ctx), q.scales);
      count(q.scales);
    } else {
      p.scales = blobConstant(b, loc, base + ".scales", groupShape, schemeAttr.getScaleType(),
                              q.scaleBits);
      count(q.scaleBits);
    }
    if (!scheme.symmetric) {
      p.zeroPoints = blobConstant(b, loc, base + ".zero_points", groupShape, u8, q.zeroPoints);
      count(q.zeroPoints);
    }
    if (sparse.count() > 0) {
      Type i32 = IntegerType::get(ctx, 32);
      p.outlierOffsets = blobConstant(b, loc, base + ".outlier_offsets",
                                      {layer.n + 1}, i32, sparse.rowOffsets);
      p.outlierColumns = blobConstant(b, loc, base + ".outlier_columns", {sparse.count()}, i32,
                                      sparse.columns);
      p.outlierValues = blobConstant(b, loc, base + ".outlier_values", {sparse.count()},
                                     Float16Type::get(ctx), sparse.values);
      p.bytes += sparse.bytes();
    }
    // How far the quantized weight is from the original, for the report; a block of rows at a
    // time, so that no second full-size copy of a large weight exists.
    const int64_t blockRows = std::max<int64_t>(1, (int64_t(1) << 20) / layer.k);
    std::vector<float> restored(std::min(blockRows, layer.n) * layer.k);
    double errorSq = 0.0, normSq = 0.0;
    for (int64_t r0 = 0; r0 < layer.n; r0 += blockRows) {
      int64_t r1 = std::min(layer.n, r0 + blockRows);
      quant::dequantizeRows(q, scheme, r0, r1, restored.data());
      if (sparse.count() > 0)
        for (int64_t r = r0; r < r1; ++r)
          for (int32_t j = sparse.rowOffsets[r]; j < sparse.rowOffsets[r + 1]; ++j)
            restored[(r - r0) * layer.k + sparse.columns[j]] +=
                quant::halfToFloat(sparse.values[j]);
      for (int64_t i = 0; i < (r1 - r0) * layer.k; ++i) {
        double original = weight[r0 * layer.k + i];
        double d = original - restored[i];
        errorSq += d * d;
        normSq += original * original;
      }
    }
    p.relativeError = normSq > 0 ? std::sqrt(errorSq / normSq) : 0.0;
    return p;
  }

  /// With int8 activations, a matmul over 4- or 8-bit integer codes quantizes its input: per
  /// group at run time, or with the one scale calibration gives its input. With bf16 ones,
  /// every quantized matmul rounds its input to bf16.
  LogicalResult markActivations(QuantizedMatMulOp op, const WeightLayer &layer) {
    SchemeAttr s = op.getScheme();
    if (activations == "bf16") {
      op.setBf16Activations(true);
      return success();
    }
    if (activations == "none" || s.getCodebook() != Codebook::Int ||
        (s.getBits() != 4 && s.getBits() != 8))
      return success();
    op.setInt8Activations(true);
    if (activations != "int8-static")
      return success();
    FailureOr<quant::ActivationStats *> found = layerStatistics(*stats, layer);
    if (failed(found))
      return failure();
    const quant::ActivationStats *input = *found;
    if (input->histogramStale && rangeCalibrator != quant::RangeCalibrator::MinMax)
      return op->emitOpError()
             << "layer '" << layerDisplayName(layer) << "': the statistics were rescaled after they were "
             << "measured (smoothing or AWQ); the " << calibrator
             << " calibrator needs the activations measured again (calibrate with data)";
    double range = quant::activationRange(*input, rangeCalibrator, percentile);
    // A tensor that was always zero still needs a valid scale.
    float scale = range > 0.0 ? static_cast<float>(range / 127.0) : 1.0f;
    op.setActivationScaleAttr(FloatAttr::get(Float32Type::get(&getContext()), scale));
    return success();
  }

  std::map<std::tuple<Operation *, const void *, bool, bool>, Packed> packed;
  llvm::SetVector<Operation *> maybeDead;
  std::vector<LayerQuantReport> *report = nullptr;
  std::shared_ptr<quant::CalibrationStats> stats;
  quant::RangeCalibrator rangeCalibrator = quant::RangeCalibrator::MinMax;
};
} // namespace

std::unique_ptr<Pass>
qopt::QOpt::createQuantizeWeightsPass(std::vector<LayerQuantReport> *report,
                                      bool int8Activations) {
  return std::make_unique<QuantizeWeightsPass>(report, int8Activations);
}

std::unique_ptr<Pass>
qopt::QOpt::createQuantizeWeightsPass(const QuantizeWeightsPassOptions &options,
                                      std::vector<LayerQuantReport> *report,
                                      std::shared_ptr<quant::CalibrationStats> stats) {
  return std::make_unique<QuantizeWeightsPass>(options, report, std::move(stats));
}
