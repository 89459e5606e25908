//===- RecognizeLoRA.cpp - low-rank adapters beside linear layers ----------===//
//
// A LoRA layer as exporters write it: y = x·W (+ bias) + ((x·A)·B)·s, A [K, r] and B [r, N]
// constants with r below both K and N, s a constant scalar (applied anywhere along the adapter
// path, or absent). Kept, the base layer is marked for its own quantization scheme and the
// adapters stay float; merged, W + s·A·B replaces W and the adapter path goes.
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/ScaleFolding.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/SetVector.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_RECOGNIZELORAPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// A linear layer by a constant weight (not an embedding) that produces `v` alone.
std::optional<WeightLayer> linearProducing(Value v) {
  Operation *op = v.getDefiningOp();
  if (!op || !isa<MatMulOp, GemmOp>(op))
    return std::nullopt;
  std::optional<WeightLayer> layer = matchWeightLayer(op);
  if (!layer || layer->isEmbedding)
    return std::nullopt;
  return layer;
}

struct LoRAMatch {
  WeightLayer base, a, b;
  double scale = 1.0;
  Value baseValue;                    // what the add's result becomes when merged
  SmallVector<Operation *> adapterOps; // the adapter path, consumer first
};

struct RecognizeLoRAPass : public qopt::QOpt::impl::RecognizeLoRAPassBase<RecognizeLoRAPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp add) { adds.push_back(add); });
    for (AddOp add : adds) {
      std::optional<LoRAMatch> m = match(add);
      if (!m)
        continue;
      ++numAdapters;
      if (merge) {
        mergeAdapter(add, *m);
        continue;
      }
      UnitAttr unit = UnitAttr::get(&getContext());
      m->base.op->setAttr("qopt.lora_base", unit);
      m->a.op->setAttr("qopt.lora_adapter", unit);
      m->b.op->setAttr("qopt.lora_adapter", unit);
    }
  }

private:
  std::optional<LoRAMatch> match(AddOp add) {
    for (int side : {0, 1}) {
      LoRAMatch m;
      m.baseValue = add->getOperand(side);
      // The base: x·W, or x·W + bias.
      Value base = m.baseValue;
      if (auto bias = base.getDefiningOp<AddOp>())
        if (bias.getRhs().getDefiningOp<arith::ConstantOp>())
          base = bias.getLhs();
      std::optional<WeightLayer> baseLayer = linearProducing(base);
      if (!baseLayer)
        continue;
      Value x = baseLayer->op->getOperand(0);
      // The adapter: ((x·A)·B)·s.
      Value adapter = peelScale(add->getOperand(1 - side), m.scale, &m.adapterOps);
      std::optional<WeightLayer> b = linearProducing(adapter);
      if (!b || !adapter.hasOneUse())
        continue;
      m.adapterOps.push_back(b->op);
      Value hidden = peelScale(b->op->getOperand(0), m.scale, &m.adapterOps);
      std::optional<WeightLayer> a = linearProducing(hidden);
      if (!a || !hidden.hasOneUse() || a->op->getOperand(0) != x)
        continue;
      m.adapterOps.push_back(a->op);
      int64_t rank = a->n;
      if (b->k != rank || a->k != baseLayer->k || b->n != baseLayer->n ||
          rank >= std::min(baseLayer->k, baseLayer->n))
        continue;
      // Adapter layers carry no bias of their own (a Gemm's C).
      if (llvm::any_of(SmallVector<Operation *>{a->op, b->op}, [](Operation *op) {
            auto gemm = dyn_cast<GemmOp>(op);
            return gemm && gemm.getC();
          }))
        continue;
      m.base = *baseLayer;
      m.a = *a;
      m.b = *b;
      return m;
    }
    return std::nullopt;
  }

  /// W + s·A·B in place of W; the sum becomes the base layer's output.
  void mergeAdapter(AddOp add, LoRAMatch &m) {
    std::optional<std::vector<float>> w = readWeightRows(m.base);
    std::optional<std::vector<float>> a = readWeightRows(m.a); // [r, K]
    std::optional<std::vector<float>> b = readWeightRows(m.b); // [N, r]
    if (!w || !a || !b) {
      add->emitWarning() << "LoRA adapter weights cannot be read; the adapter stays";
      return;
    }
    int64_t n = m.base.n, k = m.base.k, r = m.a.n;
    std::vector<float> merged(*w);
    for (int64_t row = 0; row < n; ++row)
      for (int64_t col = 0; col < k; ++col) {
        double delta = 0.0;
        for (int64_t j = 0; j < r; ++j)
          delta += static_cast<double>((*b)[row * r + j]) * (*a)[j * k + col];
        merged[row * k + col] += static_cast<float>(m.scale * delta);
      }
    replaceWeight(m.base, merged, ".merged");
    add.getResult().replaceAllUsesWith(m.baseValue);
    add->erase();
    // The adapter path, consumer first, then whatever fed only it (weights, transposes).
    llvm::SetVector<Operation *> dead(m.adapterOps.begin(), m.adapterOps.end());
    for (size_t i = 0; i < dead.size(); ++i) {
      Operation *op = dead[i];
      if (!op->use_empty())
        continue;
      for (Value operand : op->getOperands())
        if (Operation *def = operand.getDefiningOp())
          if (isa<arith::ConstantOp, TransposeOp>(def))
            dead.insert(def);
      op->erase();
    }
  }
};
} // namespace
