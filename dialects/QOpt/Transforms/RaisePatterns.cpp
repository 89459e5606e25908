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

/// Matches 1/sqrt(mean(x^2, last axis) + eps) and returns eps, for the given x.
std::optional<double> matchInverseRms(Value inv, Value x) {
  auto recip = inv.getDefiningOp<ReciprocalOp>();
  if (!recip)
    return std::nullopt;
  auto sqrt = recip.getInput().getDefiningOp<SqrtOp>();
  auto add = sqrt ? sqrt.getInput().getDefiningOp<AddOp>() : AddOp();
  if (!add)
    return std::nullopt;
  for (auto [meanValue, epsValue] :
       {std::pair(add.getLhs(), add.getRhs()), std::pair(add.getRhs(), add.getLhs())}) {
    auto mean = meanValue.getDefiningOp<ReduceMeanOp>();
    auto eps = scalarFloat(epsValue);
    if (!mean || !eps || !mean.getKeepdims() || mean.getAxes().size() != 1)
      continue;
    int64_t rank = x.getType() ? cast<RankedTensorType>(x.getType()).getRank() : 0;
    int64_t axis = mean.getAxes()[0];
    if (axis != -1 && axis != rank - 1)
      continue;
    auto pow = mean.getInput().getDefiningOp<PowOp>();
    auto square = mean.getInput().getDefiningOp<MulOp>();
    bool isSquare = (pow && pow.getLhs() == x && scalarFloat(pow.getRhs()) == 2.0) ||
                    (square && square.getLhs() == x && square.getRhs() == x);
    if (isSquare)
      return eps;
  }
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

struct RaisePatternsPass : public qopt::QOpt::impl::RaisePatternsPassBase<RaisePatternsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseSilu, RaiseRMSNorm>(&getContext());
    // Count raised ops by comparing the composite ops present before and after.
    auto countComposite = [&] {
      int64_t n = 0;
      getOperation().walk([&](Operation *op) { n += isa<SiluOp, RMSNormOp>(op); });
      return n;
    };
    int64_t before = countComposite();
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    numRaised += countComposite() - before;
  }
};
} // namespace
