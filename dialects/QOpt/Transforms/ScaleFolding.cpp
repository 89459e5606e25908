//===- ScaleFolding.cpp - per-channel factors folded into producers -------===//
#include "dialects/QOpt/Transforms/ScaleFolding.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <cstring>

using namespace mlir;
using namespace qopt::QOpt;

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
} // namespace

void qopt::QOpt::replaceWeight(WeightLayer &layer, const std::vector<float> &rows,
                                StringRef suffix) {
  Operation *op = layer.op;
  OpOperand &operand = op->getOpOperand(1);
  std::string name = resourceName(layer.weight, "weight") + suffix.str();
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


std::optional<ScaleAbsorber> qopt::QOpt::findScaleAbsorber(Value input, ArrayRef<Operation *> readers,
                                                         int64_t k, bool allowLinear) {
  llvm::SmallPtrSet<Operation *, 8> members(readers.begin(), readers.end());
  for (Operation *user : input.getUsers())
    if (!members.contains(user))
      return std::nullopt;
  Operation *def = input.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (auto norm = dyn_cast<RMSNormOp>(def)) {
    if (floatVector(norm.getScale(), k))
      return ScaleAbsorber{def, std::nullopt};
    return std::nullopt;
  }
  if (auto norm = dyn_cast<LayerNormOp>(def)) {
    if (floatVector(norm.getScale(), k) && (!norm.getBias() || floatVector(norm.getBias(), k)))
      return ScaleAbsorber{def, std::nullopt};
    return std::nullopt;
  }
  auto mul = dyn_cast<MulOp>(def);
  if (!allowLinear || !mul || mul.getLhs().getType() != mul.getType() ||
      mul.getRhs().getType() != mul.getType())
    return std::nullopt;
  // A gated MLP: x = act(gate) * up. Dividing up's output channels divides x.
  for (Value side : {mul.getRhs(), mul.getLhs()}) {
    Operation *producer = side.getDefiningOp();
    if (!producer || !side.hasOneUse())
      continue;
    std::optional<WeightLayer> layer = matchWeightLayer(producer);
    if (!layer || layer->isEmbedding || layer->n != k)
      continue;
    if (auto gemm = dyn_cast<GemmOp>(producer); gemm && gemm.getC() && !floatVector(gemm.getC(), k))
      continue;
    return ScaleAbsorber{nullptr, layer};
  }
  return std::nullopt;
}

void qopt::QOpt::foldInputScales(MutableArrayRef<WeightLayer> layers,
                                 const std::vector<std::vector<float>> &weights,
                                 const ScaleAbsorber &absorber, const std::vector<double> &s,
                                 StringRef suffix) {
  int64_t k = static_cast<int64_t>(s.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    std::vector<float> rows = weights[i];
    for (int64_t r = 0; r < layers[i].n; ++r)
      for (int64_t c = 0; c < k; ++c)
        rows[r * k + c] = static_cast<float>(rows[r * k + c] * s[c]);
    replaceWeight(layers[i], rows, suffix);
  }
  auto divide = [&](std::vector<float> v) {
    for (int64_t c = 0; c < k; ++c)
      v[c] = static_cast<float>(v[c] / s[c]);
    return v;
  };
  if (absorber.norm) {
    // Exports write the factors beside the layers (qopt.input_scale), not into the norm: a norm
    // weight here may stand for several of the model's, merged while equal.
    SmallVector<float> factors(s.begin(), s.end());
    for (WeightLayer &layer : layers) {
      auto previous = layer.op->getAttrOfType<DenseF32ArrayAttr>("qopt.input_scale");
      if (previous && previous.size() == k)
        for (int64_t c = 0; c < k; ++c)
          factors[c] = static_cast<float>(previous[c] * s[c]);
      layer.op->setAttr("qopt.input_scale",
                        DenseF32ArrayAttr::get(layer.op->getContext(), factors));
      factors.assign(s.begin(), s.end());
    }
    Operation *norm = absorber.norm;
    for (unsigned i = 1; i < norm->getNumOperands(); ++i) {
      OpOperand &operand = norm->getOpOperand(i);
      replaceConstantOperand(operand, divide(*floatVector(operand.get(), k)),
                             resourceName(operand.get(), "norm") + suffix.str());
    }
    return;
  }
  WeightLayer producer = *absorber.linear;
  std::vector<float> rows = *readWeightRows(producer);
  for (int64_t r = 0; r < producer.n; ++r)
    for (int64_t c = 0; c < producer.k; ++c)
      rows[r * producer.k + c] = static_cast<float>(rows[r * producer.k + c] / s[r]);
  replaceWeight(producer, rows, suffix);
  if (auto gemm = dyn_cast<GemmOp>(producer.op); gemm && gemm.getC()) {
    OpOperand &bias = gemm->getOpOperand(2);
    replaceConstantOperand(bias, divide(*floatVector(bias.get(), k)),
                           resourceName(bias.get(), "bias") + suffix.str());
  }
}
