//===- QuantHandlers.cpp - already-quantized ONNX ops ---------------------===//
//
// ONNX's QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger and QLinearMatMul
// map to qopt ops one to one (the weight-dequantize fold later turns a constant weight's
// DequantizeLinear feeding a MatMul into a quantized matmul). ONNX Runtime's com.microsoft
// MatMulNBits becomes qopt.quantized_matmul over the same codes and scales: the weight is never
// expanded to f32, and the same kernels as `--wbits` run.
//
#include "NodeContext.h"
#include "TensorConversion.h"
#include "qopt/Quant/WeightQuantizer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <algorithm>
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace qopt::onnx_importer;
namespace Q = qopt::QOpt;
namespace quant = qopt::quant;

namespace {
/// The raw bytes of a constant input with `elementBytes`-byte elements, or nothing.
std::optional<std::vector<uint8_t>> constantBytes(Value v, size_t elementBytes) {
  auto cst = v ? v.getDefiningOp<arith::ConstantOp>() : arith::ConstantOp();
  auto type = cst ? dyn_cast<RankedTensorType>(cst.getType()) : RankedTensorType();
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  size_t bytes = type.getNumElements() * elementBytes;
  std::vector<uint8_t> out(bytes);
  if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != bytes)
      return std::nullopt;
    std::memcpy(out.data(), blob->getData().data(), bytes);
    return out;
  }
  auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
  if (!dense)
    return std::nullopt;
  ArrayRef<char> raw = dense.getRawData();
  for (size_t i = 0; i < bytes; ++i)
    out[i] = static_cast<uint8_t>(raw[dense.isSplat() ? i % elementBytes : i]);
  return out;
}

Value blobConstant(NodeContext &ctx, StringRef suffix, ArrayRef<int64_t> shape, Type elementType,
                   ArrayRef<uint8_t> data) {
  auto type = RankedTensorType::get(shape, elementType);
  auto blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(reinterpret_cast<const char *>(data.data()), data.size()), alignof(uint64_t));
  auto attr = DenseResourceElementsAttr::get(type, (ctx.name + suffix).str(), std::move(blob));
  return arith::ConstantOp::create(ctx.builder, ctx.loc, attr);
}

/// MatMulNBits (com.microsoft): A [..., K] times a weight stored as B [N, blocks, blob] of `bits`-bit
/// codes (a block of `block_size` codes per blob, low bits first), scales [N * blocks], optional
/// packed zero points (default 2^(bits-1)), optional g_idx (act-order), optional bias [N].
HandlerResult importMatMulNBits(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 6)))
    return failure();
  int64_t k = ctx.intAttr("K", 0), n = ctx.intAttr("N", 0), bits = ctx.intAttr("bits", 4);
  int64_t block = ctx.intAttr("block_size", 0);
  if (k <= 0 || n <= 0 || block <= 0)
    return ctx.emitError() << "K, N and block_size must be positive";
  if (bits < 2 || bits > 8 || (block * bits) % 8 != 0)
    return ctx.emitError() << bits << "-bit codes in blocks of " << block << " are not supported";
  int64_t blocks = (k + block - 1) / block, blob = block * bits / 8;
  // g_idx (act-order): column i of the weight uses group g_idx[i]. When each group holds `block`
  // columns, sorting the columns by group makes the groups contiguous again: the codes are stored
  // in that order and the input's features are gathered into it before the matmul.
  std::vector<int64_t> order;
  if (ctx.input(4) && ctx.input(3))
    return ctx.emitError() << "g_idx together with zero points is not supported (ONNX Runtime "
                              "ignores the zero points then, so the model's meaning is unclear)";
  if (Value gIdx = ctx.input(4)) {
    auto raw = constantBytes(gIdx, 4);
    auto gType = cast<RankedTensorType>(gIdx.getType());
    if (!raw || !gType.getElementType().isInteger(32) || static_cast<int64_t>(raw->size()) != 4 * k)
      return ctx.emitError() << "g_idx must be a constant int32 tensor of K = " << k << " elements";
    std::vector<int32_t> group(k);
    std::memcpy(group.data(), raw->data(), 4 * k);
    bool natural = true;
    for (int64_t i = 0; i < k; ++i) {
      if (group[i] < 0 || group[i] >= blocks)
        return ctx.emitError() << "g_idx[" << i << "] = " << group[i] << " is not a group of "
                               << blocks;
      natural &= group[i] == i / block;
    }
    if (!natural) {
      order.resize(k);
      for (int64_t i = 0; i < k; ++i)
        order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return group[a] < group[b]; });
      for (int64_t p = 0; p < k; ++p)
        if (group[order[p]] != p / block)
          return ctx.emitError() << "g_idx groups must each hold block_size (" << block
                                 << ") columns";
    }
  }
  auto b = constantBytes(ctx.input(1), 1);
  if (!b || static_cast<int64_t>(b->size()) != n * blocks * blob)
    return ctx.emitError() << "B must be a constant uint8 tensor of " << n << "x" << blocks << "x"
                           << blob << " bytes";
  auto scaleType = ctx.input(2) ? dyn_cast<RankedTensorType>(ctx.input(2).getType()) : nullptr;
  if (!scaleType || !(scaleType.getElementType().isF32() || scaleType.getElementType().isF16()))
    return ctx.emitError() << "scales must be float32 or float16";
  size_t scaleBytes = scaleType.getElementType().isF32() ? 4 : 2;
  auto scales = constantBytes(ctx.input(2), scaleBytes);
  if (!scales || static_cast<int64_t>(scales->size()) != n * blocks * static_cast<int64_t>(scaleBytes))
    return ctx.emitError() << "scales must be a constant tensor of " << n * blocks << " elements";

  // Codes: each row's blocks are concatenated densely (a short last block loses its padding).
  int64_t rowBytes = (k * bits + 7) / 8;
  std::vector<uint8_t> codes(n * rowBytes, 0);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t *src = b->data() + r * blocks * blob;
    uint8_t *dst = codes.data() + r * rowBytes;
    if (k % block == 0 && order.empty()) {
      std::memcpy(dst, src, rowBytes);
      continue;
    }
    for (int64_t i = 0; i < k; ++i) {
      int64_t from = order.empty() ? i : order[i];
      quant::writeCode(dst, i, bits,
                       quant::readCode(src + (from / block) * blob, from % block, bits));
    }
  }

  MLIRContext *mctx = ctx.getContext();
  Type u8 = IntegerType::get(mctx, 8, IntegerType::Unsigned);
  Value zeroPoints;
  if (Value zpInput = ctx.input(3)) {
    auto zpType = cast<RankedTensorType>(zpInput.getType());
    if (!zpType.getElementType().isInteger(8))
      return ctx.emitError() << "zero points must be packed uint8 (float zero points are not supported)";
    int64_t zpRow = (blocks * bits + 7) / 8;
    auto zp = constantBytes(zpInput, 1);
    if (!zp || static_cast<int64_t>(zp->size()) != n * zpRow)
      return ctx.emitError() << "zero points must be a constant uint8 tensor of " << n * zpRow
                             << " bytes (" << blocks << " " << bits << "-bit values per row)";
    std::vector<uint8_t> unpacked(n * blocks);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < blocks; ++j)
        unpacked[r * blocks + j] = static_cast<uint8_t>(quant::readCode(zp->data() + r * zpRow, j, bits));
    zeroPoints = blobConstant(ctx, ".zero_points", {n, blocks}, u8, unpacked);
  }
  Value codesValue = blobConstant(ctx, ".codes", {n, rowBytes}, u8, codes);
  Value scalesValue = blobConstant(ctx, ".scales", {n, blocks}, scaleType.getElementType(), *scales);
  auto scheme = Q::SchemeAttr::get(mctx, Q::Codebook::Int, bits, block, !zeroPoints,
                                   scaleType.getElementType(), 0);
  // accuracy_level 4 asks for int8 activations (ONNX Runtime honors it for 4- and 8-bit weights).
  bool int8Activations = ctx.intAttr("accuracy_level", 0) == 4 && (bits == 4 || bits == 8);
  Value input = ctx.input(0);
  if (!order.empty()) {
    int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
    auto gathered = ctx.make<Q::GatherOp>(input, ctx.i64Constant(order), rank - 1);
    if (failed(gathered))
      return failure();
    input = *gathered;
  }
  auto y = ctx.make<Q::QuantizedMatMulOp>(input, codesValue, scalesValue, zeroPoints, Value(),
                                          scheme, ctx.builder.getI64IntegerAttr(k),
                                          int8Activations ? ctx.builder.getUnitAttr() : UnitAttr(),
                                          FloatAttr());
  if (failed(y) || !ctx.input(5))
    return single(y);
  return single(ctx.make<Q::AddOp>(*y, ctx.input(5)));
}
/// MatMulBnb4 (com.microsoft): A [..., K] times a weight that was transposed to [N, K], flattened
/// and quantized in blocks of `block_size` with bitsandbytes' NF4 (quant_type 1) or FP4 (0) table,
/// two codes per byte with the first in the high nibble; absmax holds one scale per block.
HandlerResult importMatMulBnb4(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)))
    return failure();
  int64_t k = ctx.intAttr("K", 0), n = ctx.intAttr("N", 0), block = ctx.intAttr("block_size", 0);
  int64_t quantType = ctx.intAttr("quant_type", -1);
  if (k <= 0 || n <= 0 || block <= 0)
    return ctx.emitError() << "K, N and block_size must be positive";
  if (quantType != 0 && quantType != 1)
    return ctx.emitError() << "quant_type " << quantType << " is neither FP4 (0) nor NF4 (1)";
  if (k % block != 0)
    return ctx.emitError() << "blocks of " << block << " that straddle rows of K = " << k
                           << " are not supported";
  auto b = constantBytes(ctx.input(1), 1);
  if (!b || static_cast<int64_t>(b->size()) != (n * k + 1) / 2)
    return ctx.emitError() << "B must be a constant uint8 tensor of " << (n * k + 1) / 2 << " bytes";
  auto scaleType = ctx.input(2) ? dyn_cast<RankedTensorType>(ctx.input(2).getType()) : nullptr;
  if (!scaleType || !(scaleType.getElementType().isF32() || scaleType.getElementType().isF16()))
    return ctx.emitError() << "absmax must be float32 or float16";
  size_t scaleBytes = scaleType.getElementType().isF32() ? 4 : 2;
  int64_t blocks = n * k / block;
  auto absmax = constantBytes(ctx.input(2), scaleBytes);
  if (!absmax || static_cast<int64_t>(absmax->size()) != blocks * static_cast<int64_t>(scaleBytes))
    return ctx.emitError() << "absmax must be a constant tensor of " << blocks << " elements";
  // Our packing puts the first code of a byte in its low nibble.
  std::vector<uint8_t> codes(*b);
  for (uint8_t &byte : codes)
    byte = static_cast<uint8_t>((byte >> 4) | (byte << 4));
  MLIRContext *mctx = ctx.getContext();
  Type u8 = IntegerType::get(mctx, 8, IntegerType::Unsigned);
  Value codesValue = blobConstant(ctx, ".codes", {n, k / 2}, u8, codes);
  Value scalesValue =
      blobConstant(ctx, ".scales", {n, k / block}, scaleType.getElementType(), *absmax);
  auto scheme = Q::SchemeAttr::get(mctx, quantType == 1 ? Q::Codebook::NF4 : Q::Codebook::BnbFP4,
                                   4, block, true, scaleType.getElementType(), 0);
  return single(ctx.make<Q::QuantizedMatMulOp>(ctx.input(0), codesValue, scalesValue, Value(),
                                               Value(), scheme, ctx.builder.getI64IntegerAttr(k),
                                               UnitAttr(), FloatAttr()));
}

/// QuantizeLinear: per tensor (opset 10), per axis (13), saturate for float8 (19), blocked and
/// output_dtype (21). The storage type is the zero point's, else output_dtype's, else uint8.
HandlerResult importQuantizeLinear(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3)))
    return failure();
  Builder &b = ctx.builder;
  Type storage;
  if (Value zp = ctx.input(2))
    storage = cast<RankedTensorType>(zp.getType()).getElementType();
  else if (int64_t dtype = ctx.intAttr("output_dtype", 0))
    storage = convertElementType(static_cast<int32_t>(dtype), ctx.getContext());
  else
    storage = IntegerType::get(ctx.getContext(), 8, IntegerType::Unsigned);
  if (!storage)
    return ctx.emitError() << "output_dtype " << ctx.intAttr("output_dtype", 0)
                           << " is not a type qopt supports";
  return single(ctx.make<Q::QuantizeOp>(ctx.input(0), ctx.input(1), ctx.input(2),
                                        b.getI64IntegerAttr(ctx.intAttr("axis", 1)),
                                        b.getI64IntegerAttr(ctx.intAttr("block_size", 0)),
                                        b.getBoolAttr(ctx.intAttr("saturate", 1) != 0),
                                        TypeAttr::get(storage)));
}

HandlerResult importDequantizeLinear(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3)))
    return failure();
  Builder &b = ctx.builder;
  return single(ctx.make<Q::DequantizeOp>(ctx.input(0), ctx.input(1), ctx.input(2),
                                          b.getI64IntegerAttr(ctx.intAttr("axis", 1)),
                                          b.getI64IntegerAttr(ctx.intAttr("block_size", 0))));
}

HandlerResult importDynamicQuantizeLinear(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1, 3)))
    return failure();
  return ctx.makeMulti<Q::DynamicQuantizeOp>(3, ctx.input(0));
}

HandlerResult importMatMulInteger(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 4)))
    return failure();
  return single(
      ctx.make<Q::MatMulIntegerOp>(ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3)));
}

HandlerResult importQLinearMatMul(NodeContext &ctx) {
  if (failed(ctx.checkArity(8, 8)))
    return failure();
  for (size_t i = 0; i < 8; ++i)
    if (!ctx.input(i))
      return ctx.emitError() << "input " << i << " is required";
  return single(ctx.make<Q::QLinearMatMulOp>(ctx.input(0), ctx.input(1), ctx.input(2),
                                             ctx.input(3), ctx.input(4), ctx.input(5),
                                             ctx.input(6), ctx.input(7)));
}
} // namespace

void qopt::onnx_importer::registerQuantHandlers() {
  registerHandler("com.microsoft", "MatMulNBits", 1, importMatMulNBits);
  registerHandler("com.microsoft", "MatMulBnb4", 1, importMatMulBnb4);
  registerHandler("", "QuantizeLinear", 10, importQuantizeLinear);
  registerHandler("", "DequantizeLinear", 10, importDequantizeLinear);
  registerHandler("com.microsoft", "QuantizeLinear", 1, importQuantizeLinear);
  registerHandler("com.microsoft", "DequantizeLinear", 1, importDequantizeLinear);
  registerHandler("", "DynamicQuantizeLinear", 11, importDynamicQuantizeLinear);
  registerHandler("", "MatMulInteger", 10, importMatMulInteger);
  registerHandler("", "QLinearMatMul", 10, importQLinearMatMul);
}
