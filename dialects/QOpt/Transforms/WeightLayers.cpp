//===- WeightLayers.cpp - layers whose constant weight can be quantized ---===//
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "qopt/Quant/ChannelPanels.h"
#include "qopt/Quant/Codebooks.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace qopt::QOpt;
namespace quant = qopt::quant;

namespace {
/// A constant 2-D f32 tensor defining `v`, if any.
arith::ConstantOp constantMatrix(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  auto type = cst ? dyn_cast<RankedTensorType>(cst.getType()) : RankedTensorType();
  if (!type || type.getRank() != 2 || !type.getElementType().isF32() || !type.hasStaticShape())
    return {};
  return cst;
}

void collectNames(Location loc, std::vector<std::string> &names) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    names.push_back(name.getName().str());
    collectNames(name.getChildLoc(), names);
  } else if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations())
      collectNames(inner, names);
  }
}

/// The packed weight of a quantized op read back from its constants, or nothing.
std::optional<quant::QuantizedWeight> readPacked(SchemeAttr attr, int64_t k, Value codes,
                                                Value scales, Value zeros, Value scaleScales) {
  quant::Scheme s = toQuantScheme(attr);
  auto codeBytes = constantData(codes), scaleBytes = constantData(scales);
  if (!codeBytes || !scaleBytes)
    return std::nullopt;
  quant::QuantizedWeight q;
  q.n = cast<RankedTensorType>(codes.getType()).getDimSize(0);
  q.k = k;
  q.groups = s.numGroups(k);
  q.codes.assign(codeBytes->begin(), codeBytes->end());
  int64_t count = q.n * q.groups;
  q.scales.resize(count);
  Type st = cast<RankedTensorType>(scales.getType()).getElementType();
  if (s.doubleQuantBlock > 0) {
    auto ss = constantData(scaleScales);
    if (!ss)
      return std::nullopt;
    for (int64_t i = 0; i < count; ++i) {
      float second;
      std::memcpy(&second, ss->data() + (i / s.doubleQuantBlock) * 4, 4);
      q.scales[i] = (static_cast<float>(static_cast<uint8_t>((*scaleBytes)[i])) -
                     static_cast<float>(s.scaleCodeOffset())) * second;
    }
  } else {
    for (int64_t i = 0; i < count; ++i) {
      if (st.isF32()) {
        std::memcpy(&q.scales[i], scaleBytes->data() + i * 4, 4);
        continue;
      }
      uint16_t bits;
      std::memcpy(&bits, scaleBytes->data() + i * 2, 2);
      q.scales[i] = st.isF16() ? quant::halfToFloat(bits) : quant::bfloatToFloat(bits);
    }
  }
  if (zeros) {
    auto z = constantData(zeros);
    if (!z)
      return std::nullopt;
    q.zeroPoints.assign(z->begin(), z->end());
  }
  return q;
}
} // namespace

std::optional<WeightLayer> qopt::QOpt::matchWeightLayer(Operation *op) {
  WeightLayer layer;
  layer.op = op;
  // Records constant `w` as the layer's weight; `rowsAreOutputs` when it is stored [N, K].
  auto take = [&](arith::ConstantOp w, bool rowsAreOutputs) -> std::optional<WeightLayer> {
    auto shape = cast<RankedTensorType>(w.getType()).getShape();
    layer.weight = w;
    layer.rowsAreOutputs = rowsAreOutputs;
    layer.n = rowsAreOutputs ? shape[0] : shape[1];
    layer.k = rowsAreOutputs ? shape[1] : shape[0];
    return layer;
  };
  if (auto mm = dyn_cast<MatMulOp>(op)) {
    if (cast<RankedTensorType>(mm.getLhs().getType()).getRank() < 1)
      return std::nullopt;
    if (arith::ConstantOp w = constantMatrix(mm.getRhs()))
      return take(w, false);
    auto t = mm.getRhs().getDefiningOp<TransposeOp>();
    if (t && t.getPerm() == ArrayRef<int64_t>{1, 0})
      if (arith::ConstantOp w = constantMatrix(t.getInput()))
        return take(w, true);
    return std::nullopt;
  }
  if (auto gemm = dyn_cast<GemmOp>(op)) {
    // Only the plain linear form: a [M, K] times a constant weight, plus an unscaled bias.
    arith::ConstantOp w = constantMatrix(gemm.getB());
    if (!w || gemm.getTransA() || gemm.getAlpha().convertToDouble() != 1.0 ||
        (gemm.getC() && gemm.getBeta().convertToDouble() != 1.0))
      return std::nullopt;
    return take(w, gemm.getTransB());
  }
  if (auto g = dyn_cast<GatherOp>(op)) {
    arith::ConstantOp w = constantMatrix(g.getData());
    if (!w || g.getAxis() != 0)
      return std::nullopt;
    layer.isEmbedding = true;
    return take(w, true);
  }
  return std::nullopt;
}

std::vector<std::string> qopt::QOpt::layerNames(const WeightLayer &layer) {
  std::vector<std::string> names;
  collectNames(layer.op->getLoc(), names);
  arith::ConstantOp weight = layer.weight;
  collectNames(weight.getLoc(), names);
  if (auto res = dyn_cast<DenseResourceElementsAttr>(weight.getValue()))
    names.push_back(res.getRawHandle().getKey().str());
  return names;
}

std::string qopt::QOpt::layerDisplayName(const WeightLayer &layer) {
  std::vector<std::string> names;
  collectNames(layer.op->getLoc(), names);
  if (names.empty()) {
    names = layerNames(layer);
    return names.empty() ? "(unnamed)" : names.front();
  }
  // The importer nests the exporter's scope inside the node name: NameLoc(node, NameLoc(scope)).
  return names.size() > 1 && !names[1].empty() ? names[1] : names[0];
}

std::optional<WeightRowsView> qopt::QOpt::viewWeightRows(const WeightLayer &layer) {
  int64_t rows = layer.rowsAreOutputs ? layer.n : layer.k;
  int64_t cols = layer.rowsAreOutputs ? layer.k : layer.n;
  size_t count = static_cast<size_t>(rows * cols);
  WeightRowsView view;
  const float *stored = nullptr;
  arith::ConstantOp weight = layer.weight;
  Attribute value = weight.getValue();
  if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != count * sizeof(float) ||
        reinterpret_cast<uintptr_t>(blob->getData().data()) % alignof(float) != 0)
      return std::nullopt;
    stored = reinterpret_cast<const float *>(blob->getData().data());
  } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    view.storage.resize(count);
    if (dense.isSplat())
      std::fill(view.storage.begin(), view.storage.end(), dense.getSplatValue<float>());
    else
      llvm::copy(dense.getValues<float>(), view.storage.begin());
    stored = view.storage.data();
  } else {
    return std::nullopt;
  }
  if (layer.rowsAreOutputs) {
    view.data = stored;
    return view;
  }
  // [K, N] → [N, K].
  std::vector<float> transposed(count);
  for (int64_t kk = 0; kk < layer.k; ++kk)
    for (int64_t nn = 0; nn < layer.n; ++nn)
      transposed[nn * layer.k + kk] = stored[kk * layer.n + nn];
  view.storage = std::move(transposed);
  view.data = view.storage.data();
  return view;
}

std::optional<std::vector<float>> qopt::QOpt::readWeightRows(const WeightLayer &layer) {
  std::optional<WeightRowsView> view = viewWeightRows(layer);
  if (!view)
    return std::nullopt;
  if (!view->storage.empty())
    return std::move(view->storage);
  return std::vector<float>(view->data, view->data + layer.n * layer.k);
}

qopt::quant::Scheme qopt::QOpt::toQuantScheme(SchemeAttr attr) {
  quant::Scheme s;
  switch (attr.getCodebook()) {
  case Codebook::Int: s.codebook = quant::Codebook::Int; break;
  case Codebook::NF4: s.codebook = quant::Codebook::NF4; break;
  case Codebook::FP4: s.codebook = quant::Codebook::FP4; break;
  case Codebook::FP8E4M3: s.codebook = quant::Codebook::FP8E4M3; break;
  case Codebook::BnbFP4: s.codebook = quant::Codebook::BnbFP4; break;
  }
  s.bits = attr.getBits();
  s.groupSize = attr.getGroupSize();
  s.symmetric = attr.getSymmetric();
  s.scaleType = attr.getScaleType().isF16()    ? quant::ScaleType::F16
                : attr.getScaleType().isBF16() ? quant::ScaleType::BF16
                                               : quant::ScaleType::F32;
  s.doubleQuantBlock = attr.getDoubleQuantBlock();
  return s;
}

bool qopt::QOpt::isDecidedLayer(Operation *op) {
  return op->hasAttr("qopt.scheme") && !op->hasAttr("qopt.pinned");
}

std::vector<WeightLayer> qopt::QOpt::decidedLayers(Operation *root) {
  std::vector<WeightLayer> layers;
  root->walk([&](Operation *op) {
    if (isDecidedLayer(op))
      if (auto layer = matchWeightLayer(op))
        layers.push_back(*layer);
  });
  return layers;
}

std::optional<std::vector<qopt::quant::PrecisionCandidate>>
qopt::QOpt::candidatesFor(const WeightLayer &layer, const std::string &list, std::string &error) {
  quant::Scheme defaults = toQuantScheme(cast<SchemeAttr>(layer.op->getAttr("qopt.scheme")));
  return quant::parseCandidates(list, defaults, error);
}

SchemeAttr qopt::QOpt::toSchemeAttr(MLIRContext *ctx, const quant::Scheme &s) {
  Codebook codebook = Codebook::Int;
  switch (s.codebook) {
  case quant::Codebook::Int: codebook = Codebook::Int; break;
  case quant::Codebook::NF4: codebook = Codebook::NF4; break;
  case quant::Codebook::FP4: codebook = Codebook::FP4; break;
  case quant::Codebook::FP8E4M3: codebook = Codebook::FP8E4M3; break;
  case quant::Codebook::BnbFP4: codebook = Codebook::BnbFP4; break;
  }
  Type scale = s.scaleType == quant::ScaleType::F16    ? Type(Float16Type::get(ctx))
               : s.scaleType == quant::ScaleType::BF16 ? Type(BFloat16Type::get(ctx))
                                                       : Type(Float32Type::get(ctx));
  return SchemeAttr::get(ctx, codebook, s.bits, s.groupSize, s.symmetric, scale,
                         s.doubleQuantBlock);
}

std::optional<std::vector<char>> qopt::QOpt::constantData(Value v) {
  auto cst = v ? v.getDefiningOp<arith::ConstantOp>() : arith::ConstantOp();
  auto type = cst ? dyn_cast<RankedTensorType>(cst.getType()) : RankedTensorType();
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  unsigned bits = type.getElementTypeBitWidth();
  size_t bytes = type.getNumElements() * (bits < 8 ? 1 : bits / 8);
  if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != bytes)
      return std::nullopt;
    return std::vector<char>(blob->getData().begin(), blob->getData().end());
  }
  auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
  if (!dense)
    return std::nullopt;
  if (bits < 8) {
    // Narrow integers (written in the IR as dense literals): one byte per element, as the
    // importer stores them.
    if (!type.getElementType().isInteger())
      return std::nullopt;
    std::vector<char> out;
    out.reserve(bytes);
    for (const APInt &v : dense.getValues<APInt>())
      out.push_back(static_cast<char>(type.getElementType().isUnsignedInteger()
                                          ? v.getZExtValue()
                                          : v.getSExtValue()));
    return out;
  }
  ArrayRef<char> raw = dense.getRawData();
  std::vector<char> out(bytes);
  for (size_t i = 0; i < bytes; ++i)
    out[i] = raw[dense.isSplat() ? i % raw.size() : i];
  return out;
}

Value qopt::QOpt::resourceConstant(OpBuilder &b, Location loc, StringRef name,
                                   ArrayRef<int64_t> shape, Type elementType, ArrayRef<char> data,
                                   size_t alignment) {
  auto type = RankedTensorType::get(shape, elementType);
  auto attr = DenseResourceElementsAttr::get(
      type, name, HeapAsmResourceBlob::allocateAndCopyWithAlign(data, alignment));
  return arith::ConstantOp::create(b, loc, attr);
}

std::optional<quant::QuantizedWeight> qopt::QOpt::readPackedWeight(Operation *op) {
  if (auto mm = dyn_cast<QuantizedMatMulOp>(op)) {
    auto q = readPacked(mm.getScheme(), mm.getInFeatures(), mm.getCodes(), mm.getScales(),
                        mm.getZeroPoints(), mm.getScaleScales());
    if (q && mm.getChannelPanels()) { // back to rows, the layout every reader expects
      std::vector<uint8_t> rows(q->codes.size());
      quant::convertChannelPanels(q->codes.data(), q->n, q->k, mm.getScheme().getBits(),
                                   rows.data(), /*toPanels=*/false);
      q->codes = std::move(rows);
      auto unpermute = [&](auto &values) {
        if (values.empty())
          return;
        auto copy = values;
        quant::permutePanelGroups(reinterpret_cast<const uint8_t *>(copy.data()), q->n,
                                  q->groups, sizeof(copy[0]),
                                  reinterpret_cast<uint8_t *>(values.data()), /*unpack=*/true);
      };
      unpermute(q->scales);
      unpermute(q->scaleBits);
      unpermute(q->zeroPoints);
    }
    return q;
  }
  if (auto g = dyn_cast<QuantizedGatherOp>(op))
    return readPacked(g.getScheme(), g.getRowSize(), g.getCodes(), g.getScales(),
                      g.getZeroPoints(), g.getScaleScales());
  return std::nullopt;
}

std::optional<double> qopt::QOpt::scalarConstant(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return std::nullopt;
  if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue()))
    if (dense.getElementType().isF32() && dense.isSplat())
      return dense.getSplatValue<float>();
  auto type = cast<RankedTensorType>(cst.getType());
  std::optional<std::vector<char>> data = constantData(v);
  if (!type.getElementType().isF32() || !type.hasStaticShape() || type.getNumElements() != 1 ||
      !data)
    return std::nullopt;
  float f;
  std::memcpy(&f, data->data(), sizeof(float));
  return f;
}

Value qopt::QOpt::peelScale(Value v, double &scale, SmallVectorImpl<Operation *> *ops) {
  while (auto mul = v.getDefiningOp<MulOp>()) {
    if (!mul->hasOneUse())
      break;
    if (std::optional<double> s = scalarConstant(mul.getRhs())) {
      scale *= *s;
      v = mul.getLhs();
    } else if (std::optional<double> s = scalarConstant(mul.getLhs())) {
      scale *= *s;
      v = mul.getRhs();
    } else {
      break;
    }
    if (ops)
      ops->push_back(mul);
  }
  return v;
}
