//===- QOptToRuntime.cpp - the graph as calls into the kernel runtime -----===//
//
// Lowers `func.func @main` to an LLVM-dialect function `qopt_graph` that runs the graph through
// qopt_rt_exec (KernelABI.h) and lays the constants out in a weights file.
//
#include "qopt/Conversion/Passes.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "qopt/Runtime/KernelABI.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace qopt {
#define GEN_PASS_DEF_CONVERTQOPTTORUNTIMEPASS
#include "qopt/Conversion/Passes.h.inc"
} // namespace qopt

using namespace mlir;
using namespace qopt;
using qopt::rt::Opcode;
namespace Q = qopt::QOpt;

namespace {
constexpr size_t kWeightsHeader = 16, kWeightsAlign = 64;

/// The runtime's dtype code (ONNX numbering) of an element type, or 0.
int64_t dtypeCode(Type t) {
  if (t.isF32()) return 1;
  if (t.isUnsignedInteger(8)) return 2;
  if (t.isSignlessInteger(8)) return 3;
  if (t.isUnsignedInteger(16)) return 4;
  if (t.isSignlessInteger(16)) return 5;
  if (t.isUnsignedInteger(32)) return 12;
  if (t.isUnsignedInteger(64)) return 13;
  if (t.isSignlessInteger(32)) return 6;
  if (t.isSignlessInteger(64)) return 7;
  if (t.isInteger(1)) return 9;
  if (t.isF64()) return 11;
  if (t.isF16()) return 10;
  if (t.isBF16()) return 16;
  if (isa<Float8E4M3FNType>(t)) return 17;
  if (t.isUnsignedInteger(4)) return 21;
  if (t.isSignlessInteger(4)) return 22;
  return 0;
}

/// Appends the bytes of a constant as the runtime stores it (row-major, i1 as one byte).
LogicalResult appendConstantBytes(ElementsAttr attr, std::vector<char> &out) {
  auto type = cast<ShapedType>(attr.getType());
  int64_t n = type.getNumElements();
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return failure();
    ArrayRef<char> data = blob->getData();
    out.insert(out.end(), data.begin(), data.end());
    return success();
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense)
    return failure();
  if (type.getElementType().isInteger(1)) {
    for (bool b : dense.getValues<bool>())
      out.push_back(b ? 1 : 0);
    return success();
  }
  ArrayRef<char> raw = dense.getRawData();
  if (dense.isSplat()) {
    for (int64_t i = 0; i < n; ++i)
      out.insert(out.end(), raw.begin(), raw.end());
  } else {
    out.insert(out.end(), raw.begin(), raw.end());
  }
  return success();
}

int64_t normalize(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }
int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

/// The quantized kernels' integer attributes (KernelABI.h).
SmallVector<int64_t> schemeInts(Q::SchemeAttr s, Value scales, int64_t k) {
  return {static_cast<int64_t>(s.getCodebook()), s.getBits(), s.getGroupSize(),
          s.getSymmetric() ? 1 : 0,
          dtypeCode(cast<RankedTensorType>(scales.getType()).getElementType()),
          s.getDoubleQuantBlock(), k};
}

struct KernelCall {
  Opcode opcode;
  SmallVector<int64_t> ints;
  SmallVector<double> floats;
};

FailureOr<KernelCall> encodeOp(Operation *op);

/// The opcode and attribute encoding of one qopt op (KernelABI.h lists them).
FailureOr<KernelCall> encode(Operation *op) {
  // Data movement and reductions with a generated kernel: opcode Generated, then the op's own
  // encoding behind the kernel's rank and element bytes.
  auto rank = op->getAttrOfType<IntegerAttr>("qopt.kernel_rank");
  auto bytes = op->getAttrOfType<IntegerAttr>("qopt.kernel_bytes");
  if (op->hasAttr("qopt.kernel") && (rank || bytes)) {
    if (!rank || !bytes)
      return op->emitOpError() << "has a generated data kernel without both qopt.kernel_rank and "
                                  "qopt.kernel_bytes";
    FailureOr<KernelCall> inner = encodeOp(op);
    if (failed(inner))
      return failure();
    KernelCall k{Opcode::Generated,
                 {static_cast<int64_t>(inner->opcode), rank.getInt(), bytes.getInt()},
                 inner->floats};
    k.ints.append(inner->ints);
    return k;
  }
  return encodeOp(op);
}

/// The encoding of `op` itself, leaving aside a generated data kernel.
FailureOr<KernelCall> encodeOp(Operation *op) {
  auto simple = [](Opcode c) -> FailureOr<KernelCall> { return KernelCall{c, {}, {}}; };
  auto reduceCall = [](Opcode c, auto r) -> FailureOr<KernelCall> {
    KernelCall k{c, {r.getKeepdims() ? 1 : 0}, {}};
    for (int64_t a : r.getAxes())
      k.ints.push_back(normalize(a, rankOf(r.getInput())));
    return k;
  };
  // Softmax and the norms with a generated row kernel (qopt-outline-fused-kernels marks them):
  // the runtime needs only where the reduced dims start.
  if (op->hasAttr("qopt.kernel") && isa<Q::MatMulOp>(op))
    return KernelCall{Opcode::MatMulKernel, {}, {}};
  if (auto q = dyn_cast<Q::QuantizedMatMulOp>(op); q && op->hasAttr("qopt.kernel")) {
    auto panel = op->getAttrOfType<IntegerAttr>("qopt.kernel_panel");
    if (!panel)
      return op->emitOpError() << "has a generated kernel but no qopt.kernel_panel width";
    KernelCall k{Opcode::QuantMatMulKernel,
                 schemeInts(q.getScheme(), q.getScales(), q.getInFeatures()), {}};
    k.ints.push_back(q.getBf16Activations() ? rt::kActivationsBf16 : 0);
    k.ints.push_back(panel.getInt());
    k.ints.push_back(q.getChannelPanels() ? 1 : 0);
    return k;
  }
  if (op->hasAttr("qopt.kernel") && isa<Q::SoftmaxOp, Q::RMSNormOp, Q::LayerNormOp>(op)) {
    int64_t rank = rankOf(op->getOperand(0)), axis = rank - 1;
    if (auto l = dyn_cast<Q::LayerNormOp>(op))
      axis = normalize(l.getAxis(), rank);
    return KernelCall{Opcode::RowKernel, {axis}, {}};
  }
  return llvm::TypeSwitch<Operation *, FailureOr<KernelCall>>(op)
      .Case([&](Q::NegOp) { return simple(Opcode::Neg); })
      .Case([&](Q::AbsOp) { return simple(Opcode::Abs); })
      .Case([&](Q::SqrtOp) { return simple(Opcode::Sqrt); })
      .Case([&](Q::ReciprocalOp) { return simple(Opcode::Reciprocal); })
      .Case([&](Q::ExpOp) { return simple(Opcode::Exp); })
      .Case([&](Q::LogOp) { return simple(Opcode::Log); })
      .Case([&](Q::TanhOp) { return simple(Opcode::Tanh); })
      .Case([&](Q::ErfOp) { return simple(Opcode::Erf); })
      .Case([&](Q::SigmoidOp) { return simple(Opcode::Sigmoid); })
      .Case([&](Q::SinOp) { return simple(Opcode::Sin); })
      .Case([&](Q::CosOp) { return simple(Opcode::Cos); })
      .Case([&](Q::ReluOp) { return simple(Opcode::Relu); })
      .Case([&](Q::FloorOp) { return simple(Opcode::Floor); })
      .Case([&](Q::CeilOp) { return simple(Opcode::Ceil); })
      .Case([&](Q::RoundOp) { return simple(Opcode::Round); })
      .Case([&](Q::SignOp) { return simple(Opcode::Sign); })
      .Case([&](Q::TileOp) { return simple(Opcode::Tile); })
      .Case([&](Q::QLinearAddOp q) {
        return KernelCall{Opcode::QLinearAdd, {q.getUnsignedDomain() ? 1 : 0}, {}};
      })
      .Case([&](Q::QLinearMulOp q) {
        return KernelCall{Opcode::QLinearMul, {q.getUnsignedDomain() ? 1 : 0}, {}};
      })
      .Case([&](Q::QLinearSoftmaxOp s) {
        return KernelCall{Opcode::QLinearSoftmax,
                          {normalize(s.getAxis(), rankOf(s.getInput())), s.getFlattenTail() ? 1 : 0},
                          {}};
      })
      .Case([&](Q::NotOp) { return simple(Opcode::Not); })
      .Case([&](Q::SiluOp) { return simple(Opcode::Silu); })
      .Case([&](Q::IsNaNOp) { return simple(Opcode::IsNaN); })
      .Case([&](Q::GeluOp g) {
        return KernelCall{Opcode::Gelu, {g.getApproximate() == "tanh" ? 1 : 0}, {}};
      })
      .Case([&](Q::CastOp c) -> FailureOr<KernelCall> {
        int64_t code = dtypeCode(c.getTo());
        if (!code)
          return c.emitOpError() << "casts to " << c.getTo() << ", which the runtime lacks";
        return KernelCall{Opcode::Cast, {code}, {}};
      })
      .Case([&](Q::AddOp) { return simple(Opcode::Add); })
      .Case([&](Q::SubOp) { return simple(Opcode::Sub); })
      .Case([&](Q::MulOp) { return simple(Opcode::Mul); })
      .Case([&](Q::DivOp) { return simple(Opcode::Div); })
      .Case([&](Q::PowOp) { return simple(Opcode::Pow); })
      .Case([&](Q::MaxOp) { return simple(Opcode::Max); })
      .Case([&](Q::MinOp) { return simple(Opcode::Min); })
      .Case([&](Q::ModOp) { return simple(Opcode::Mod); })
      .Case([&](Q::AndOp) { return simple(Opcode::And); })
      .Case([&](Q::OrOp) { return simple(Opcode::Or); })
      .Case([&](Q::XorOp) { return simple(Opcode::Xor); })
      .Case([&](Q::EqualOp) { return simple(Opcode::Equal); })
      .Case([&](Q::LessOp) { return simple(Opcode::Less); })
      .Case([&](Q::LessEqualOp) { return simple(Opcode::LessEqual); })
      .Case([&](Q::GreaterOp) { return simple(Opcode::Greater); })
      .Case([&](Q::GreaterEqualOp) { return simple(Opcode::GreaterEqual); })
      .Case([&](Q::WhereOp) { return simple(Opcode::Where); })
      .Case([&](Q::ShapeOp s) {
        auto [first, last] = s.getDimRange();
        return KernelCall{Opcode::Shape, {first, last}, {}};
      })
      .Case([&](Q::GatherOp g) { return KernelCall{Opcode::Gather, {static_cast<int64_t>(g.getAxis())}, {}}; })
      .Case([&](Q::GatherElementsOp g) {
        return KernelCall{Opcode::GatherElements, {static_cast<int64_t>(g.getAxis())}, {}};
      })
      .Case([&](Q::GatherNDOp g) { return KernelCall{Opcode::GatherND, {static_cast<int64_t>(g.getBatchDims())}, {}}; })
      .Case([&](Q::ConcatOp c) { return KernelCall{Opcode::Concat, {static_cast<int64_t>(c.getAxis())}, {}}; })
      .Case([&](Q::RangeOp) { return simple(Opcode::Range); })
      .Case([&](Q::CumSumOp c) {
        return KernelCall{Opcode::CumSum,
                          {static_cast<int64_t>(c.getAxis()), c.getExclusive() ? 1 : 0, c.getReverse() ? 1 : 0},
                          {}};
      })
      .Case([&](Q::ExpandOp) { return simple(Opcode::Expand); })
      .Case([&](Q::ReshapeOp r) {
        return KernelCall{Opcode::Reshape, {r.getAllowzero() ? 1 : 0}, {}};
      })
      .Case([&](Q::TransposeOp t) {
        return KernelCall{Opcode::Transpose, SmallVector<int64_t>(t.getPerm()), {}};
      })
      .Case([&](Q::SliceOp) { return simple(Opcode::Slice); })
      .Case([&](Q::SplitOp s) { return KernelCall{Opcode::Split, {static_cast<int64_t>(s.getAxis())}, {}}; })
      .Case([&](Q::SqueezeOp s) {
        auto in = s.getInput().getType();
        KernelCall k{Opcode::Squeeze, {}, {}};
        for (int64_t a : s.getAxes())
          k.ints.push_back(normalize(a, in.getRank()));
        if (s.getAxes().empty())
          for (int64_t d = 0; d < in.getRank(); ++d)
            if (in.getDimSize(d) == 1)
              k.ints.push_back(d);
        return k;
      })
      .Case([&](Q::UnsqueezeOp u) {
        KernelCall k{Opcode::Unsqueeze, {}, {}};
        for (int64_t a : u.getAxes())
          k.ints.push_back(normalize(a, rankOf(u.getOutput())));
        return k;
      })
      .Case([&](Q::ConstantOfShapeOp c) -> FailureOr<KernelCall> {
        auto value = dyn_cast<DenseElementsAttr>(c.getValue());
        Type et = c.getType().getElementType();
        if (!value || !dtypeCode(et))
          return c.emitOpError() << "has a fill value the runtime cannot represent";
        KernelCall k{Opcode::ConstantOfShape, {dtypeCode(et), 0}, {0.0}};
        if (isa<FloatType>(et))
          k.floats[0] = (*value.getValues<APFloat>().begin()).convertToDouble();
        else
          k.ints[1] = (*value.getValues<APInt>().begin()).getSExtValue();
        return k;
      })
      .Case([&](Q::TriluOp t) { return KernelCall{Opcode::Trilu, {t.getUpper() ? 1 : 0}, {}}; })
      .Case([&](Q::MatMulOp) { return simple(Opcode::MatMul); })
      .Case([&](Q::GemmOp g) {
        return KernelCall{Opcode::Gemm,
                          {g.getTransA() ? 1 : 0, g.getTransB() ? 1 : 0},
                          {g.getAlpha().convertToDouble(), g.getBeta().convertToDouble()}};
      })
      .Case([&](Q::SoftmaxOp s) {
        return KernelCall{Opcode::Softmax, {normalize(s.getAxis(), rankOf(s.getInput()))}, {}};
      })
      .Case([&](Q::LayerNormOp l) {
        return KernelCall{Opcode::LayerNorm,
                          {normalize(l.getAxis(), rankOf(l.getInput()))},
                          {l.getEpsilon().convertToDouble()}};
      })
      .Case([&](Q::RMSNormOp r) {
        return KernelCall{Opcode::RMSNorm, {}, {r.getEpsilon().convertToDouble()}};
      })
      .Case([&](Q::ReduceMeanOp r) { return reduceCall(Opcode::ReduceMean, r); })
      .Case([&](Q::ReduceSumOp r) { return reduceCall(Opcode::ReduceSum, r); })
      .Case([&](Q::ReduceMaxOp r) { return reduceCall(Opcode::ReduceMax, r); })
      .Case([&](Q::ReduceMinOp r) { return reduceCall(Opcode::ReduceMin, r); })
      .Case([&](Q::ReduceProdOp r) { return reduceCall(Opcode::ReduceProd, r); })
      .Case([&](Q::QuantizedMatMulOp q) {
        KernelCall k{Opcode::QuantMatMul, schemeInts(q.getScheme(), q.getScales(), q.getInFeatures()), {}};
        k.ints.push_back(q.getInt8Activations()   ? rt::kActivationsInt8
                         : q.getBf16Activations() ? rt::kActivationsBf16
                                                  : 0);
        // A static activation scale travels as its f32 bits (0: quantized per group at run time).
        float scale = q.getActivationScale() ? q.getActivationScale()->convertToFloat() : 0.0f;
        k.ints.push_back(static_cast<int64_t>(llvm::bit_cast<uint32_t>(scale)));
        k.ints.push_back(q.getChannelPanels() ? 1 : 0);
        return k;
      })
      .Case([&](Q::AttentionOp a) {
        return KernelCall{Opcode::Attention, {}, {a.getScale().convertToDouble()}};
      })
      .Case([&](Q::KVAppendOp a) -> FailureOr<KernelCall> {
        auto past = dyn_cast<BlockArgument>(a.getPast());
        if (!past)
          return a.emitOpError() << "appends to a value that is not a graph input";
        return KernelCall{Opcode::KVAppend,
                          {normalize(a.getAxis(), rankOf(a.getPast())),
                           static_cast<int64_t>(past.getArgNumber())},
                          {}};
      })
      .Case([&](Q::SparseMatMulOp q) {
        return KernelCall{Opcode::SparseMatMul, {static_cast<int64_t>(q.getInFeatures())}, {}};
      })
      .Case([&](Q::QuantizedGatherOp q) {
        return KernelCall{Opcode::QuantGather, schemeInts(q.getScheme(), q.getScales(), q.getRowSize()), {}};
      })
      .Case([&](Q::QuantizeOp q) -> FailureOr<KernelCall> {
        int64_t storage = dtypeCode(q.getStorageType());
        Type st = q.getStorageType();
        bool supported = (st.isInteger() && st.getIntOrFloatBitWidth() <= 16) ||
                         isa<Float8E4M3FNType>(st);
        if (!storage || !supported)
          return q.emitOpError() << "quantizes to " << st
                                 << ", which the runtime lacks (4-, 8- and 16-bit integers and "
                                    "f8E4M3FN only)";
        return KernelCall{Opcode::Quantize,
                          {normalize(q.getAxis(), rankOf(q.getInput())), static_cast<int64_t>(q.getBlockSize()),
                           q.getSaturate() ? 1 : 0, storage},
                          {}};
      })
      .Case([&](Q::DequantizeOp q) {
        return KernelCall{Opcode::Dequantize,
                          {normalize(q.getAxis(), rankOf(q.getInput())), static_cast<int64_t>(q.getBlockSize())}, {}};
      })
      .Case([&](Q::DynamicQuantizeOp) { return simple(Opcode::DynamicQuantize); })
      .Case([&](Q::MatMulIntegerOp) { return simple(Opcode::MatMulInteger); })
      .Case([&](Q::QLinearMatMulOp) { return simple(Opcode::QLinearMatMul); })
      .Case([&](Q::FusedElementwiseOp f) -> FailureOr<KernelCall> {
        if (!f.getKernel())
          return f.emitOpError() << "has no kernel; run qopt-outline-fused-kernels and "
                                    "qopt-lower-kernels-to-llvm first";
        RankedTensorType out = f.getOutput().getType();
        return KernelCall{Opcode::FusedElementwise,
                          {out.getRank(), dtypeCode(out.getElementType())}, {}};
      })
      .Case([&](Q::PanelGatherOp g) {
        return KernelCall{Opcode::PanelGather, {static_cast<int64_t>(g.getN())}, {}};
      })
      .Case([&](Q::FusedMatMulOp m) -> FailureOr<KernelCall> {
        if (!m.getKernel())
          return m.emitOpError() << "has no kernel; run qopt-outline-fused-kernels and "
                                    "qopt-lower-kernels-to-llvm first";
        return KernelCall{Opcode::FusedMatMul, {m.getK(), static_cast<int64_t>(m.getN()), static_cast<int64_t>(m.getPanel())}, {}};
      })
      .Default([](Operation *op) -> FailureOr<KernelCall> {
        return op->emitOpError() << "has no CPU kernel yet";
      });
}

/// FNV-1a, to tie a library to the weights it was compiled with.
uint64_t fnv1a(ArrayRef<char> bytes, uint64_t h = 1469598103934665603ull) {
  for (char c : bytes)
    h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

struct ConvertQOptToRuntimePass
    : public qopt::impl::ConvertQOptToRuntimePassBase<ConvertQOptToRuntimePass> {
  using Base::Base;

  void runOnOperation() override;

private:
  /// Declares (once) an external runtime function.
  LLVM::LLVMFuncOp runtimeFunc(StringRef name, Type result, ArrayRef<Type> params);
  /// A private constant global holding `values`, and its address.
  template <typename T> Value constantArray(OpBuilder &b, Location loc, ArrayRef<T> values, Type et);
  Value i64(OpBuilder &b, Location loc, int64_t v) {
    return LLVM::ConstantOp::create(b, loc, b.getI64Type(), b.getI64IntegerAttr(v));
  }

  ModuleOp module;
  OpBuilder *moduleBuilder = nullptr;
  unsigned numGlobals = 0;
};

LLVM::LLVMFuncOp ConvertQOptToRuntimePass::runtimeFunc(StringRef name, Type result,
                                                       ArrayRef<Type> params) {
  if (auto f = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return f;
  return LLVM::LLVMFuncOp::create(*moduleBuilder, module.getLoc(), name,
                                  LLVM::LLVMFunctionType::get(result, params));
}

template <typename T>
Value ConvertQOptToRuntimePass::constantArray(OpBuilder &b, Location loc, ArrayRef<T> values,
                                              Type et) {
  if (values.empty())
    return LLVM::ZeroOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()));
  auto arrayType = LLVM::LLVMArrayType::get(et, values.size());
  auto tensorType = RankedTensorType::get({static_cast<int64_t>(values.size())}, et);
  auto global = LLVM::GlobalOp::create(
      *moduleBuilder, loc, arrayType, /*isConstant=*/true, LLVM::Linkage::Private,
      ("__qopt_attrs_" + Twine(numGlobals++)).str(), DenseElementsAttr::get(tensorType, values));
  return LLVM::AddressOfOp::create(b, loc, global);
}

void ConvertQOptToRuntimePass::runOnOperation() {
  module = getOperation();
  MLIRContext *ctx = &getContext();
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main || main.isExternal()) {
    module.emitError() << "expects a func.func @main holding the graph";
    return signalPassFailure();
  }
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(module.getBody());
  moduleBuilder = &mb;
  Type ptr = LLVM::LLVMPointerType::get(ctx), i64Type = mb.getI64Type(), f64Type = mb.getF64Type();
  Type voidType = LLVM::LLVMVoidType::get(ctx);
  auto inputFn = runtimeFunc("qopt_rt_input", ptr, {ptr, i64Type});
  auto weightFn = runtimeFunc("qopt_rt_weight", ptr, {ptr, i64Type, i64Type, i64Type, ptr});
  auto execFn = runtimeFunc("qopt_rt_exec", voidType,
                            {ptr, i64Type, ptr, i64Type, ptr, i64Type, ptr, i64Type, ptr, i64Type});
  auto outputFn = runtimeFunc("qopt_rt_output", voidType, {ptr, i64Type, ptr});
  // Ops that qopt-generate-gpu-kernels gave a GPU kernel call this instead, with its name.
  LLVM::LLVMFuncOp execGpuFn;
  llvm::StringMap<LLVM::GlobalOp> kernelNames;
  auto kernelNameOf = [&](OpBuilder &b, Location loc, StringRef name) -> Value {
    LLVM::GlobalOp &global = kernelNames[name];
    if (!global) {
      std::string text = (name + Twine('\0')).str();
      global = LLVM::GlobalOp::create(
          mb, loc, LLVM::LLVMArrayType::get(mb.getI8Type(), text.size()), /*isConstant=*/true,
          LLVM::Linkage::Private, ("__qopt_gpu_kernel_" + Twine(kernelNames.size())).str(),
          mb.getStringAttr(text));
    }
    return LLVM::AddressOfOp::create(b, loc, global);
  };
  auto releaseFn = runtimeFunc("qopt_rt_release", voidType, {ptr, ptr});

  auto graph = LLVM::LLVMFuncOp::create(mb, main.getLoc(), "qopt_graph",
                                        LLVM::LLVMFunctionType::get(voidType, {ptr}));
  Block *entry = graph.addEntryBlock(mb);
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  Value ctxArg = entry->getArgument(0);
  Location loc = main.getLoc();

  // Operand and result arrays, reused by every call.
  size_t maxIns = 1, maxOuts = 1;
  main.walk([&](Operation *op) {
    maxIns = std::max<size_t>(maxIns, op->getNumOperands());
    maxOuts = std::max<size_t>(maxOuts, op->getNumResults());
  });
  Value insArray = LLVM::AllocaOp::create(b, loc, ptr, ptr, i64(b, loc, maxIns));
  Value outsArray = LLVM::AllocaOp::create(b, loc, ptr, ptr, i64(b, loc, maxOuts));
  auto slot = [&](Value array, int64_t i) {
    return LLVM::GEPOp::create(b, loc, ptr, ptr, array, ArrayRef<LLVM::GEPArg>{i});
  };

  // A 2-D transpose feeding only a BLAS matmul's rhs is not materialized: the matmul reads the
  // untransposed tensor with its transpose flag. (A matmul with a generated kernel reads row-major
  // operands, so its transpose stays, as a generated copy.)
  DenseMap<Operation *, Value> transposedRhs;
  SmallPtrSet<Operation *, 8> foldedTransposes;
  main.walk([&](Q::MatMulOp mm) {
    if (mm->hasAttr("qopt.kernel"))
      return;
    auto t = mm.getRhs().getDefiningOp<Q::TransposeOp>();
    if (t && t.getPerm() == ArrayRef<int64_t>{1, 0} && t->hasOneUse()) {
      transposedRhs[mm] = t.getInput();
      foldedTransposes.insert(t);
    }
  });
  auto operandsOf = [&](Operation *op) {
    SmallVector<Value> operands(op->getOperands());
    if (auto slice = dyn_cast<Q::SliceOp>(op))
      operands = {slice.getInput(), slice.getStarts(), slice.getEnds(), slice.getAxes(),
                  slice.getSteps()};
    if (auto q = dyn_cast<Q::QuantizedMatMulOp>(op))
      operands = {q.getInput(), q.getCodes(), q.getScales(), q.getZeroPoints(), q.getScaleScales()};
    if (auto q = dyn_cast<Q::QuantizeOp>(op))
      operands = {q.getInput(), q.getScale(), q.getZeroPoint()};
    if (auto q = dyn_cast<Q::DequantizeOp>(op))
      operands = {q.getInput(), q.getScale(), q.getZeroPoint()};
    if (auto q = dyn_cast<Q::MatMulIntegerOp>(op))
      operands = {q.getA(), q.getB(), q.getAZeroPoint(), q.getBZeroPoint()};
    if (auto q = dyn_cast<Q::QuantizedGatherOp>(op))
      operands = {q.getCodes(), q.getScales(), q.getZeroPoints(), q.getScaleScales(),
                  q.getIndices()};
    if (Value rhs = transposedRhs.lookup(op))
      operands[1] = rhs;
    return operands;
  };

  // The last op that uses each value, to release it right after.
  DenseMap<Value, Operation *> lastUse;
  main.walk([&](Operation *op) {
    if (foldedTransposes.contains(op))
      return;
    for (Value v : operandsOf(op))
      if (v)
        lastUse[v] = op;
  });
  DenseMap<Value, Value> handles;
  auto releaseDead = [&](Operation *op) {
    SmallPtrSet<Value, 4> done;
    for (Value v : operandsOf(op))
      if (v && lastUse.lookup(v) == op && done.insert(v).second)
        LLVM::CallOp::create(b, loc, releaseFn, ValueRange{ctxArg, handles.lookup(v)});
    for (Value r : op->getResults())
      if (r.use_empty())
        LLVM::CallOp::create(b, loc, releaseFn, ValueRange{ctxArg, handles.lookup(r)});
  };

  std::string signature;
  llvm::raw_string_ostream sig(signature);
  auto describe = [&](StringRef kind, StringRef name, Type type) -> LogicalResult {
    auto t = cast<RankedTensorType>(type);
    int64_t code = dtypeCode(t.getElementType());
    if (!code)
      return main.emitError() << "graph " << kind << " '" << name << "' has element type "
                              << t.getElementType() << ", which the runtime lacks";
    sig << kind << " " << name << " " << code << " " << t.getRank();
    for (int64_t d : t.getShape())
      sig << " " << (ShapedType::isDynamic(d) ? -1 : d);
    sig << "\n";
    return success();
  };

  for (auto [i, arg] : llvm::enumerate(main.getArguments())) {
    auto name = main.getArgAttrOfType<StringAttr>(i, "qopt.name");
    if (failed(describe("in", name ? name.getValue() : ("input" + Twine(i)).str(), arg.getType())))
      return signalPassFailure();
    handles[arg] = LLVM::CallOp::create(b, loc, inputFn, ValueRange{ctxArg, i64(b, loc, i)})
                       .getResult();
    if (arg.use_empty())
      LLVM::CallOp::create(b, loc, releaseFn, ValueRange{ctxArg, handles[arg]});
  }

  std::vector<char> weights(kWeightsHeader, 0);
  // Reserved whole: growing by doubling would briefly hold up to twice a large model's weights.
  size_t expected = kWeightsHeader;
  for (Operation &op : main.getBody().front())
    if (auto cst = dyn_cast<arith::ConstantOp>(op))
      if (auto type = dyn_cast<RankedTensorType>(cst.getType()); type && type.hasStaticShape())
        expected += kWeightsAlign + static_cast<size_t>(type.getNumElements()) *
                                        std::max<unsigned>(1, type.getElementTypeBitWidth() / 8);
  weights.reserve(expected);
  // Constants tagged `qopt.weight_slot` have their offset in the weights file recorded on the
  // module, for tools that rewrite a weight in place (sensitivity measurement).
  SmallVector<NamedAttribute> slotOffsets;
  for (Operation &op : main.getBody().front()) {
    Location opLoc = op.getLoc();
    if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      auto attr = dyn_cast<ElementsAttr>(cst.getValue());
      auto type = dyn_cast<RankedTensorType>(cst.getType());
      if (!attr || !type || !dtypeCode(type.getElementType())) {
        op.emitOpError() << "is a constant the runtime cannot hold";
        return signalPassFailure();
      }
      weights.resize((weights.size() + kWeightsAlign - 1) / kWeightsAlign * kWeightsAlign, 0);
      int64_t offset = weights.size();
      if (auto slot = op.getAttrOfType<StringAttr>("qopt.weight_slot"))
        slotOffsets.emplace_back(slot, mb.getI64IntegerAttr(offset));
      if (failed(appendConstantBytes(attr, weights))) {
        op.emitOpError() << "has data that cannot be read";
        return signalPassFailure();
      }
      Value dims = constantArray<int64_t>(b, opLoc, type.getShape(), i64Type);
      handles[cst.getResult()] =
          LLVM::CallOp::create(b, opLoc, weightFn,
                               ValueRange{ctxArg, i64(b, opLoc, dtypeCode(type.getElementType())),
                                          i64(b, opLoc, offset), i64(b, opLoc, type.getRank()),
                                          dims})
              .getResult();
      releaseDead(&op);
      continue;
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        auto name = main.getResultAttrOfType<StringAttr>(i, "qopt.name");
        if (failed(describe("out", name ? name.getValue() : ("output" + Twine(i)).str(),
                            v.getType())))
          return signalPassFailure();
        LLVM::CallOp::create(b, loc, outputFn, ValueRange{ctxArg, i64(b, loc, i), handles[v]});
      }
      releaseDead(&op);
      continue;
    }
    if (foldedTransposes.contains(&op))
      continue;
    FailureOr<KernelCall> call = encode(&op);
    if (failed(call))
      return signalPassFailure();
    if (transposedRhs.count(&op))
      call->ints = {1};
    // Operands in the kernel's order; a slice's absent axes or steps are passed as null so
    // that the ones present keep their positions.
    SmallVector<Value> operands = operandsOf(&op);
    SmallVector<Value> operandHandles;
    // A generated kernel goes first, as its address (KernelABI.h).
    FlatSymbolRefAttr kernelName;
    if (auto fused = dyn_cast<Q::FusedElementwiseOp>(op))
      kernelName = fused.getKernelAttr();
    if (auto fused = dyn_cast<Q::FusedMatMulOp>(op))
      kernelName = fused.getKernelAttr();
    if (auto rowKernel = op.getAttrOfType<FlatSymbolRefAttr>("qopt.kernel"))
      kernelName = rowKernel;
    if (kernelName) {
      auto kernel = module.lookupSymbol<LLVM::LLVMFuncOp>(kernelName);
      if (!kernel) {
        op.emitOpError() << "names kernel " << kernelName
                         << ", which is not an LLVM function; run qopt-lower-kernels-to-llvm";
        return signalPassFailure();
      }
      operandHandles.push_back(LLVM::AddressOfOp::create(b, opLoc, kernel));
    }
    for (Value v : operands)
      operandHandles.push_back(v ? handles.lookup(v) : Value(LLVM::ZeroOp::create(b, opLoc, ptr)));
    if (operandHandles.size() > maxIns) {
      insArray = LLVM::AllocaOp::create(b, loc, ptr, ptr, i64(b, loc, operandHandles.size()));
      maxIns = operandHandles.size();
    }
    for (auto [i, handle] : llvm::enumerate(operandHandles))
      LLVM::StoreOp::create(b, opLoc, handle, slot(insArray, i));
    Value ints = constantArray<int64_t>(b, opLoc, call->ints, i64Type);
    Value floats = constantArray<double>(b, opLoc, call->floats, f64Type);
    SmallVector<Value> args = {ctxArg};
    LLVM::LLVMFuncOp callee = execFn;
    if (auto gpuKernel = op.getAttrOfType<StringAttr>("qopt.gpu_kernel")) {
      if (!execGpuFn)
        execGpuFn = runtimeFunc("qopt_rt_exec_gpu", voidType,
                                {ptr, ptr, i64Type, ptr, i64Type, ptr, i64Type, ptr, i64Type,
                                 ptr, i64Type});
      callee = execGpuFn;
      args.push_back(kernelNameOf(b, opLoc, gpuKernel.getValue()));
    }
    args.append({i64(b, opLoc, static_cast<int64_t>(call->opcode)), insArray,
                 i64(b, opLoc, operandHandles.size()), outsArray,
                 i64(b, opLoc, op.getNumResults()), ints, i64(b, opLoc, call->ints.size()),
                 floats, i64(b, opLoc, call->floats.size())});
    LLVM::CallOp::create(b, opLoc, callee, args);
    ++numKernelCalls;
    for (auto [i, r] : llvm::enumerate(op.getResults()))
      handles[r] = LLVM::LoadOp::create(b, opLoc, ptr, slot(outsArray, i));
    releaseDead(&op);
  }
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  // KV-cache inputs that qopt-fuse-attention made appendable in place.
  for (unsigned i = 0; i < main.getNumArguments(); ++i)
    if (main.getArgAttr(i, "qopt.kv_cache"))
      sig << "kv " << i << "\n";

  // The signature, and the id shared with the weights file.
  std::string sigText = sig.str();
  uint64_t id = fnv1a(ArrayRef<char>(sigText.data(), sigText.size()),
                      fnv1a(ArrayRef<char>(weights).drop_front(kWeightsHeader)));
  sigText.push_back('\0');
  LLVM::GlobalOp::create(mb, loc, LLVM::LLVMArrayType::get(mb.getI8Type(), sigText.size()),
                         /*isConstant=*/true, LLVM::Linkage::External, "qopt_signature",
                         mb.getStringAttr(sigText));
  LLVM::GlobalOp::create(mb, loc, i64Type, /*isConstant=*/true, LLVM::Linkage::External,
                         "qopt_weights_id", mb.getI64IntegerAttr(static_cast<int64_t>(id)));
  std::memcpy(weights.data(), "QOPTWGT1", 8);
  std::memcpy(weights.data() + 8, &id, 8);
  numWeightBytes = weights.size();
  if (!slotOffsets.empty())
    module->setAttr("qopt.weight_slots", DictionaryAttr::get(module.getContext(), slotOffsets));
  main.erase();

  if (!weightsFile.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(weightsFile, ec, llvm::sys::fs::OF_None);
    if (ec) {
      module.emitError() << "cannot write the weights file '" << weightsFile
                         << "': " << ec.message();
      return signalPassFailure();
    }
    os.write(weights.data(), weights.size());
  }
}
} // namespace
