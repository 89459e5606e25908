//===- QDQKernels.cpp - ONNX's integer quantization ops -------------------===//
//
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger and QLinearMatMul with the
// arithmetic ONNX specifies: division by the scale, rounding half to even (nearbyint under the
// default rounding mode), saturation to the storage type, exact int32 accumulation.
//
#include "Tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace qopt::rt;

namespace {
/// The representable range of an integer storage dtype.
std::pair<float, float> storageRange(int32_t dtype) {
  switch (dtype) {
  case QOPT_UINT8: return {0.0f, 255.0f};
  case QOPT_INT8: return {-128.0f, 127.0f};
  case QOPT_UINT16: return {0.0f, 65535.0f};
  case QOPT_INT16: return {-32768.0f, 32767.0f};
  default: fail(std::string("quantization to ") + dtypeName(dtype) + " is not supported");
  }
}

void storeInt(Tensor &t, int64_t i, int64_t v) {
  switch (t.dtype) {
  case QOPT_UINT8: t.as<uint8_t>()[i] = static_cast<uint8_t>(v); break;
  case QOPT_INT8: t.as<int8_t>()[i] = static_cast<int8_t>(v); break;
  case QOPT_UINT16: t.as<uint16_t>()[i] = static_cast<uint16_t>(v); break;
  case QOPT_INT16: t.as<int16_t>()[i] = static_cast<int16_t>(v); break;
  case QOPT_INT32: t.as<int32_t>()[i] = static_cast<int32_t>(v); break;
  default: fail("bad integer storage");
  }
}

/// Maps an element of `x` to its scale (and zero point) index: per tensor, per axis, or blocked.
struct ParamIndex {
  int64_t dim = 1, inner = 1, block = 0, scaleDim = 1;
  bool perTensor = true;

  ParamIndex(const Tensor &x, const Tensor &scale, int64_t axis, int64_t blockSize) {
    if (scale.numElements() == 1 && blockSize == 0)
      return;
    perTensor = false;
    if (axis < 0 || axis >= x.rank)
      fail("quantization axis out of range");
    dim = x.dims[axis];
    for (int d = axis + 1; d < x.rank; ++d)
      inner *= x.dims[d];
    block = blockSize;
    if (block > 0) {
      scaleDim = (dim + block - 1) / block;
      if (scale.rank != x.rank || scale.dims[axis] != scaleDim ||
          scale.numElements() != x.numElements() / std::max<int64_t>(dim, 1) * scaleDim)
        fail("blocked quantization scales do not match the input");
    } else if (scale.numElements() != dim) {
      fail("per-axis quantization needs " + std::to_string(dim) + " scales, got " +
           std::to_string(scale.numElements()));
    }
  }
  int64_t operator()(int64_t i) const {
    if (perTensor)
      return 0;
    int64_t a = (i / inner) % dim;
    if (block == 0)
      return a;
    int64_t outer = i / (inner * dim), in = i % inner;
    return (outer * scaleDim + a / block) * inner + in;
  }
};

void requireScale(const Tensor *s) {
  if (!s || s->dtype != QOPT_FLOAT32)
    fail("quantization scales must be float32");
}

void quantize(Context &ctx, Tensor **ins, Tensor **outs, const int64_t *i, int64_t ni) {
  Tensor &x = *ins[0], *scale = ins[1], *zp = ins[2];
  requireScale(scale);
  if (x.dtype != QOPT_FLOAT32)
    fail("QuantizeLinear needs a float32 input");
  int32_t storage = static_cast<int32_t>(i[3]);
  auto [lo, hi] = storageRange(storage);
  ParamIndex index(x, *scale, i[0], i[1]);
  Tensor *out = ctx.allocate(storage, x.shape());
  outs[0] = out;
  const float *px = x.as<float>(), *ps = scale->as<float>();
  for (int64_t e = 0, n = x.numElements(); e < n; ++e) {
    int64_t p = index(e);
    float z = zp ? static_cast<float>(readInt(*zp, p)) : 0.0f;
    float q = std::nearbyint(px[e] / ps[p]) + z;
    storeInt(*out, e, static_cast<int64_t>(std::clamp(q, lo, hi)));
  }
}

void dequantize(Context &ctx, Tensor **ins, Tensor **outs, const int64_t *i, int64_t ni) {
  Tensor &x = *ins[0], *scale = ins[1], *zp = ins[2];
  requireScale(scale);
  ParamIndex index(x, *scale, i[0], i[1]);
  Tensor *out = ctx.allocate(QOPT_FLOAT32, x.shape());
  outs[0] = out;
  const float *ps = scale->as<float>();
  float *py = out->as<float>();
  for (int64_t e = 0, n = x.numElements(); e < n; ++e) {
    int64_t p = index(e);
    int64_t shifted = readInt(x, e) - (zp ? readInt(*zp, p) : 0);
    py[e] = static_cast<float>(shifted) * ps[p];
  }
}

void dynamicQuantize(Context &ctx, Tensor **ins, Tensor **outs) {
  Tensor &x = *ins[0];
  if (x.dtype != QOPT_FLOAT32)
    fail("DynamicQuantizeLinear needs a float32 input");
  const float *px = x.as<float>();
  int64_t n = x.numElements();
  float mn = 0.0f, mx = 0.0f;
  for (int64_t e = 0; e < n; ++e) {
    mn = std::min(mn, px[e]);
    mx = std::max(mx, px[e]);
  }
  float scale = (mx - mn) / 255.0f;
  float zero = scale != 0.0f ? std::nearbyint(std::clamp(0.0f - mn / scale, 0.0f, 255.0f)) : 0.0f;
  Tensor *y = ctx.allocate(QOPT_UINT8, x.shape());
  Tensor *s = ctx.allocate(QOPT_FLOAT32, {});
  Tensor *z = ctx.allocate(QOPT_UINT8, {});
  uint8_t *py = y->as<uint8_t>();
  for (int64_t e = 0; e < n; ++e) {
    float q = scale != 0.0f ? std::nearbyint(px[e] / scale) + zero : zero;
    py[e] = static_cast<uint8_t>(std::clamp(q, 0.0f, 255.0f));
  }
  *s->as<float>() = scale;
  *z->as<uint8_t>() = static_cast<uint8_t>(zero);
  outs[0] = y;
  outs[1] = s;
  outs[2] = z;
}

/// Exact int32 (a - a_zero_point) x (b - b_zero_point) with NumPy matmul broadcasting; calls
/// `emit(index, acc, row, col)` for every output element.
template <typename Emit>
std::vector<int64_t> integerMatMul(Tensor &a, Tensor &b, Tensor *azp, Tensor *bzp, Emit emit,
                                   std::vector<int64_t> *outShape) {
  std::vector<int64_t> as = a.shape(), bs = b.shape();
  bool aVec = as.size() == 1, bVec = bs.size() == 1;
  if (aVec) as.insert(as.begin(), 1);
  if (bVec) bs.push_back(1);
  int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k)
    fail("integer matmul contracts " + std::to_string(k) + " against " +
         std::to_string(bs[bs.size() - 2]));
  std::vector<int64_t> aBatch(as.begin(), as.end() - 2), bBatch(bs.begin(), bs.end() - 2);
  std::vector<int64_t> batch = broadcastShapes(aBatch, bBatch);
  *outShape = batch;
  if (!aVec) outShape->push_back(m);
  if (!bVec) outShape->push_back(n);
  if (azp && azp->numElements() != 1 && azp->numElements() != m)
    fail("a_zero_point must be a scalar or one per row");
  if (bzp && bzp->numElements() != 1 && bzp->numElements() != n)
    fail("b_zero_point must be a scalar or one per column");
  int64_t batches = 1;
  for (int64_t d : batch) batches *= d;
  std::vector<int64_t> aStrides = broadcastStrides(aBatch, batch.size(), batch);
  std::vector<int64_t> bStrides = broadcastStrides(bBatch, batch.size(), batch);
  std::vector<int32_t> bColumn(k);
  for (int64_t t = 0; t < batches; ++t) {
    int64_t aOff, bOff;
    batchOffsets(t, batch, aStrides, bStrides, aOff, bOff);
    for (int64_t col = 0; col < n; ++col) {
      int32_t bz = bzp ? static_cast<int32_t>(readInt(*bzp, bzp->numElements() == 1 ? 0 : col)) : 0;
      for (int64_t kk = 0; kk < k; ++kk)
        bColumn[kk] = static_cast<int32_t>(readInt(b, bOff * k * n + kk * n + col)) - bz;
      for (int64_t row = 0; row < m; ++row) {
        int32_t az = azp ? static_cast<int32_t>(readInt(*azp, azp->numElements() == 1 ? 0 : row)) : 0;
        int64_t base = aOff * m * k + row * k;
        int32_t acc = 0;
        for (int64_t kk = 0; kk < k; ++kk)
          acc += (static_cast<int32_t>(readInt(a, base + kk)) - az) * bColumn[kk];
        emit((t * m + row) * n + col, acc, row, col);
      }
    }
  }
  return *outShape;
}

void requireBytes(const Tensor &t, const char *what) {
  if (t.dtype != QOPT_UINT8 && t.dtype != QOPT_INT8)
    fail(std::string(what) + " must be int8 or uint8");
}

void matmulInteger(Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs) {
  Tensor &a = *ins[0], &b = *ins[1];
  requireBytes(a, "MatMulInteger's a");
  requireBytes(b, "MatMulInteger's b");
  Tensor *azp = numIns > 2 ? ins[2] : nullptr, *bzp = numIns > 3 ? ins[3] : nullptr;
  std::vector<int64_t> shape;
  std::vector<int32_t> acc;
  integerMatMul(a, b, azp, bzp, [&](int64_t idx, int32_t v, int64_t, int64_t) {
    if (static_cast<size_t>(idx) >= acc.size()) acc.resize(idx + 1);
    acc[idx] = v;
  }, &shape);
  Tensor *out = ctx.allocate(QOPT_INT32, shape);
  std::copy(acc.begin(), acc.begin() + out->numElements(), out->as<int32_t>());
  outs[0] = out;
}

void qlinearMatMul(Context &ctx, Tensor **ins, Tensor **outs) {
  Tensor &a = *ins[0], &as = *ins[1], &azp = *ins[2], &b = *ins[3], &bs = *ins[4], &bzp = *ins[5],
         &ys = *ins[6], &yzp = *ins[7];
  requireBytes(a, "QLinearMatMul's a");
  requireBytes(b, "QLinearMatMul's b");
  for (Tensor *s : {&as, &bs, &ys})
    requireScale(s);
  auto [lo, hi] = storageRange(yzp.dtype);
  float yScale = *ys.as<float>(), yZero = static_cast<float>(readInt(yzp, 0));
  std::vector<int64_t> shape;
  std::vector<std::pair<int64_t, float>> results;
  integerMatMul(a, b, &azp, &bzp, [&](int64_t idx, int32_t acc, int64_t row, int64_t col) {
    float sa = as.as<float>()[as.numElements() == 1 ? 0 : row];
    float sb = bs.as<float>()[bs.numElements() == 1 ? 0 : col];
    float q = std::nearbyint(static_cast<float>(acc) * (sa * sb / yScale)) + yZero;
    results.emplace_back(idx, std::clamp(q, lo, hi));
  }, &shape);
  Tensor *out = ctx.allocate(yzp.dtype, shape);
  for (auto [idx, v] : results)
    storeInt(*out, idx, static_cast<int64_t>(v));
  outs[0] = out;
}
} // namespace

void qopt::rt::runQDQOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                        const int64_t *i, int64_t ni) {
  switch (op) {
  case Opcode::Quantize: return quantize(ctx, ins, outs, i, ni);
  case Opcode::Dequantize: return dequantize(ctx, ins, outs, i, ni);
  case Opcode::DynamicQuantize: return dynamicQuantize(ctx, ins, outs);
  case Opcode::MatMulInteger: return matmulInteger(ctx, ins, numIns, outs);
  case Opcode::QLinearMatMul: return qlinearMatMul(ctx, ins, outs);
  case Opcode::QLinearAdd: case Opcode::QLinearMul: return qlinearBinary(op, ctx, ins, outs);
  case Opcode::QLinearSoftmax: return qlinearSoftmax(ctx, ins, outs, i[0], i[1] != 0);
  default: fail("not a quantization op");
  }
}
