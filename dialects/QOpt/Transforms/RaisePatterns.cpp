//===- RaisePatterns.cpp - recognize composite ops in exported graphs -----===//
#include "dialects/QOpt/IR/ConstantValues.h"
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_RAISEPATTERNSPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// The single value of a constant float tensor of one element.
std::optional<double> scalarFloat(Value v) {
  ElementsAttr attr = getConstantAttr(v);
  if (!attr || attr.getNumElements() != 1)
    return std::nullopt;
  auto values = getFloatValues(attr);
  if (!values)
    return std::nullopt;
  return (*values)[0];
}

/// Matches `lhs * rhs` in either order where `pred(first, second)` holds.
template <typename Pred>
bool matchEitherOrder(MulOp mul, Pred pred) {
  return pred(mul.getLhs(), mul.getRhs()) || pred(mul.getRhs(), mul.getLhs());
}

/// x * sigmoid(x) -> silu(x).
struct RaiseSilu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp mul, PatternRewriter &rewriter) const override {
    Value x;
    bool found = matchEitherOrder(mul, [&](Value a, Value b) {
      auto sigmoid = b.getDefiningOp<SigmoidOp>();
      if (!sigmoid || sigmoid.getInput() != a)
        return false;
      x = a;
      return true;
    });
    if (!found || x.getType() != mul.getType())
      return failure();
    rewriter.replaceOpWithNewOp<SiluOp>(mul, x);
    return success();
  }
};

/// The input of `v` when `v` is a mean over the last axis that keeps it (as norms compute).
Value matchLastAxisMean(Value v) {
  auto mean = v.getDefiningOp<ReduceMeanOp>();
  if (!mean || !mean.getKeepdims() || mean.getAxes().size() != 1)
    return {};
  int64_t rank = mean.getInput().getType().getRank();
  int64_t axis = mean.getAxes()[0];
  return (axis == -1 || axis == rank - 1) ? mean.getInput() : Value();
}

/// Whether `v` is x^2, as pow(x, 2) or x * x.
bool isSquareOf(Value v, Value x) {
  if (auto pow = v.getDefiningOp<PowOp>())
    return pow.getLhs() == x && scalarFloat(pow.getRhs()) == 2.0;
  if (auto mul = v.getDefiningOp<MulOp>())
    return mul.getLhs() == x && mul.getRhs() == x;
  return false;
}

/// Matches sqrt(mean(x^2, last axis) + eps) and returns eps, for the given x.
std::optional<double> matchRootMeanSquare(Value v, Value x) {
  auto sqrt = v.getDefiningOp<SqrtOp>();
  auto add = sqrt ? sqrt.getInput().getDefiningOp<AddOp>() : AddOp();
  if (!add)
    return std::nullopt;
  for (auto [meanValue, epsValue] :
       {std::pair(add.getLhs(), add.getRhs()), std::pair(add.getRhs(), add.getLhs())}) {
    auto eps = scalarFloat(epsValue);
    Value squared = matchLastAxisMean(meanValue);
    if (eps && squared && isSquareOf(squared, x))
      return eps;
  }
  return std::nullopt;
}

/// Matches 1/sqrt(mean(x^2, last axis) + eps) and returns eps, for the given x.
/// The inverse is `reciprocal(r)` (dynamo exporter) or `1 / r` (TorchScript exporter).
std::optional<double> matchInverseRms(Value inv, Value x) {
  if (auto recip = inv.getDefiningOp<ReciprocalOp>())
    return matchRootMeanSquare(recip.getInput(), x);
  if (auto div = inv.getDefiningOp<DivOp>(); div && scalarFloat(div.getLhs()) == 1.0)
    return matchRootMeanSquare(div.getRhs(), x);
  return std::nullopt;
}

/// weight * (x * 1/sqrt(mean(x^2) + eps)) -> rms_norm(x, weight).
struct RaiseRMSNorm : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp mul, PatternRewriter &rewriter) const override {
    Value x, weight;
    std::optional<double> eps;
    bool found = matchEitherOrder(mul, [&](Value w, Value normalized) {
      auto inner = normalized.getDefiningOp<MulOp>();
      auto wType = dyn_cast<RankedTensorType>(w.getType());
      if (!inner || !wType || wType.getRank() != 1 || !getConstantAttr(w))
        return false;
      return matchEitherOrder(inner, [&](Value a, Value inv) {
        eps = matchInverseRms(inv, a);
        if (!eps)
          return false;
        x = a;
        weight = w;
        return true;
      });
    });
    auto xType = x ? dyn_cast<RankedTensorType>(x.getType()) : RankedTensorType();
    if (!found || !xType || xType != mul.getType())
      return failure();
    int64_t hidden = xType.getDimSize(xType.getRank() - 1);
    if (hidden != cast<RankedTensorType>(weight.getType()).getDimSize(0))
      return failure();
    rewriter.replaceOpWithNewOp<RMSNormOp>(mul, mul.getType(), x, weight,
                                           rewriter.getF32FloatAttr(static_cast<float>(*eps)));
    return success();
  }
};

/// A constant 1-D tensor as long as the last dim of `type` (a norm's scale or shift).
bool isChannelConstant(Value v, RankedTensorType type) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getRank() == 1 && getConstantAttr(v) &&
         t.getDimSize(0) == type.getDimSize(type.getRank() - 1);
}

/// (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * scale + bias -> layer_norm(x, scale, bias),
/// the form of LayerNormalization that exporters write before opset 17.
struct RaiseLayerNorm : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp add, PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(add.getType());
    if (!type || type.getRank() < 1)
      return failure();
    for (auto [scaled, bias] : {std::pair(add.getLhs(), add.getRhs()),
                                std::pair(add.getRhs(), add.getLhs())}) {
      auto mul = scaled.getDefiningOp<MulOp>();
      if (!mul || !isChannelConstant(bias, type))
        continue;
      for (auto [normalized, scale] : {std::pair(mul.getLhs(), mul.getRhs()),
                                       std::pair(mul.getRhs(), mul.getLhs())}) {
        auto div = normalized.getDefiningOp<DivOp>();
        auto centered = div ? div.getLhs().getDefiningOp<SubOp>() : SubOp();
        if (!centered || !isChannelConstant(scale, type))
          continue;
        Value x = centered.getLhs();
        if (matchLastAxisMean(centered.getRhs()) != x || x.getType() != type)
          continue;
        auto eps = matchRootMeanSquare(div.getRhs(), centered.getResult());
        if (!eps)
          continue;
        rewriter.replaceOpWithNewOp<LayerNormOp>(add, type, x, scale, bias,
                                                 rewriter.getI64IntegerAttr(-1),
                                                 rewriter.getF32FloatAttr(static_cast<float>(*eps)));
        return success();
      }
    }
    return failure();
  }
};

struct RaisePatternsPass : public qopt::QOpt::impl::RaisePatternsPassBase<RaisePatternsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseSilu, RaiseRMSNorm, RaiseLayerNorm>(&getContext());
    // Count raised ops by comparing the composite ops present before and after.
    auto countComposite = [&] {
      int64_t n = 0;
      getOperation().walk([&](Operation *op) { n += isa<SiluOp, RMSNormOp, LayerNormOp>(op); });
      return n;
    };
    int64_t before = countComposite();
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    numRaised += countComposite() - before;
  }
};
} // namespace
