//===- InferShapes.cpp - refine result types and fold to a fixed point ----===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_INFERSHAPESPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// The more static of two compatible types (the inferred one is trusted where it is static).
Type join(Type current, Type inferred) {
  auto c = dyn_cast<RankedTensorType>(current), i = dyn_cast<RankedTensorType>(inferred);
  if (!c || !i || c.getRank() != i.getRank() || c.getElementType() != i.getElementType())
    return current;
  SmallVector<int64_t> shape(c.getShape());
  for (int64_t d = 0; d < c.getRank(); ++d)
    if (c.isDynamicDim(d))
      shape[d] = i.getDimSize(d);
  return RankedTensorType::get(shape, c.getElementType(), c.getEncoding());
}

struct InferShapesPass : public qopt::QOpt::impl::InferShapesPassBase<InferShapesPass> {
  using Base::Base;

  /// One forward sweep; returns whether any type changed, fails on an op that cannot be valid.
  FailureOr<bool> refine(func::FuncOp func) {
    bool changed = false;
    WalkResult result = func.walk([&](InferShapesOpInterface op) {
      SmallVector<Type> types;
      if (failed(op.inferResultTypes(types)))
        return WalkResult::interrupt();
      for (auto [value, inferred] : llvm::zip(op->getResults(), types)) {
        Type refined = join(value.getType(), inferred);
        if (refined != value.getType()) {
          value.setType(refined);
          changed = true;
          ++numRefined;
        }
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return failure();
    return changed;
  }

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    for (Dialect *dialect : ctx->getLoadedDialects())
      dialect->getCanonicalizationPatterns(patterns);
    for (RegisteredOperationName op : ctx->getRegisteredOperations())
      op.getCanonicalizationPatterns(patterns, ctx);
    FrozenRewritePatternSet frozen(std::move(patterns));

    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      for (int64_t round = 0; round < maxIterations; ++round) {
        FailureOr<bool> changed = refine(func);
        if (failed(changed))
          return signalPassFailure();
        bool folded = false;
        if (failed(applyPatternsGreedily(func, frozen, GreedyRewriteConfig(), &folded)))
          return signalPassFailure();
        if (!*changed && !folded)
          break;
      }
      // Results may now be more static than the signature says.
      Operation *terminator = func.getBody().back().getTerminator();
      func.setType(FunctionType::get(ctx, func.getArgumentTypes(),
                                     terminator->getOperandTypes()));
    }
  }
};
} // namespace
