//===- RaisePatterns.cpp - recognize composite ops in exported graphs -----===//
#include "dialects/QOpt/IR/ConstantValues.h"
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
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

/// The half-open range [start, end) that `slice` takes of `x`'s last axis, with step 1.
std::optional<std::pair<int64_t, int64_t>> lastAxisRange(SliceOp slice, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank(), dim = type.getDimSize(rank - 1);
  if (!slice || slice.getInput() != x || !slice.getAxes() || ShapedType::isDynamic(dim))
    return std::nullopt;
  auto axes = getConstantInts(slice.getAxes());
  auto starts = getConstantInts(slice.getStarts()), ends = getConstantInts(slice.getEnds());
  if (!axes || !starts || !ends || axes->size() != 1 || starts->size() != 1 ||
      ends->size() != 1 || ((*axes)[0] != -1 && (*axes)[0] != rank - 1))
    return std::nullopt;
  if (slice.getSteps()) {
    auto steps = getConstantInts(slice.getSteps());
    if (!steps || steps->size() != 1 || (*steps)[0] != 1)
      return std::nullopt;
  }
  auto clampIndex = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + dim : v, 0, dim); };
  return std::pair(clampIndex((*starts)[0]), clampIndex((*ends)[0]));
}

/// concat(-x[..., h:], x[..., :h]) over the last axis of x (2h wide), rotary embedding's
/// rotate_half, -> reshape(reverse(reshape(x, [..., 2, h]), axis -2), [..., 2h]) * [-1 (h
/// times), 1 (h times)]. The slices, the negation and the concatenation were four kernels; the
/// reversal is one copy, the reshapes view memory, and the multiplication by the sign joins the
/// elementwise chain that consumes the rotation (x * cos + rotate_half(x) * sin).
struct RaiseRotateHalf : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp concat, PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(concat.getType());
    if (!type || concat.getInputs().size() != 2 || !isa<FloatType>(type.getElementType()))
      return failure();
    int64_t rank = type.getRank();
    if (concat.getAxis() != -1 && concat.getAxis() != rank - 1)
      return failure();
    auto neg = concat.getInputs()[0].getDefiningOp<NegOp>();
    auto second = concat.getInputs()[1].getDefiningOp<SliceOp>();
    auto first = neg ? neg.getInput().getDefiningOp<SliceOp>() : SliceOp();
    if (!first || !second || first.getInput() != second.getInput())
      return failure();
    Value x = first.getInput();
    auto xType = cast<RankedTensorType>(x.getType());
    int64_t width = xType.getDimSize(rank - 1), half = width / 2;
    if (xType != type || ShapedType::isDynamic(width) || width % 2 != 0 || width < 2)
      return failure();
    auto high = lastAxisRange(first, x), low = lastAxisRange(second, x);
    if (high != std::pair(half, width) || low != std::pair<int64_t, int64_t>(0, half))
      return failure();

    Location loc = concat.getLoc();
    auto ints = [&](ArrayRef<int64_t> values) -> Value {
      auto t = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                     rewriter.getI64Type());
      return arith::ConstantOp::create(rewriter, loc, DenseElementsAttr::get(t, values));
    };
    // 0 in a reshape's shape copies the input's dim: the leading dims may be dynamic.
    SmallVector<int64_t> splitShape(rank - 1, 0), flatShape(rank - 1, 0);
    splitShape.append({2, half});
    flatShape.push_back(width);
    SmallVector<int64_t> splitDims(xType.getShape().drop_back());
    splitDims.append({2, half});
    auto splitType = RankedTensorType::get(splitDims, type.getElementType());
    Value split = ReshapeOp::create(rewriter, loc, splitType, x, ints(splitShape));
    // Indices 1 then 0 of the pair axis: start at the last, step back past the first.
    Value swapped = SliceOp::create(rewriter, loc, splitType, split, ints({-1}), ints({-3}),
                                    ints({rank - 1}), ints({-1}));
    Value flat = ReshapeOp::create(rewriter, loc, type, swapped, ints(flatShape));
    auto signType = RankedTensorType::get({width}, type.getElementType());
    SmallVector<Attribute> signs;
    for (int64_t i = 0; i < width; ++i)
      signs.push_back(rewriter.getFloatAttr(type.getElementType(), i < half ? -1.0 : 1.0));
    Value sign = arith::ConstantOp::create(rewriter, loc, DenseElementsAttr::get(signType, signs));
    rewriter.replaceOpWithNewOp<MulOp>(concat, type, flat, sign);
    return success();
  }
};

struct RaisePatternsPass : public qopt::QOpt::impl::RaisePatternsPassBase<RaisePatternsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseSilu, RaiseRMSNorm, RaiseLayerNorm, RaiseRotateHalf>(&getContext());
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
