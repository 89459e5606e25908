//===- FuseAttention.cpp - exported attention as one op, KV caches appended ===//
//
// Exporters spell attention as a transpose of the keys, a batched matmul, a scale, a mask add, a
// softmax and a second matmul, with the keys and values of grouped-query attention repeated per
// query head by unsqueeze/expand/reshape. Run op by op, a decoding step copies the whole KV cache
// several times (the concat with the past, the repetition, the transpose) before it reads it once.
// qopt.attention reads keys and values where they are; qopt.kv_append lets a generation session
// append to the cache in place.
//
#include "dialects/QOpt/IR/ConstantValues.h"
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <limits>

namespace qopt::QOpt {
#define GEN_PASS_DEF_FUSEATTENTIONPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
bool isRank4F32(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getRank() == 4 && t.getElementType().isF32();
}

/// The keys or values before grouped-query repetition: `x` itself, or the rank-4 tensor that
/// `reshape(expand(unsqueeze(kv, axis 2)))` repeats along its head axis.
Value beforeRepetition(Value x) {
  // Besides the attention chain, shape queries may read the repeated tensor (the SDPA
  // decomposition's transpose reads its dims); they die with the chain.
  auto reshape = x.getDefiningOp<ReshapeOp>();
  if (!reshape || llvm::count_if(reshape->getUsers(), [](Operation *u) {
                    return !isa<ShapeOp>(u);
                  }) != 1)
    return x;
  auto expand = reshape.getInput().getDefiningOp<ExpandOp>();
  if (!expand || !expand->hasOneUse())
    return x;
  auto unsqueeze = expand.getInput().getDefiningOp<UnsqueezeOp>();
  if (!unsqueeze || !unsqueeze->hasOneUse() || unsqueeze.getAxes().size() != 1 ||
      unsqueeze.getAxes()[0] != 2)
    return x;
  Value kv = unsqueeze.getInput();
  auto in = dyn_cast<RankedTensorType>(kv.getType());
  auto repeated = dyn_cast<RankedTensorType>(expand.getType());
  auto out = cast<RankedTensorType>(reshape.getType());
  if (!isRank4F32(kv) || !repeated || repeated.getRank() != 5 || out.getRank() != 4)
    return x;
  // [B, Hkv, T, D] -> [B, Hkv, G, T, D] -> [B, Hkv*G, T, D]. TorchScript exports compute G at
  // run time, so the counts may be unknown here; the kernel takes G as query heads / key heads.
  auto known = [](int64_t d) { return !ShapedType::isDynamic(d); };
  int64_t kvHeads = in.getDimSize(1), groups = repeated.getDimSize(2), heads = out.getDimSize(1);
  if ((known(kvHeads) && known(repeated.getDimSize(1)) && repeated.getDimSize(1) != kvHeads) ||
      (known(kvHeads) && known(groups) && known(heads) && heads != kvHeads * groups) ||
      (known(kvHeads) && known(heads) && heads % kvHeads != 0) ||
      (known(in.getDimSize(3)) && known(out.getDimSize(3)) &&
       out.getDimSize(3) != in.getDimSize(3)))
    return x;
  return kv;
}

/// What one element of a shape operand is: a constant, or dim `dim` of the tensor `source`.
struct ShapeEntry {
  Value source;
  int64_t dim = -1;
  int64_t constant = 0;
};

/// The entries of a 1-D shape operand built as exporters build them: a concat of constants,
/// `shape(x)` (with start/end) and slices of `shape(x)` by constant bounds (no axes or steps).
std::optional<SmallVector<ShapeEntry>> shapeEntries(Value shape) {
  SmallVector<ShapeEntry> out;
  auto dimsOf = [&](ShapeOp op, int64_t from, int64_t to) -> bool {
    auto type = dyn_cast<RankedTensorType>(op.getInput().getType());
    if (!type)
      return false;
    int64_t rank = type.getRank();
    auto clamp = [&](int64_t i) { return std::min(std::max(i < 0 ? i + rank : i, int64_t(0)), rank); };
    int64_t start = clamp(op.getStart()), end = clamp(op.getEnd() ? *op.getEnd() : rank);
    SmallVector<int64_t> dims;
    for (int64_t d = start; d < end; ++d)
      dims.push_back(d);
    int64_t n = static_cast<int64_t>(dims.size());
    auto clampSlice = [&](int64_t i) { return std::min(std::max(i < 0 ? i + n : i, int64_t(0)), n); };
    for (int64_t k = clampSlice(from); k < clampSlice(to); ++k)
      out.push_back({op.getInput(), dims[k], 0});
    return true;
  };
  auto part = [&](Value v) -> bool {
    if (auto shapeOp = v.getDefiningOp<ShapeOp>())
      return dimsOf(shapeOp, 0, std::numeric_limits<int64_t>::max());
    if (auto slice = v.getDefiningOp<SliceOp>()) {
      auto shapeOp = slice.getInput().getDefiningOp<ShapeOp>();
      auto starts = getConstantInts(slice.getStarts()), ends = getConstantInts(slice.getEnds());
      if (!shapeOp || slice.getAxes() || slice.getSteps() || !starts || !ends ||
          starts->size() != 1 || ends->size() != 1)
        return false;
      return dimsOf(shapeOp, (*starts)[0], (*ends)[0]);
    }
    if (auto ints = getConstantInts(v)) {
      for (int64_t c : *ints)
        out.push_back({Value(), -1, c});
      return true;
    }
    return false;
  };
  if (auto concat = shape.getDefiningOp<ConcatOp>()) {
    for (Value in : concat.getInputs())
      if (!part(in))
        return std::nullopt;
  } else if (!part(shape)) {
    return std::nullopt;
  }
  return out;
}

bool isDimOf(const ShapeEntry &e, Value source, int64_t dim) {
  return e.source == source && e.dim == dim;
}

/// The rank-4 keys whose last two axes `kt` swaps: `transpose(k, [0, 1, 3, 2])`, or as the dynamo
/// exporter's SDPA decomposition writes it, `reshape(transpose(reshape(k, [-1, T, D]), [0, 2, 1]),
/// [B, H, D, T])` with T, D, B and H read off `shape(k)`.
Value keysBeforeTranspose(Value kt) {
  if (auto t = kt.getDefiningOp<TransposeOp>(); t && t->hasOneUse() &&
                                                t.getPerm() == ArrayRef<int64_t>{0, 1, 3, 2})
    return t.getInput();
  auto outer = kt.getDefiningOp<ReshapeOp>();
  if (!outer || !outer->hasOneUse())
    return Value();
  auto t = outer.getInput().getDefiningOp<TransposeOp>();
  if (!t || !t->hasOneUse() || t.getPerm() != ArrayRef<int64_t>{0, 2, 1})
    return Value();
  auto inner = t.getInput().getDefiningOp<ReshapeOp>();
  if (!inner || !inner->hasOneUse() || !isRank4F32(inner.getInput()))
    return Value();
  Value k = inner.getInput();
  auto flat = shapeEntries(inner.getShape()), back = shapeEntries(outer.getShape());
  if (!flat || !back || flat->size() != 3 || back->size() != 4 || (*flat)[0].source ||
      (*flat)[0].constant != -1 || !isDimOf((*flat)[1], k, 2) || !isDimOf((*flat)[2], k, 3) ||
      !isDimOf((*back)[0], k, 0) || !isDimOf((*back)[1], k, 1) || !isDimOf((*back)[2], k, 3) ||
      !isDimOf((*back)[3], k, 2))
    return Value();
  return k;
}

/// Erases `root` and then every producer left without a use (pure ops only).
void eraseWithDeadProducers(Operation *root) {
  SmallVector<Operation *> worklist = {root};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!op->use_empty() || (op != root && !isPure(op)))
      continue;
    SmallPtrSet<Operation *, 4> producers;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        producers.insert(def);
    op->erase();
    for (Operation *def : producers)
      if (!llvm::is_contained(worklist, def))
        worklist.push_back(def);
  }
}

/// Fuses the attention chain that ends in `softmax`, if it is one.
bool fuseAt(SoftmaxOp softmax) {
  auto scoresType = cast<RankedTensorType>(softmax.getType());
  if (scoresType.getRank() != 4 || !scoresType.getElementType().isF32() ||
      (softmax.getAxis() != -1 && softmax.getAxis() != 3))
    return false;
  // The NaN guard of the SDPA decomposition, where(is_nan(p), 0, p): the kernel gives fully
  // masked rows zeros, which is what it computes.
  Value probabilities = softmax.getResult();
  if (!softmax->hasOneUse() && std::distance(softmax->user_begin(), softmax->user_end()) == 2) {
    IsNaNOp isNan;
    WhereOp where;
    for (Operation *user : softmax->getUsers()) {
      if (auto n = dyn_cast<IsNaNOp>(user))
        isNan = n;
      else if (auto w = dyn_cast<WhereOp>(user))
        where = w;
    }
    auto zero = where ? scalarConstant(where.getX()) : std::nullopt;
    if (!isNan || !where || !isNan->hasOneUse() || where.getCondition() != isNan.getResult() ||
        where.getY() != softmax.getResult() || !zero || *zero != 0.0 || !where->hasOneUse() ||
        where.getType() != softmax.getType())
      return false;
    probabilities = where.getResult();
  } else if (!softmax->hasOneUse()) {
    return false;
  }
  auto output = dyn_cast<MatMulOp>(*probabilities.getUsers().begin());
  if (!output || output.getLhs() != probabilities || !isRank4F32(output.getRhs()))
    return false;

  // softmax input: [add(, mask)] of [mul or div by a constant] of matmul(q, transpose(k)).
  Value scores = softmax.getInput();
  Value mask;
  // Types along the chain may be refined differently (a mask of unknown batch); they need only
  // be compatible, and the kernel checks the mask's broadcast when it runs.
  auto compatible = [&](Value v) { return succeeded(verifyCompatibleShape(v.getType(), scoresType)); };
  if (auto add = scores.getDefiningOp<AddOp>(); add && add->hasOneUse()) {
    auto produced = [](Value v) {
      Operation *def = v.getDefiningOp();
      return def && isa<MulOp, DivOp, MatMulOp>(def) && def->hasOneUse();
    };
    Value other;
    if (produced(add.getLhs()) && compatible(add.getLhs())) {
      scores = add.getLhs();
      other = add.getRhs();
    } else if (produced(add.getRhs()) && compatible(add.getRhs())) {
      scores = add.getRhs();
      other = add.getLhs();
    }
    auto maskType = other ? dyn_cast<RankedTensorType>(other.getType()) : RankedTensorType();
    if (!maskType || !maskType.getElementType().isF32() || maskType.getRank() > 4)
      return false;
    mask = other;
  }
  double scale = 1.0;
  scores = peelScale(scores, scale);
  if (auto div = scores.getDefiningOp<DivOp>(); div && div->hasOneUse()) {
    std::optional<double> c = scalarConstant(div.getRhs());
    if (!c || *c == 0.0)
      return false;
    scale /= *c;
    scores = div.getLhs();
  }
  auto product = scores.getDefiningOp<MatMulOp>();
  if (!product || !product->hasOneUse() || !compatible(product))
    return false;
  // The SDPA decomposition scales both operands by the square root of the scale.
  Value query = peelScale(product.getLhs(), scale);
  Value keysTransposed = peelScale(product.getRhs(), scale);
  Value unrepeatedKeys = keysBeforeTranspose(keysTransposed);
  if (!unrepeatedKeys)
    return false;
  Value key = beforeRepetition(unrepeatedKeys);
  Value value = beforeRepetition(output.getRhs());
  if (!isRank4F32(query) || !isRank4F32(key) || !isRank4F32(value))
    return false;

  OpBuilder b(output);
  auto fused = AttentionOp::create(b, output.getLoc(), output.getType(), query, key, value, mask,
                                   b.getF64FloatAttr(scale));
  // The op must agree with the types the chain had; a mismatch means the pattern was misread.
  SmallVector<Type> inferred;
  if (failed(cast<InferShapesOpInterface>(fused.getOperation()).inferResultTypes(inferred)) ||
      inferred.size() != 1 || failed(verifyCompatibleShape(inferred[0], output.getType()))) {
    fused.erase();
    return false;
  }
  output.replaceAllUsesWith(fused.getResult());
  // The chain, and the transposed and repeated keys and values, die with their last use.
  eraseWithDeadProducers(output);
  return true;
}

/// Makes `concat(past, new)` a kv_append when `past` is a graph input used only there and the
/// result feeds only attention ops (as keys or values) and the return.
bool appendInPlace(func::FuncOp func, BlockArgument past) {
  // Besides the concat, only shape queries may read the input: the session's past is a strided
  // view of its buffer, which only the append and the shape of it understand.
  if (!isRank4F32(past))
    return false;
  ConcatOp concat;
  for (Operation *user : past.getUsers()) {
    if (isa<ShapeOp>(user))
      continue;
    if (concat || !isa<ConcatOp>(user))
      return false;
    concat = cast<ConcatOp>(user);
  }
  if (!concat || concat.getInputs().size() != 2 || concat.getInputs()[0] != past ||
      !isRank4F32(concat.getInputs()[1]) || (concat.getAxis() != 2 && concat.getAxis() != -2))
    return false;
  for (OpOperand &use : concat->getUses()) {
    Operation *user = use.getOwner();
    if (isa<func::ReturnOp, ShapeOp>(user))
      continue;
    auto attention = dyn_cast<AttentionOp>(user);
    if (!attention || use.getOperandNumber() == 0 || use.getOperandNumber() > 2)
      return false;
  }
  OpBuilder b(concat);
  auto append = KVAppendOp::create(b, concat.getLoc(), concat.getType(), past,
                                   concat.getInputs()[1], b.getI64IntegerAttr(2));
  concat.replaceAllUsesWith(append.getResult());
  concat.erase();
  func.setArgAttr(past.getArgNumber(), "qopt.kv_cache", b.getUnitAttr());
  return true;
}

struct FuseAttentionPass : qopt::QOpt::impl::FuseAttentionPassBase<FuseAttentionPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<SoftmaxOp> softmaxes;
    func.walk([&](SoftmaxOp s) { softmaxes.push_back(s); });
    for (SoftmaxOp s : softmaxes)
      if (fuseAt(s))
        ++numAttention;
    if (func.isDeclaration())
      return;
    for (BlockArgument arg : func.getArguments())
      if (appendInPlace(func, arg))
        ++numCacheAppends;
  }
};
} // namespace
