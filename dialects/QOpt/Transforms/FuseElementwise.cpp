//===- FuseElementwise.cpp - elementwise chains into one kernel -----------===//
//
// Between the matmuls of a transformer sit chains of elementwise ops (the gate of a gated MLP,
// the scale and mask of attention scores, GELU spelled out in five ops, the NaN guard after a
// softmax); run one op at a time, each reads and writes a whole tensor. This pass turns every
// elementwise op on f32 (and the i1 masks and tests around them) into a
// qopt.fused_elementwise and merges producers into their only consumer, so that code generation
// emits one loop nest per chain.
//
#include "dialects/QOpt/IR/ConstantValues.h"
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/ScalarBodies.h"

#include "mlir/IR/IRMapping.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_FUSEELEMENTWISEPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// The value of a single-element f32, i32 or i64 constant whose rank does not exceed `maxRank`
/// (so leaving it out of the inputs cannot change the broadcast shape's rank), if `v` is one.
TypedAttr foldableScalar(Value v, int64_t maxRank) {
  auto type = cast<RankedTensorType>(v.getType());
  Type element = type.getElementType();
  if (!type.hasStaticShape() || type.getNumElements() != 1 || type.getRank() > maxRank)
    return {};
  ElementsAttr attr = getConstantAttr(v);
  if (!attr)
    return {};
  if (element.isF32()) {
    std::optional<SmallVector<double>> values = getFloatValues(attr);
    if (!values || values->size() != 1)
      return {};
    return FloatAttr::get(element, static_cast<float>((*values)[0]));
  }
  if (element.isSignlessInteger(32) || element.isSignlessInteger(64)) {
    std::optional<SmallVector<int64_t>> values = getIntValues(attr);
    if (!values || values->size() != 1)
      return {};
    return IntegerAttr::get(element, (*values)[0]);
  }
  return {};
}

/// Adds `v` to `inputs` (once) and returns its body argument; the arguments of `inputs` start at
/// `firstArgument` (a matmul epilogue's argument 0 is the product element).
Value argumentFor(Value v, SmallVectorImpl<Value> &inputs, Block &body, Location loc,
                  unsigned firstArgument = 0) {
  for (auto [i, in] : llvm::enumerate(inputs))
    if (in == v)
      return body.getArgument(firstArgument + i);
  inputs.push_back(v);
  return body.addArgument(cast<ShapedType>(v.getType()).getElementType(), loc);
}

/// `op` as a fused op of its own, or null when its operands are all constants (folding's job).
/// Single-element constants no higher in rank than the other operands become body constants.
FusedElementwiseOp wrap(OpBuilder &b, Operation *op) {
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  int64_t rank = resultType.getRank();
  int64_t inputRank = -1;
  for (Value v : op->getOperands())
    if (!foldableScalar(v, rank))
      inputRank = std::max<int64_t>(inputRank, cast<RankedTensorType>(v.getType()).getRank());
  if (inputRank < 0)
    return {};
  b.setInsertionPoint(op);
  // Built empty; the body adds an argument per input as it finds them, then the inputs are set.
  auto fused = FusedElementwiseOp::create(b, op->getLoc(), resultType, ValueRange{});
  Block *block = &fused.getBody().front();
  OpBuilder bodyBuilder = OpBuilder::atBlockEnd(block);
  SmallVector<Value> inputs, elements;
  for (Value v : op->getOperands()) {
    if (TypedAttr c = foldableScalar(v, inputRank)) {
      elements.push_back(arith::ConstantOp::create(bodyBuilder, op->getLoc(), c));
      continue;
    }
    elements.push_back(argumentFor(v, inputs, *block, op->getLoc()));
  }
  YieldOp::create(bodyBuilder, op->getLoc(), emitScalarElement(bodyBuilder, op, elements));
  fused->setOperands(inputs);
  return fused;
}

/// Whether `producer` can be merged into `consumer`: the consumer is its only user and computes
/// the same shape (a producer broadcast by the consumer would be recomputed per element).
bool canMerge(FusedElementwiseOp producer, FusedElementwiseOp consumer) {
  return producer && producer->getBlock() == consumer->getBlock() &&
         llvm::all_of(producer->getUsers(), [&](Operation *u) { return u == consumer; }) &&
         producer.getType().getShape() == consumer.getType().getShape();
}

/// `consumer` with `producer` computed inside it.
FusedElementwiseOp merge(OpBuilder &b, FusedElementwiseOp producer, FusedElementwiseOp consumer) {
  Location loc = consumer.getLoc();
  b.setInsertionPoint(consumer);
  auto fused = FusedElementwiseOp::create(b, loc, consumer.getType(), ValueRange{});
  Block *block = &fused.getBody().front();
  OpBuilder bodyBuilder = OpBuilder::atBlockEnd(block);
  SmallVector<Value> inputs;
  IRMapping mapping;
  auto cloneBody = [&](FusedElementwiseOp op) -> Value {
    for (Operation &inner : op.getBody().front().without_terminator())
      bodyBuilder.clone(inner, mapping);
    auto yield = cast<YieldOp>(op.getBody().front().getTerminator());
    return mapping.lookup(yield.getValues()[0]);
  };
  // The consumer's inputs in order, with the producer's spliced in where its result was.
  Value produced = producer.getOutput();
  for (Value v : consumer.getInputs())
    if (v == produced)
      for (auto [arg, in] : llvm::zip(producer.getBody().getArguments(), producer.getInputs()))
        mapping.map(arg, argumentFor(in, inputs, *block, loc));
  Value producedElement = cloneBody(producer);
  for (auto [arg, in] : llvm::zip(consumer.getBody().getArguments(), consumer.getInputs()))
    mapping.map(arg, in == produced ? producedElement : argumentFor(in, inputs, *block, loc));
  // Arguments of the consumer's own inputs come after the producer's; the order does not matter.
  Value result = cloneBody(consumer);
  YieldOp::create(bodyBuilder, loc, result);
  fused->setOperands(inputs);
  consumer.replaceAllUsesWith(fused.getOutput());
  consumer.erase();
  producer.erase();
  return fused;
}

/// Whether `v` can be read by a matmul epilogue of `n` columns and result rank `rank`: f32 with
/// `n` as its static last dimension (the kernel loads it a vector of columns at a time).
bool isEpilogueOperand(Value v, int64_t n, int64_t rank) {
  auto type = cast<RankedTensorType>(v.getType());
  return type.getElementType().isF32() && type.getRank() >= 1 && type.getRank() <= rank &&
         type.getShape().back() == n;
}

/// Whether `consumer` can become the epilogue of the product `mm` it reads: the product has no
/// other user, the consumer computes f32 of the product's shape, and its other inputs are rows of
/// the product's width.
bool canAbsorb(FusedMatMulOp mm, FusedElementwiseOp consumer) {
  if (!mm || mm->getBlock() != consumer->getBlock() ||
      !llvm::all_of(mm->getUsers(), [&](Operation *u) { return u == consumer; }))
    return false;
  RankedTensorType out = mm.getOutput().getType();
  if (consumer.getType() != out)
    return false;
  return llvm::all_of(consumer.getInputs(), [&](Value in) {
    return in == mm.getOutput() || isEpilogueOperand(in, mm.getN(), out.getRank());
  });
}

/// `mm` with `consumer` computed in its epilogue.
FusedMatMulOp absorb(OpBuilder &b, FusedMatMulOp mm, FusedElementwiseOp consumer) {
  Location loc = consumer.getLoc();
  b.setInsertionPoint(consumer);
  auto fused = FusedMatMulOp::create(b, loc, mm.getType(), mm.getInput(), mm.getWeight(),
                                     mm.getN(), mm.getPanel());
  Block *block = &fused.getBody().front();
  block->getTerminator()->erase();
  OpBuilder bodyBuilder = OpBuilder::atBlockEnd(block);
  SmallVector<Value> inputs;
  IRMapping mapping;
  // Argument 0 stays the product element; the epilogue inputs follow from argument 1.
  Block &mmBody = mm.getBody().front();
  mapping.map(mmBody.getArgument(0), block->getArgument(0));
  auto epilogueArgument = [&](Value v) { return argumentFor(v, inputs, *block, loc, 1); };
  for (auto [arg, in] : llvm::zip(mmBody.getArguments().drop_front(), mm.getEpilogueInputs()))
    mapping.map(arg, epilogueArgument(in));
  for (Operation &inner : mmBody.without_terminator())
    bodyBuilder.clone(inner, mapping);
  Value product = mapping.lookup(cast<YieldOp>(mmBody.getTerminator()).getValues()[0]);
  Block &body = consumer.getBody().front();
  for (auto [arg, in] : llvm::zip(body.getArguments(), consumer.getInputs()))
    mapping.map(arg, in == mm.getOutput() ? product : epilogueArgument(in));
  for (Operation &inner : body.without_terminator())
    bodyBuilder.clone(inner, mapping);
  YieldOp::create(bodyBuilder, loc,
                  mapping.lookup(cast<YieldOp>(body.getTerminator()).getValues()[0]));
  fused.getEpilogueInputsMutable().assign(inputs);
  consumer.replaceAllUsesWith(fused.getOutput());
  consumer.erase();
  mm.erase();
  return fused;
}

struct FuseElementwisePass : public qopt::QOpt::impl::FuseElementwisePassBase<FuseElementwisePass> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    SmallVector<Operation *> candidates;
    getOperation().walk([&](Operation *op) {
      if (isFusibleElementwise(op))
        candidates.push_back(op);
    });
    for (Operation *op : candidates) {
      FusedElementwiseOp fused = wrap(b, op);
      if (!fused)
        continue;
      op->getResult(0).replaceAllUsesWith(fused.getOutput());
      op->erase();
      ++numFused;
    }
    // Producers come before consumers, so one pass in order merges whole chains: each consumer
    // absorbs its producers until none is left to absorb.
    SmallVector<FusedElementwiseOp> kernels;
    getOperation().walk([&](FusedElementwiseOp op) { kernels.push_back(op); });
    DenseSet<Operation *> merged;
    for (FusedElementwiseOp consumer : kernels) {
      if (merged.contains(consumer))
        continue;
      bool changed = true;
      while (changed) {
        changed = false;
        for (Value in : consumer.getInputs()) {
          auto producer = in.getDefiningOp<FusedElementwiseOp>();
          if (!canMerge(producer, consumer))
            continue;
          merged.insert(producer);
          consumer = merge(b, producer, consumer);
          changed = true;
          break;
        }
      }
    }
    // Then whole chains that consume a product become its epilogue.
    SmallVector<FusedElementwiseOp> chains;
    getOperation().walk([&](FusedElementwiseOp op) { chains.push_back(op); });
    for (FusedElementwiseOp consumer : chains)
      for (Value in : consumer.getInputs())
        if (auto mm = in.getDefiningOp<FusedMatMulOp>(); canAbsorb(mm, consumer)) {
          absorb(b, mm, consumer);
          ++numEpilogues;
          break;
        }
    getOperation().walk([&](FusedElementwiseOp) { ++numKernels; });
  }
};
} // namespace
