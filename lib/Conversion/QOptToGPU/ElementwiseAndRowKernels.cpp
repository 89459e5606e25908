//===- ElementwiseAndRowKernels.cpp - GPU kernels of fused chains and rows ===//
#include "GpuKernelBuilder.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
namespace Q = qopt::QOpt;

namespace qopt::gpu_kernels {

Value KernelBuilder::fma(Value a, Value c, Value acc) {
  return math::FmaOp::create(b, loc, a, c, acc);
}

Value KernelBuilder::f16c(double v) {
  llvm::APFloat value(v);
  bool lost = false;
  value.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven, &lost);
  return arith::ConstantFloatOp::create(b, loc, b.getF16Type(), value);
}

Value KernelBuilder::half2Splat(Value v) {
  Value pair = LLVM::PoisonOp::create(b, loc, VectorType::get({2}, b.getF16Type()));
  pair = LLVM::InsertElementOp::create(b, loc, pair, v, i32c(0));
  return LLVM::InsertElementOp::create(b, loc, pair, v, i32c(1));
}

Value KernelBuilder::maskedHalves(Value word, int32_t mask) {
  Value bits = arith::AndIOp::create(b, loc, word, i32c(mask));
  bits = arith::OrIOp::create(b, loc, bits, i32c(0x64006400));
  return LLVM::BitcastOp::create(b, loc, VectorType::get({2}, b.getF16Type()), bits);
}

SmallVector<Value> KernelBuilder::ifOrPoison(TypeRange types, Value cond,
                                             function_ref<SmallVector<Value>()> then) {
  auto branch = scf::IfOp::create(b, loc, types, cond, /*withElse=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&branch.getThenRegion().front());
  scf::YieldOp::create(b, loc, then());
  b.setInsertionPointToStart(&branch.getElseRegion().front());
  SmallVector<Value> none;
  for (Type type : types)
    none.push_back(LLVM::PoisonOp::create(b, loc, type));
  scf::YieldOp::create(b, loc, none);
  return SmallVector<Value>(branch.getResults());
}

Value KernelBuilder::warpSum(Value v) {
  for (int32_t offset = 16; offset >= 1; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, v, offset, 32, gpu::ShuffleMode::XOR);
    v = fadd(v, shuffle.getShuffleResult());
  }
  return v;
}

gpu::GPUFuncOp createKernel(OpBuilder &b, gpu::GPUModuleOp module, StringRef name,
                            ArrayRef<Type> params) {
  b.setInsertionPointToEnd(module.getBody());
  auto func = gpu::GPUFuncOp::create(b, module.getLoc(), name,
                                     b.getFunctionType(params, TypeRange{}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  Block &entry = func.getBody().front();
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b, module.getLoc());
  b.setInsertionPointToStart(&entry);
  return func;
}

LLVM::GlobalOp declareSharedFloats(OpBuilder &b, gpu::GPUModuleOp module, StringRef kernel,
                                   int64_t count) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  return LLVM::GlobalOp::create(b, module.getLoc(),
                                LLVM::LLVMArrayType::get(b.getF32Type(), count),
                                /*isConstant=*/false, LLVM::Linkage::Internal,
                                (kernel + "_shared").str(), Attribute(), /*alignment=*/16,
                                /*addrSpace=*/3);
}

SharedFloats::SharedFloats(KernelBuilder &k, LLVM::GlobalOp array)
    : k(k), base(LLVM::AddressOfOp::create(k.b, k.loc, array)) {}

Value SharedFloats::at(Value index) {
  return LLVM::GEPOp::create(k.b, k.loc, base.getType(), k.f32(), base, ValueRange{index});
}

Value SharedFloats::load(Value index) {
  return LLVM::LoadOp::create(k.b, k.loc, k.f32(), at(index));
}

void SharedFloats::store(Value v, Value index) { LLVM::StoreOp::create(k.b, k.loc, v, at(index)); }

void markPointers(gpu::GPUFuncOp func, unsigned inputs) {
  Builder b(func.getContext());
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
    if (!isa<LLVM::LLVMPointerType>(type))
      continue;
    func.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(), b.getUnitAttr());
    if (i < inputs)
      func.setArgAttr(i, LLVM::LLVMDialect::getReadonlyAttrName(), b.getUnitAttr());
  }
}

namespace {
/// Bytes of an element as the runtime stores it (i1 as one byte).
Type storageType(OpBuilder &b, Type t) { return t.isInteger(1) ? b.getI8Type() : t; }
} // namespace

// Parameters: (out, n, d0, d1, d2, d3, then per input: pointer, s0, s1, s2, s3). Thread i of the
// grid computes element i of the result, whose 4-D position over sizes d0..d3 it unravels; input
// k is read at sum(c_j * s_kj). The runtime merges the result's dims into at most four.
LogicalResult buildElementwiseKernel(OpBuilder &b, gpu::GPUModuleOp module, Operation *op,
                                     StringRef name) {
  auto fused = cast<Q::FusedElementwiseOp>(op);
  Block &body = fused.getBody().front();
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  SmallVector<Type> params = {k.ptr(), k.i64(), k.i64(), k.i64(), k.i64(), k.i64()};
  for (unsigned i = 0; i < body.getNumArguments(); ++i)
    params.append({k.ptr(), k.i64(), k.i64(), k.i64(), k.i64()});
  gpu::GPUFuncOp func = createKernel(b, module, name, params);
  // The output comes first, then the inputs.
  markPointers(func, 0);
  for (unsigned i = 0; i < body.getNumArguments(); ++i)
    func.setArgAttr(6 + 5 * i, LLVM::LLVMDialect::getReadonlyAttrName(), b.getUnitAttr());
  Block &entry = func.getBody().front();
  Value index = k.add(k.mul(k.blockId(), k.i64c(kBlockThreads)), k.threadId());
  auto inRange = scf::IfOp::create(b, loc, k.ult(index, entry.getArgument(1)), false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  // The position, innermost dim first.
  Value pos[4];
  Value rest = index;
  for (int d = 3; d >= 1; --d) {
    Value size = entry.getArgument(2 + d);
    pos[d] = k.remu(rest, size);
    rest = k.divu(rest, size);
  }
  pos[0] = rest;
  IRMapping mapping;
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    unsigned first = 6 + 5 * i;
    Value offset = k.i64c(0);
    for (int d = 0; d < 4; ++d)
      offset = k.add(offset, k.mul(pos[d], entry.getArgument(first + 1 + d)));
    Type t = arg.getType();
    Value v = k.load(storageType(b, t), entry.getArgument(first), offset);
    if (t.isInteger(1))
      v = arith::TruncIOp::create(b, loc, t, v);
    mapping.map(arg, v);
  }
  for (Operation &inner : body.without_terminator())
    b.clone(inner, mapping);
  Value result = mapping.lookup(body.getTerminator()->getOperand(0));
  if (result.getType().isInteger(1))
    result = arith::ExtUIOp::create(b, loc, b.getI8Type(), result);
  k.store(result, entry.getArgument(0), index);
  b.setInsertionPointAfter(inRange);
  return success();
}

// Parameters: (x, y, scale, bias, width). Block r normalizes row r; its threads stride over the
// row, and the row's sums or maximum are gpu.all_reduce over the block.
LogicalResult buildRowKernel(OpBuilder &b, gpu::GPUModuleOp module, Operation *op,
                             StringRef name) {
  Location loc = module.getLoc();
  KernelBuilder k(b, loc);
  Type p = k.ptr();
  gpu::GPUFuncOp func = createKernel(b, module, name, {p, p, p, p, k.i64()});
  markPointers(func, 1);
  func.setArgAttr(2, LLVM::LLVMDialect::getReadonlyAttrName(), b.getUnitAttr());
  func.setArgAttr(3, LLVM::LLVMDialect::getReadonlyAttrName(), b.getUnitAttr());
  Block &entry = func.getBody().front();
  Value x = entry.getArgument(0), y = entry.getArgument(1), scale = entry.getArgument(2),
        bias = entry.getArgument(3), width = entry.getArgument(4);
  Value base = k.mul(k.blockId(), width);
  Value start = k.threadId(), step = k.i64c(kBlockThreads);
  // Folds `f(x_j)` over this thread's part of the row.
  auto fold = [&](Value init, function_ref<Value(Value, Value)> f) {
    auto loop = scf::ForOp::create(b, loc, start, width, step, ValueRange{init});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value v = k.load(k.f32(), x, k.add(base, loop.getInductionVar()));
    scf::YieldOp::create(b, loc, f(v, loop.getRegionIterArgs()[0]));
    return loop.getResult(0);
  };
  auto reduce = [&](Value v, gpu::AllReduceOperation kind) {
    return gpu::AllReduceOp::create(b, loc, v,
                                    gpu::AllReduceOperationAttr::get(b.getContext(), kind),
                                    /*uniform=*/true)
        .getResult();
  };
  // Writes `f(x_j, j)` over this thread's part of the row.
  auto rewrite = [&](function_ref<Value(Value, Value)> f) {
    auto loop = scf::ForOp::create(b, loc, start, width, step);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value j = loop.getInductionVar();
    Value at = k.add(base, j);
    k.store(f(k.load(k.f32(), x, at), j), y, at);
  };
  Value widthF = arith::UIToFPOp::create(b, loc, k.f32(), width);
  auto invSqrt = [&](Value v) { return k.fdiv(k.f32c(1.0f), math::SqrtOp::create(b, loc, v)); };
  if (auto rms = dyn_cast<Q::RMSNormOp>(op)) {
    Value squares = fold(k.f32c(0.0f), [&](Value v, Value acc) { return k.fma(v, v, acc); });
    Value mean = k.fdiv(reduce(squares, gpu::AllReduceOperation::ADD), widthF);
    Value inv = invSqrt(k.fadd(mean, k.f32c(rms.getEpsilon().convertToFloat())));
    rewrite([&](Value v, Value j) { return k.fmul(k.fmul(v, inv), k.load(k.f32(), scale, j)); });
  } else if (auto layer = dyn_cast<Q::LayerNormOp>(op)) {
    Value sum = fold(k.f32c(0.0f), [&](Value v, Value acc) { return k.fadd(v, acc); });
    Value mean = k.fdiv(reduce(sum, gpu::AllReduceOperation::ADD), widthF);
    Value centred = fold(k.f32c(0.0f), [&](Value v, Value acc) {
      Value c = k.fsub(v, mean);
      return k.fma(c, c, acc);
    });
    Value var = k.fdiv(reduce(centred, gpu::AllReduceOperation::ADD), widthF);
    Value inv = invSqrt(k.fadd(var, k.f32c(layer.getEpsilon().convertToFloat())));
    bool hasBias = static_cast<bool>(layer.getBias());
    rewrite([&](Value v, Value j) {
      Value out = k.fmul(k.fmul(k.fsub(v, mean), inv), k.load(k.f32(), scale, j));
      return hasBias ? k.fadd(out, k.load(k.f32(), bias, j)) : out;
    });
  } else {
    Value lowest = k.f32c(-std::numeric_limits<float>::infinity());
    Value local = fold(lowest, [&](Value v, Value acc) {
      return arith::MaximumFOp::create(b, loc, v, acc);
    });
    Value max = reduce(local, gpu::AllReduceOperation::MAXIMUMF);
    Value exps = fold(k.f32c(0.0f), [&](Value v, Value acc) {
      return k.fadd(math::ExpOp::create(b, loc, k.fsub(v, max)), acc);
    });
    Value inv = k.fdiv(k.f32c(1.0f), reduce(exps, gpu::AllReduceOperation::ADD));
    rewrite([&](Value v, Value) { return k.fmul(math::ExpOp::create(b, loc, k.fsub(v, max)), inv); });
  }
  b.setInsertionPointToEnd(&entry);
  b.setInsertionPoint(entry.getTerminator());
  return success();
}

} // namespace qopt::gpu_kernels
