//===- QuantizedLayers.cpp - what the exporter reads from the IR ----------===//
#include "QuantizedLayers.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace qopt::QOpt;
using namespace qopt::onnx_export;
namespace quant = qopt::quant;

int64_t ExportedLayer::zeroPoint(int64_t row, int64_t group) const {
  if (!zeroPoints.empty())
    return zeroPoints[row * groups + group];
  return scheme.codebook == quant::Codebook::Int ? int64_t(1) << (scheme.bits - 1) : 0;
}

/// The weight's name from its codes' (`<weight>.codes`, or `<weight>.codes_N` when the resource
/// manager made the name unique).
static std::string weightName(Value codes) {
  auto cst = codes.getDefiningOp<arith::ConstantOp>();
  auto res = cst ? dyn_cast<DenseResourceElementsAttr>(cst.getValue()) : nullptr;
  if (!res)
    return "";
  StringRef key = res.getRawHandle().getKey();
  size_t at = key.rfind(".codes");
  if (at == StringRef::npos)
    return key.str();
  StringRef tail = key.drop_front(at + 6);
  if (tail.empty() || (tail.consume_front("_") && llvm::all_of(tail, llvm::isDigit)))
    return key.take_front(at).str();
  return key.str();
}

std::optional<std::vector<ExportedLayer>>
qopt::onnx_export::collectQuantizedLayers(ModuleOp module) {
  std::vector<ExportedLayer> layers;
  bool failedAny = false;
  module.walk([&](Operation *op) {
    if (isa<SparseMatMulOp>(op)) {
      if (!failedAny)
        op->emitError() << "sparse outliers (--outliers) have no ONNX form; export without them";
      failedAny = true;
      return;
    }
    auto mm = dyn_cast<QuantizedMatMulOp>(op);
    auto gather = dyn_cast<QuantizedGatherOp>(op);
    if (!mm && !gather)
      return;
    std::optional<quant::QuantizedWeight> q = readPackedWeight(op);
    if (!q) {
      op->emitError() << "has packed weights that are not constants";
      failedAny = true;
      return;
    }
    ExportedLayer layer;
    layer.op = op;
    layer.isEmbedding = static_cast<bool>(gather);
    layer.scheme = toQuantScheme(mm ? mm.getScheme() : gather.getScheme());
    layer.weight = weightName(mm ? mm.getCodes() : gather.getCodes());
    layer.displayName = layer.weight;
    if (auto name = dyn_cast<NameLoc>(op->getLoc())) {
      layer.displayName = name.getName().str();
      if (auto scope = dyn_cast<NameLoc>(name.getChildLoc()))
        layer.displayName = scope.getName().str();
    }
    layer.n = q->n;
    layer.k = q->k;
    layer.groups = q->groups;
    layer.scales = q->scales;
    layer.zeroPoints = q->zeroPoints;
    layer.codes.resize(q->n * q->k);
    int64_t rowBytes = layer.scheme.rowBytes(q->k);
    for (int64_t r = 0; r < q->n; ++r)
      for (int64_t i = 0; i < q->k; ++i)
        layer.codes[r * q->k + i] = static_cast<uint8_t>(
            quant::readCode(q->codes.data() + r * rowBytes, i, layer.scheme.bits));
    layer.values = quant::dequantizeWeight(*q, layer.scheme);
    if (mm)
      layer.inputRank = cast<RankedTensorType>(mm.getInput().getType()).getRank();
    if (auto factors = op->getAttrOfType<DenseF32ArrayAttr>("qopt.input_scale"))
      layer.inputScale.assign(factors.asArrayRef().begin(), factors.asArrayRef().end());
    if (mm && mm.getInt8Activations()) {
      layer.int8Activations = true;
      if (std::optional<APFloat> s = mm.getActivationScale())
        layer.activationScale = s->convertToFloat();
    }
    layer.bf16Activations = mm && mm.getBf16Activations();
    layers.push_back(std::move(layer));
  });
  if (failedAny)
    return std::nullopt;
  return layers;
}

std::vector<std::pair<std::string, std::vector<float>>>
qopt::onnx_export::rescaledConstants(ModuleOp module) {
  std::vector<std::pair<std::string, std::vector<float>>> out;
  module.walk([&](arith::ConstantOp cst) {
    auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue());
    auto type = dyn_cast<RankedTensorType>(cst.getType());
    if (!res || !type || !type.getElementType().isF32())
      return;
    StringRef key = res.getRawHandle().getKey();
    if (!key.contains(".awq") && !key.contains(".smooth"))
      return;
    if (llvm::any_of(cst->getUsers(), [](Operation *user) {
          return isa<RMSNormOp, LayerNormOp>(user);
        }))
      return;
    std::optional<std::vector<char>> data = constantData(cst);
    if (!data)
      return;
    std::vector<float> values(data->size() / sizeof(float));
    std::memcpy(values.data(), data->data(), values.size() * sizeof(float));
    out.emplace_back(key.str(), std::move(values));
  });
  return out;
}
