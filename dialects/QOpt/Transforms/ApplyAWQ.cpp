//===- ApplyAWQ.cpp - AWQ scales folded into the ops that produce inputs --===//
//
// The numerical searches are lib/Quant/AWQ.cpp's; this pass finds the layers that share an
// input, the op that can absorb a per-channel factor of that input, and rewrites the constants.
// Every rewritten constant is a new one, used by the rewritten op alone: constants are shared
// after CSE (two norms with equal weights) and by tied layers.
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/AWQ.h"
#include "qopt/Quant/CalibrationStats.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Regex.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_APPLYAWQPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
/// The f32 values of a constant operand with `count` elements, or nothing.
std::optional<std::vector<float>> floatVector(Value v, int64_t count) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.getElementType().isF32() || !type.hasStaticShape() ||
      type.getNumElements() != count)
    return std::nullopt;
  std::optional<std::vector<char>> bytes = constantData(v);
  if (!bytes)
    return std::nullopt;
  std::vector<float> out(count);
  std::memcpy(out.data(), bytes->data(), count * sizeof(float));
  return out;
}

/// Sets `operand` to a new constant of its type holding `values`.
void replaceConstantOperand(OpOperand &operand, const std::vector<float> &values,
                            StringRef name) {
  Operation *user = operand.getOwner();
  Value old = operand.get();
  OpBuilder b(user);
  auto type = cast<RankedTensorType>(old.getType());
  Value fresh = resourceConstant(
      b, old.getLoc(), name, type.getShape(), type.getElementType(),
      ArrayRef<char>(reinterpret_cast<const char *>(values.data()), values.size() * 4), 64);
  operand.set(fresh);
  if (Operation *def = old.getDefiningOp(); def && def->use_empty())
    def->erase();
}

/// The name of a constant's resource blob, for naming the constant that replaces it.
std::string resourceName(Value v, StringRef fallback) {
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
      return res.getRawHandle().getKey().str();
  return fallback.str();
}

/// Replaces the layer's weight by `rows` ([N, K]) in a constant of its own, same layout.
void replaceWeight(WeightLayer &layer, const std::vector<float> &rows) {
  Operation *op = layer.op;
  OpOperand &operand = op->getOpOperand(1);
  std::string name = resourceName(layer.weight, "weight") + ".awq";
  if (!layer.rowsAreOutputs) {
    std::vector<float> kn(rows.size());
    for (int64_t r = 0; r < layer.n; ++r)
      for (int64_t c = 0; c < layer.k; ++c)
        kn[c * layer.n + r] = rows[r * layer.k + c];
    replaceConstantOperand(operand, kn, name);
  } else if (auto t = operand.get().getDefiningOp<TransposeOp>()) {
    // matmul(x, transpose(W)): a transpose of its own over the new constant.
    OpBuilder b(op);
    Operation *copy = b.clone(*t);
    operand.set(copy->getResult(0));
    if (t->use_empty())
      t->erase();
    replaceConstantOperand(copy->getOpOperand(0), rows, name);
  } else {
    replaceConstantOperand(operand, rows, name); // gemm with transB
  }
  layer = *matchWeightLayer(op);
}

/// What can absorb a per-channel division of a layer group's input.
struct Absorber {
  Operation *norm = nullptr;          // rms_norm / layer_norm: scale (and bias) divided
  std::optional<WeightLayer> linear;  // a linear layer: output channels (and bias) divided
};

struct ApplyAWQPass : public qopt::QOpt::impl::ApplyAWQPassBase<ApplyAWQPass> {
  using Base::Base;
  ApplyAWQPass(const ApplyAWQPassOptions &options, std::shared_ptr<quant::CalibrationStats> stats)
      : Base(options), stats(std::move(stats)) {}

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(loadStatistics(module)))
      return signalPassFailure();
    // Layers with a scheme, grouped by the tensor they read, in program order.
    llvm::MapVector<Value, SmallVector<Operation *>> groups;
    module.walk([&](Operation *op) {
      if (!op->hasAttr("qopt.scheme") || !isa<SchemeAttr>(op->getAttr("qopt.scheme")))
        return;
      std::optional<WeightLayer> layer = matchWeightLayer(op);
      if (layer && !layer->isEmbedding)
        groups[op->getOperand(0)].push_back(op);
    });
    for (auto &[input, ops] : groups)
      if (failed(scaleGroup(input, ops)))
        return signalPassFailure();
    if (clip)
      for (auto &[input, ops] : groups)
        for (Operation *op : ops)
          if (failed(clipLayer(op)))
            return signalPassFailure();
  }

private:
  /// The statistics handed over, or those of the `calibration` file, loaded into the object
  /// the pipeline shares between its passes (AWQ rescales them for GPTQ).
  LogicalResult loadStatistics(Operation *anchor) {
    if (!stats)
      stats = std::make_shared<quant::CalibrationStats>();
    if (!stats->layerInput.empty())
      return success();
    if (calibration.empty())
      return anchor->emitError() << "AWQ needs calibration statistics";
    std::string error;
    if (!stats->load(calibration, error))
      return anchor->emitError() << error;
    return success();
  }

  FailureOr<quant::ActivationStats *> statsOf(const WeightLayer &layer) {
    std::string name = layerDisplayName(layer);
    quant::ActivationStats *s = stats->forLayer(name);
    if (!s)
      return layer.op->emitOpError()
             << "has no calibration statistics for layer '" << name << "' (made for another model?)";
    if (s->channels != layer.k)
      return layer.op->emitOpError() << "calibration statistics of layer '" << name << "' have "
                                     << s->channels << " input channels, the layer has "
                                     << layer.k;
    return s;
  }

  std::optional<Absorber> findAbsorber(Value input, ArrayRef<Operation *> ops, int64_t k) {
    llvm::SmallPtrSet<Operation *, 8> members(ops.begin(), ops.end());
    // Every reader must be scaled with the group, or it would see the divided tensor.
    for (Operation *user : input.getUsers())
      if (!members.contains(user))
        return std::nullopt;
    Operation *def = input.getDefiningOp();
    if (!def)
      return std::nullopt;
    if (auto norm = dyn_cast<RMSNormOp>(def)) {
      if (floatVector(norm.getScale(), k))
        return Absorber{def, std::nullopt};
      return std::nullopt;
    }
    if (auto norm = dyn_cast<LayerNormOp>(def)) {
      if (floatVector(norm.getScale(), k) && (!norm.getBias() || floatVector(norm.getBias(), k)))
        return Absorber{def, std::nullopt};
      return std::nullopt;
    }
    if (auto mul = dyn_cast<MulOp>(def)) {
      // A gated MLP: x = act(gate) * up. Dividing up's output channels divides x.
      if (mul.getLhs().getType() != mul.getType() || mul.getRhs().getType() != mul.getType())
        return std::nullopt;
      for (Value side : {mul.getRhs(), mul.getLhs()}) {
        Operation *producer = side.getDefiningOp();
        if (!producer || !side.hasOneUse())
          continue;
        std::optional<WeightLayer> layer = matchWeightLayer(producer);
        if (!layer || layer->isEmbedding || layer->n != k)
          continue;
        if (auto gemm = dyn_cast<GemmOp>(producer); gemm && gemm.getC() &&
                                                      !floatVector(gemm.getC(), k))
          continue;
        return Absorber{nullptr, layer};
      }
    }
    return std::nullopt;
  }

  LogicalResult scaleGroup(Value input, ArrayRef<Operation *> ops) {
    SmallVector<WeightLayer> layers;
    for (Operation *op : ops)
      layers.push_back(*matchWeightLayer(op));
    int64_t k = layers.front().k;
    FailureOr<quant::ActivationStats *> st = statsOf(layers.front());
    if (failed(st))
      return failure();
    for (const WeightLayer &l : layers)
      if (failed(statsOf(l)) || *statsOf(l) != *st)
        return l.op->emitOpError() << "reads the same tensor as '" << layerDisplayName(layers[0])
                                   << "' but has other calibration statistics";
    std::optional<Absorber> absorber = findAbsorber(input, ops, k);
    if (!absorber)
      return success(); // nothing can take the factors: the layers keep their scale (clip only)

    std::vector<std::vector<float>> weights;
    std::vector<quant::ScaledLayer> scaled;
    for (const WeightLayer &l : layers) {
      std::optional<std::vector<float>> rows = readWeightRows(l);
      if (!rows)
        return l.op->emitOpError() << "has a weight whose data cannot be read";
      weights.push_back(std::move(*rows));
    }
    for (size_t i = 0; i < layers.size(); ++i)
      scaled.push_back({weights[i].data(), layers[i].n, layers[i].k,
                        toQuantScheme(cast<SchemeAttr>(layers[i].op->getAttr("qopt.scheme")))});
    quant::AWQScaleSearch search =
        quant::searchAWQScales(scaled, (*st)->gram, (*st)->meanAbs(), grid);
    if (search.exponent == 0.0)
      return success(); // plain rounding was best: leave the graph as it is
    const std::vector<double> &s = search.scales;

    // Weights: input channels times s.
    for (size_t i = 0; i < layers.size(); ++i) {
      std::vector<float> &rows = weights[i];
      for (int64_t r = 0; r < layers[i].n; ++r)
        for (int64_t c = 0; c < k; ++c)
          rows[r * k + c] = static_cast<float>(rows[r * k + c] * s[c]);
      replaceWeight(layers[i], rows);
    }
    // The producer: divided by s.
    auto divide = [&](std::vector<float> v) {
      for (int64_t c = 0; c < k; ++c)
        v[c] = static_cast<float>(v[c] / s[c]);
      return v;
    };
    if (absorber->norm) {
      Operation *norm = absorber->norm;
      for (unsigned i = 1; i < norm->getNumOperands(); ++i) {
        OpOperand &operand = norm->getOpOperand(i);
        replaceConstantOperand(operand, divide(*floatVector(operand.get(), k)),
                               resourceName(operand.get(), "norm") + ".awq");
      }
    } else {
      WeightLayer producer = *absorber->linear;
      std::vector<float> rows = *readWeightRows(producer);
      for (int64_t r = 0; r < producer.n; ++r)
        for (int64_t c = 0; c < producer.k; ++c)
          rows[r * producer.k + c] = static_cast<float>(rows[r * producer.k + c] / s[r]);
      replaceWeight(producer, rows);
      if (auto gemm = dyn_cast<GemmOp>(producer.op); gemm && gemm.getC()) {
        OpOperand &bias = gemm->getOpOperand(2);
        replaceConstantOperand(bias, divide(*floatVector(bias.get(), k)),
                               resourceName(bias.get(), "bias") + ".awq");
      }
    }
    (*st)->divideChannels(s);
    ++numScaled;
    return success();
  }

  /// The reference implementation leaves the query and key projections unclipped: their errors
  /// meet in the attention scores, which a layer-output error does not see.
  static bool isQueryOrKey(const std::vector<std::string> &names) {
    static llvm::Regex pattern("(^|[./_])(q|k|wq|wk|q_proj|k_proj|query|key)([./_]|$)");
    for (const std::string &name : names)
      if (pattern.match(name))
        return true;
    return false;
  }

  LogicalResult clipLayer(Operation *op) {
    WeightLayer layer = *matchWeightLayer(op);
    if (isQueryOrKey({layerDisplayName(layer)}))
      return success();
    FailureOr<quant::ActivationStats *> st = statsOf(layer);
    if (failed(st))
      return failure();
    std::optional<std::vector<float>> rows = readWeightRows(layer);
    if (!rows)
      return op->emitOpError() << "has a weight whose data cannot be read";
    quant::Scheme scheme = toQuantScheme(cast<SchemeAttr>(op->getAttr("qopt.scheme")));
    std::vector<float> ratios = quant::searchClipRatios(rows->data(), layer.n, layer.k, scheme,
                                                        (*st)->gram, grid, maxShrink);
    if (llvm::all_of(ratios, [](float r) { return r >= 1.0f; }))
      return success();
    quant::clipWeight(rows->data(), layer.n, layer.k, scheme, ratios);
    replaceWeight(layer, *rows);
    ++numClipped;
    return success();
  }

  std::shared_ptr<quant::CalibrationStats> stats;
};
} // namespace

std::unique_ptr<Pass>
qopt::QOpt::createApplyAWQPass(const ApplyAWQPassOptions &options,
                               std::shared_ptr<quant::CalibrationStats> stats) {
  return std::make_unique<ApplyAWQPass>(options, std::move(stats));
}
