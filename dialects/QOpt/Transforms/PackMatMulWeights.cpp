//===- PackMatMulWeights.cpp - linear layers onto panel-packed weights ----===//
//
// A generated matmul kernel keeps a block of output rows by one panel of output columns in vector
// registers and walks K once; it wants that panel's weights contiguous, in the order it reads
// them. Packing at compile time means the weights file holds them that way, so loading a model
// maps them as they are and no run repacks them (BLAS packs its operands on every call).
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_PACKMATMULWEIGHTSPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// The weight `rows` ([N, K], one output channel per row) as [ceil(N / panel), K, panel].
std::vector<float> packPanels(const std::vector<float> &rows, int64_t n, int64_t k, int64_t panel) {
  int64_t panels = (n + panel - 1) / panel;
  std::vector<float> packed(panels * k * panel, 0.0f);
  for (int64_t col = 0; col < n; ++col) {
    float *dst = packed.data() + (col / panel) * k * panel + col % panel;
    const float *src = rows.data() + col * k;
    for (int64_t kk = 0; kk < k; ++kk)
      dst[kk * panel] = src[kk];
  }
  return packed;
}

/// The name the packed blob is stored under: the weight's own, where it has one.
std::string blobName(arith::ConstantOp weight) {
  if (auto res = dyn_cast<DenseResourceElementsAttr>(weight.getValue()))
    return (res.getRawHandle().getKey() + ".panels").str();
  return "weight.panels";
}

struct PackMatMulWeightsPass
    : public qopt::QOpt::impl::PackMatMulWeightsPassBase<PackMatMulWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (panelWidth < 1) {
      getOperation().emitError() << "qopt-pack-matmul-weights: panel-width must be at least 1";
      return signalPassFailure();
    }
    SmallVector<WeightLayer> layers;
    getOperation().walk([&](Operation *op) {
      if (!isa<MatMulOp, GemmOp>(op))
        return;
      std::optional<WeightLayer> layer = matchWeightLayer(op);
      if (layer && accepts(*layer))
        layers.push_back(*layer);
    });
    // A weight used by several layers is packed once.
    DenseMap<Operation *, Value> packedOf;
    SmallVector<std::pair<arith::ConstantOp, Value>> tables;
    for (const WeightLayer &layer : layers) {
      Value &packed = packedOf[layer.weight];
      if (!packed) {
        if (!(packed = pack(layer)))
          return signalPassFailure();
        if (layer.rowsAreOutputs)
          tables.push_back({layer.weight, packed});
      }
      replace(layer, packed);
      ++numPacked;
    }
    // A tied embedding table (stored [N, K], also the head's weight) is looked up in the panels,
    // so that it is not stored twice.
    for (auto [table, packed] : tables) {
      for (Operation *user : llvm::make_early_inc_range(table->getUsers())) {
        auto gather = dyn_cast<GatherOp>(user);
        if (!gather || gather.getData() != table.getResult() || gather.getAxis() != 0 ||
            !cast<RankedTensorType>(gather.getIndices().getType()).getElementType().isInteger())
          continue;
        OpBuilder b(gather);
        auto n = cast<RankedTensorType>(table.getType()).getDimSize(0);
        Value rows = PanelGatherOp::create(b, gather.getLoc(), gather.getType(), packed,
                                           gather.getIndices(), b.getI64IntegerAttr(n));
        gather.replaceAllUsesWith(rows);
        gather.erase();
        ++numLookups;
      }
    }
    // The originals go once nothing uses them.
    for (auto &entry : packedOf)
      if (entry.first->use_empty())
        entry.first->erase();
  }

private:
  /// Whether the layer's product is one the generated kernel computes: f32 rows of K (any
  /// leading dimensions) times the weight; a gemm only with a bias whose last dimension is N.
  bool accepts(const WeightLayer &layer) {
    if (layer.isEmbedding || layer.n < 1 || layer.k < 1)
      return false;
    auto lhsOf = [](Operation *op) {
      return cast<RankedTensorType>(op->getOperand(0).getType());
    };
    RankedTensorType lhs = lhsOf(layer.op);
    if (!lhs.getElementType().isF32() || lhs.getRank() < 1)
      return false;
    if (auto gemm = dyn_cast<GemmOp>(layer.op)) {
      if (lhs.getRank() != 2)
        return false;
      if (Value c = gemm.getC()) {
        auto bias = cast<RankedTensorType>(c.getType());
        if (!bias.getElementType().isF32() || bias.getRank() < 1 || bias.getRank() > 2 ||
            bias.getShape().back() != layer.n)
          return false;
      }
    }
    return true;
  }

  Value pack(const WeightLayer &layer) {
    std::optional<std::vector<float>> rows = readWeightRows(layer);
    if (!rows) {
      layer.op->emitError() << "cannot read the weight of layer '" << layerDisplayName(layer)
                            << "' to pack it";
      return {};
    }
    std::vector<float> packed = packPanels(*rows, layer.n, layer.k, panelWidth);
    int64_t panels = (layer.n + panelWidth - 1) / panelWidth;
    arith::ConstantOp weight = layer.weight;
    OpBuilder b(weight);
    ArrayRef<char> bytes(reinterpret_cast<const char *>(packed.data()),
                         packed.size() * sizeof(float));
    return resourceConstant(b, weight.getLoc(), blobName(weight),
                            {panels, layer.k, static_cast<int64_t>(panelWidth)}, b.getF32Type(),
                            bytes, 64);
  }

  void replace(const WeightLayer &layer, Value packed) {
    Operation *op = layer.op;
    OpBuilder b(op);
    Value lhs = op->getOperand(0);
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    auto fused = FusedMatMulOp::create(b, op->getLoc(), resultType, lhs, packed, layer.n,
                                       panelWidth);
    auto gemm = dyn_cast<GemmOp>(op);
    if (gemm && gemm.getC()) {
      // The bias becomes the epilogue: acc + c.
      Block &body = fused.getBody().front();
      Value c = body.addArgument(b.getF32Type(), op->getLoc());
      body.getTerminator()->erase();
      OpBuilder bb = OpBuilder::atBlockEnd(&body);
      Value sum = arith::AddFOp::create(bb, op->getLoc(), body.getArgument(0), c);
      YieldOp::create(bb, op->getLoc(), sum);
      fused.getEpilogueInputsMutable().append(gemm.getC());
    }
    op->getResult(0).replaceAllUsesWith(fused.getOutput());
    Operation *transpose = op->getOperand(1).getDefiningOp<TransposeOp>();
    op->erase();
    // A transpose of the weight goes once nothing else uses it (the weight itself at the end).
    if (transpose && transpose->use_empty())
      transpose->erase();
  }
};
} // namespace
