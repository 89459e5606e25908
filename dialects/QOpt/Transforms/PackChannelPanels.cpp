//===- PackChannelPanels.cpp - 4-bit codes into the AVX-512 kernels' layout ----===//
//
// A weight is repacked once, here, so that the weights file maps straight into the layout the
// kernels read (include/qopt/Quant/ChannelPanels.h), instead of every run or every model load
// shuffling nibbles.
//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "qopt/Quant/ChannelPanels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_PACKCHANNELPANELSPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
/// Whether the kernels can read `op`'s weight in channel panels.
bool fitsPanels(QuantizedMatMulOp op) {
  SchemeAttr scheme = op.getScheme();
  int64_t k = op.getInFeatures();
  auto codes = cast<RankedTensorType>(op.getCodes().getType());
  unsigned bits = scheme.getBits();
  // 4-bit codes of any codebook (the float kernels look values up in a 16-entry table), 8-bit
  // integer and FP8 codes, 2- and 3-bit integer codes.
  return !op.getChannelPanels() &&
         qopt::quant::panelCodesFit(bits, scheme.getCodebook() == Codebook::Int,
                                    scheme.getDoubleQuantBlock() > 0) &&
         qopt::quant::panelShapeFits(bits, k, scheme.getGroupSize()) && codes.hasStaticShape() &&
         codes.getDimSize(0) >= qopt::quant::kPanelChannels && codes.getDimSize(1) == k * bits / 8;
}

/// The constant behind `v` when every use of it is operand `index` of a matmul in `ops`.
arith::ConstantOp ownedConstant(Value v, ArrayRef<QuantizedMatMulOp> ops, unsigned index) {
  auto cst = v ? v.getDefiningOp<arith::ConstantOp>() : arith::ConstantOp();
  if (!cst)
    return {};
  for (OpOperand &use : cst->getUses())
    if (use.getOperandNumber() != index ||
        !llvm::is_contained(ops, dyn_cast<QuantizedMatMulOp>(use.getOwner())))
      return {};
  return cst;
}

/// `cst` holding `bytes` instead: rewritten in place where it is a mutable resource blob (a large
/// model's codes are then never in memory twice), else a new resource constant named after it
/// (or `role`), `cst` erased.
Value replacementConstant(arith::ConstantOp cst, StringRef role, ArrayRef<char> bytes) {
  if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (blob && blob->isMutable() && blob->getData().size() == bytes.size()) {
      llvm::copy(bytes, blob->getMutableData().begin());
      return cst.getResult();
    }
  }
  OpBuilder b(cst);
  std::string name = (role + ".panels").str();
  if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
    name = (res.getRawHandle().getKey() + ".panels").str();
  auto type = cast<RankedTensorType>(cst.getType());
  Value fresh = resourceConstant(b, cst.getLoc(), name, type.getShape(), type.getElementType(),
                                 bytes, 64);
  cst.getResult().replaceAllUsesWith(fresh);
  cst->erase();
  return fresh;
}

struct PackChannelPanelsPass
    : public qopt::QOpt::impl::PackChannelPanelsPassBase<PackChannelPanelsPass> {
  void runOnOperation() override {
    // The matmuls reading each codes constant.
    llvm::MapVector<Operation *, SmallVector<QuantizedMatMulOp>> readers;
    getOperation().walk([&](QuantizedMatMulOp op) {
      if (auto cst = op.getCodes().getDefiningOp<arith::ConstantOp>())
        readers[cst].push_back(op);
    });
    for (auto &[cstOp, ops] : readers) {
      QuantizedMatMulOp first = ops.front();
      // Codes, scales and zero points must be read by these matmuls alone, all able to take
      // panels and sharing one weight (a tied embedding's gather keeps the row layout).
      bool sameWeight = llvm::all_of(ops, [&](QuantizedMatMulOp op) {
        return fitsPanels(op) && op.getScales() == first.getScales() &&
               op.getZeroPoints() == first.getZeroPoints() &&
               op.getInFeatures() == first.getInFeatures();
      });
      if (!sameWeight)
        continue;
      unsigned codesIndex = first.getCodesMutable().getOperandNumber();
      unsigned scalesIndex = first.getScalesMutable().getOperandNumber();
      arith::ConstantOp codes = ownedConstant(first.getCodes(), ops, codesIndex);
      arith::ConstantOp scales = ownedConstant(first.getScales(), ops, scalesIndex);
      arith::ConstantOp zeros;
      if (Value zp = first.getZeroPoints()) {
        zeros = ownedConstant(zp, ops, first.getZeroPointsMutable()[0].getOperandNumber());
        if (!zeros)
          continue;
      }
      if (!codes || !scales)
        continue;
      auto rows = constantData(codes.getResult()), scaleData = constantData(scales.getResult());
      std::optional<std::vector<char>> zeroData;
      if (zeros && !(zeroData = constantData(zeros.getResult())))
        continue;
      if (!rows || !scaleData)
        continue;
      int64_t n = cast<RankedTensorType>(codes.getType()).getDimSize(0);
      int64_t k = first.getInFeatures(), groups = first.getScheme().getNumGroups(k);
      auto bytes = [](std::vector<char> &v) { return reinterpret_cast<uint8_t *>(v.data()); };
      std::vector<char> packedCodes(rows->size());
      qopt::quant::convertChannelPanels(bytes(*rows), n, k, first.getScheme().getBits(),
                                        bytes(packedCodes), /*toPanels=*/true);
      auto permuted = [&](std::vector<char> &values) {
        std::vector<char> out(values.size());
        qopt::quant::permutePanelGroups(bytes(values), n, groups, values.size() / (n * groups),
                                        bytes(out));
        return out;
      };
      replacementConstant(codes, "codes", packedCodes);
      replacementConstant(scales, "scales", permuted(*scaleData));
      if (zeros)
        replacementConstant(zeros, "zero_points", permuted(*zeroData));
      for (QuantizedMatMulOp op : ops)
        op.setChannelPanels(true);
      ++numPacked;
    }
  }
};
} // namespace
