//===- OutlineFusedKernels.cpp - fused bodies as linalg loop nests --------===//
#include "qopt/Conversion/Passes.h"
#include "KernelSignature.h"

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"

namespace qopt {
#define GEN_PASS_DEF_OUTLINEFUSEDKERNELSPASS
#include "qopt/Conversion/Passes.h.inc"
} // namespace qopt

using namespace mlir;
namespace Q = qopt::QOpt;

namespace {
func::FuncOp outline(OpBuilder &mb, Q::FusedElementwiseOp fused, StringRef name) {
  Location loc = fused.getLoc();
  return qopt::createKernelFunction(mb, loc, name, [&](OpBuilder &b, Value operands) {

  int64_t rank = fused.getOutput().getType().getRank();
  size_t numOperands = fused.getInputs().size() + 1;
  SmallVector<Type> elements;
  for (Value in : fused.getInputs())
    elements.push_back(cast<ShapedType>(in.getType()).getElementType());
  elements.push_back(fused.getOutput().getType().getElementType());
  SmallVector<Value> memrefs;
  for (size_t i = 0; i < numOperands; ++i)
    memrefs.push_back(qopt::loadKernelOperand(b, loc, operands, i,
                                              qopt::stridedViewType(elements[i], rank)));

  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> maps(numOperands, identity);
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  Block &body = fused.getBody().front();
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ArrayRef(memrefs).drop_back(), ValueRange{memrefs.back()}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        IRMapping mapping;
        for (auto [from, to] : llvm::zip(body.getArguments(), args))
          mapping.map(from, to);
        for (Operation &op : body.without_terminator())
          nb.clone(op, mapping);
        auto yield = cast<Q::YieldOp>(body.getTerminator());
        linalg::YieldOp::create(nb, nloc, mapping.lookup(yield.getValues()[0]));
      });
  });
}

struct OutlineFusedKernelsPass
    : public qopt::impl::OutlineFusedKernelsPassBase<OutlineFusedKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder mb(&getContext());
    mb.setInsertionPointToEnd(module.getBody());
    unsigned next = 0;
    SmallVector<Operation *> fusedOps;
    module.walk([&](Operation *op) {
      if (auto e = dyn_cast<Q::FusedElementwiseOp>(op); e && !e.getKernel())
        fusedOps.push_back(op);
      if (auto m = dyn_cast<Q::FusedMatMulOp>(op); m && !m.getKernel())
        fusedOps.push_back(op);
      if (rowKernels && qopt::hasRowKernelForm(op) && !op->hasAttr(qopt::kKernelAttrName))
        fusedOps.push_back(op);
      if (dataKernels && qopt::dataKernelForm(op) && !op->hasAttr(qopt::kKernelAttrName))
        fusedOps.push_back(op);
      if (matmulKernels &&
          (qopt::hasActivationMatMulForm(op) || qopt::hasQuantizedMatMulForm(op)) &&
          !op->hasAttr(qopt::kKernelAttrName))
        fusedOps.push_back(op);
    });
    // Data kernels depend only on their form, so ops of one form share one.
    llvm::StringMap<func::FuncOp> dataKernelsByKey;
    for (Operation *op : fusedOps) {
      std::string name;
      do
        name = "qopt_kernel_" + std::to_string(next++);
      while (module.lookupSymbol(name));
      std::optional<qopt::DataKernelForm> form;
      if (dataKernels)
        form = qopt::dataKernelForm(op);
      if (form) {
        func::FuncOp &fn = dataKernelsByKey[form->key];
        if (!fn)
          fn = qopt::generateDataKernel(mb, op, name);
        op->setAttr(qopt::kKernelAttrName, FlatSymbolRefAttr::get(fn.getSymNameAttr()));
        op->setAttr(qopt::kKernelRankAttrName, mb.getI64IntegerAttr(form->rank));
        op->setAttr(qopt::kKernelBytesAttrName, mb.getI64IntegerAttr(form->bytes));
      } else if (auto e = dyn_cast<Q::FusedElementwiseOp>(op)) {
        func::FuncOp fn = outline(mb, e, name);
        e.setKernelAttr(FlatSymbolRefAttr::get(fn.getSymNameAttr()));
      } else if (auto m = dyn_cast<Q::FusedMatMulOp>(op)) {
        func::FuncOp fn = qopt::generateMatMulKernel(mb, op, name);
        m.setKernelAttr(FlatSymbolRefAttr::get(fn.getSymNameAttr()));
      } else if (auto q = dyn_cast<Q::QuantizedMatMulOp>(op)) {
        int64_t n = cast<RankedTensorType>(q.getCodes().getType()).getDimSize(0);
        func::FuncOp fn = qopt::generatePanelMatMulKernel(
            mb, op, name, static_cast<int64_t>(q.getInFeatures()), n, 2 * lanes);
        op->setAttr(qopt::kKernelAttrName, FlatSymbolRefAttr::get(fn.getSymNameAttr()));
        op->setAttr(qopt::kKernelPanelAttrName, mb.getI64IntegerAttr(2 * lanes));
      } else if (isa<Q::MatMulOp>(op)) {
        func::FuncOp fn = qopt::generateActivationMatMulKernel(mb, op, name, lanes);
        op->setAttr(qopt::kKernelAttrName, FlatSymbolRefAttr::get(fn.getSymNameAttr()));
      } else {
        func::FuncOp fn = qopt::generateRowKernel(mb, op, name, lanes);
        op->setAttr(qopt::kKernelAttrName, FlatSymbolRefAttr::get(fn.getSymNameAttr()));
      }
    }
  }
};
} // namespace

func::FuncOp qopt::createKernelFunction(OpBuilder &mb, Location loc, StringRef name,
                                        function_ref<void(OpBuilder &, Value)> body) {
  MLIRContext *ctx = mb.getContext();
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  auto fn = func::FuncOp::create(mb, loc, name, mb.getFunctionType({ptr}, {}));
  fn.setPrivate();
  fn->setAttr("qopt.kernel", mb.getUnitAttr());
  // Not called by any symbol use the verifier can see: the graph takes its address.
  fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(ctx, LLVM::Linkage::Internal));
  Block *entry = fn.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  body(b, entry->getArgument(0));
  func::ReturnOp::create(b, loc);
  return fn;
}

Value qopt::loadKernelOperand(OpBuilder &b, Location loc, Value operands, int64_t index,
                              MemRefType type) {
  // The LLVM struct a memref descriptor is: allocated and aligned pointers, offset, sizes,
  // strides. The runtime writes the same words.
  MLIRContext *ctx = b.getContext();
  Type ptr = LLVM::LLVMPointerType::get(ctx), i64 = b.getI64Type();
  SmallVector<Type> fields = {ptr, ptr, i64};
  if (type.getRank() > 0) {
    fields.push_back(LLVM::LLVMArrayType::get(i64, type.getRank()));
    fields.push_back(LLVM::LLVMArrayType::get(i64, type.getRank()));
  }
  Type descType = LLVM::LLVMStructType::getLiteral(ctx, fields);
  Value slot = LLVM::GEPOp::create(b, loc, ptr, ptr, operands,
                                   ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(index)});
  Value desc = LLVM::LoadOp::create(b, loc, ptr, slot);
  Value words = LLVM::LoadOp::create(b, loc, descType, desc);
  return UnrealizedConversionCastOp::create(b, loc, type, words).getResult(0);
}

MemRefType qopt::stridedViewType(Type element, int64_t rank) {
  SmallVector<int64_t> dyn(rank, ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(element.getContext(), ShapedType::kDynamic, dyn);
  return MemRefType::get(dyn, element, layout);
}

int64_t qopt::runtimeElementBytes(Type element) {
  unsigned bits = element.isIntOrFloat() ? element.getIntOrFloatBitWidth() : 0;
  if (bits == 1)
    return 1;
  if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
    return 0;
  return bits / 8;
}
