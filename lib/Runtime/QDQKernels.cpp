//===- QDQKernels.cpp - ONNX's integer quantization ops -------------------===//
//
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger and QLinearMatMul with the
// arithmetic ONNX specifies: division by the scale, rounding half to even (nearbyint under the
// default rounding mode), saturation to the storage type, exact int32 accumulation.
//
#include "HorizontalReductions.h"
#include "Tensor.h"
#include "WorkerPool.h"
#include "qopt/Quant/Codebooks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <immintrin.h>

using namespace qopt::rt;
namespace quant = qopt::quant;

namespace {
/// The representable range of an integer storage dtype.
std::pair<float, float> storageRange(int32_t dtype) {
  switch (dtype) {
  case QOPT_UINT8: return {0.0f, 255.0f};
  case QOPT_INT8: return {-128.0f, 127.0f};
  case QOPT_UINT16: return {0.0f, 65535.0f};
  case QOPT_UINT4: return {0.0f, 15.0f};
  case QOPT_INT4: return {-8.0f, 7.0f};
  case QOPT_INT16: return {-32768.0f, 32767.0f};
  default: fail(std::string("quantization to ") + dtypeName(dtype) + " is not supported");
  }
}

void storeInt(Tensor &t, int64_t i, int64_t v) {
  switch (t.dtype) {
  case QOPT_UINT8: t.as<uint8_t>()[i] = static_cast<uint8_t>(v); break;
  case QOPT_INT8: case QOPT_INT4: t.as<int8_t>()[i] = static_cast<int8_t>(v); break;
  case QOPT_UINT4: t.as<uint8_t>()[i] = static_cast<uint8_t>(v); break;
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
  ParamIndex index(x, *scale, i[0], i[1]);
  const float *px = x.as<float>(), *ps = scale->as<float>();
  if (storage == QOPT_FLOAT8E4M3FN) {
    // x / scale + zero point rounded to the nearest E4M3 value; beyond the range, ±448 when
    // saturating, NaN otherwise (E4M3FN has no infinities).
    bool saturate = i[2] != 0;
    Tensor *out = ctx.allocate(storage, x.shape());
    outs[0] = out;
    for (int64_t e = 0, n = x.numElements(); e < n; ++e) {
      int64_t p = index(e);
      float z = zp ? quant::decodeFP8E4M3(zp->as<uint8_t>()[p]) : 0.0f;
      float v = px[e] / ps[p] + z;
      uint8_t code = quant::encodeFP8E4M3(v);
      if (!saturate && !(std::fabs(v) < 464.0f))
        code = std::signbit(v) ? 0xFF : 0x7F;
      out->as<uint8_t>()[e] = code;
    }
    return;
  }
  auto [lo, hi] = storageRange(storage);
  Tensor *out = ctx.allocate(storage, x.shape());
  outs[0] = out;
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
  if (x.dtype == QOPT_FLOAT8E4M3FN) {
    for (int64_t e = 0, n = x.numElements(); e < n; ++e) {
      int64_t p = index(e);
      float z = zp ? quant::decodeFP8E4M3(zp->as<uint8_t>()[p]) : 0.0f;
      py[e] = (quant::decodeFP8E4M3(x.as<uint8_t>()[e]) - z) * ps[p];
    }
    return;
  }
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

/// Zero-point-shifted 8-bit values widened to int16, `rows` rows of `k` padded with zeros to `kPad`.
/// `at(r, i)` reads element i of row r of the source; `zero(r)` is row r's zero point.
template <typename At, typename Zero>
void packRows(int16_t *dst, int64_t rows, int64_t k, int64_t kPad, At at, Zero zero) {
  for (int64_t r = 0; r < rows; ++r) {
    int32_t z = zero(r);
    int16_t *row = dst + r * kPad;
    for (int64_t i = 0; i < k; ++i)
      row[i] = static_cast<int16_t>(at(r, i) - z);
    std::fill(row + k, row + kPad, int16_t(0));
  }
}

/// The exact int32 dot product of two packed rows (kPad a multiple of 16). Products of shifted
/// 8-bit values are at most 255 * 255, so madd's pairwise sums and the accumulation stay exact
/// for any row shorter than 33,000.
int32_t dotInt16(const int16_t *x, const int16_t *y, int64_t kPad) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 32 <= kPad; i += 32) {
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x + i)),
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + i))));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x + i + 16)),
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + i + 16))));
  }
  for (; i < kPad; i += 16)
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x + i)),
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(y + i))));
  return hsumInt(_mm256_add_epi32(acc0, acc1));
}

/// Reads element i of an 8-bit tensor as int32.
int32_t byteAt(const Tensor &t, int64_t i) {
  return t.dtype == QOPT_UINT8 ? t.as<uint8_t>()[i] : t.as<int8_t>()[i];
}

/// Exact int32 (a - a_zero_point) x (b - b_zero_point) with NumPy matmul broadcasting, for 8-bit
/// a and b. Both operands are widened to zero-point-shifted int16 rows (b transposed), and the
/// output columns are split across the worker threads. Returns the accumulators, row-major.
std::vector<int32_t> integerMatMul(Context &ctx, Tensor &a, Tensor &b, Tensor *azp, Tensor *bzp,
                                   std::vector<int64_t> *outShape, int64_t *rowsOut,
                                   int64_t *colsOut) {
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
  *rowsOut = m;
  *colsOut = n;
  if (azp && azp->numElements() != 1 && azp->numElements() != m)
    fail("a_zero_point must be a scalar or one per row");
  if (bzp && bzp->numElements() != 1 && bzp->numElements() != n)
    fail("b_zero_point must be a scalar or one per column");
  if (k >= 33000)
    fail("integer matmul rows longer than 33,000 could overflow int32");
  int64_t batches = 1;
  for (int64_t d : batch) batches *= d;
  std::vector<int64_t> aStrides = broadcastStrides(aBatch, batch.size(), batch);
  std::vector<int64_t> bStrides = broadcastStrides(bBatch, batch.size(), batch);
  int64_t kPad = (k + 15) / 16 * 16;
  std::vector<int16_t> aRows(m * kPad), bCols(n * kPad);
  std::vector<int32_t> acc(batches * m * n);
  auto azAt = [&](int64_t r) { return azp ? byteAt(*azp, azp->numElements() == 1 ? 0 : r) : 0; };
  auto bzAt = [&](int64_t c) { return bzp ? byteAt(*bzp, bzp->numElements() == 1 ? 0 : c) : 0; };
  int64_t lastBOff = -1;
  for (int64_t t = 0; t < batches; ++t) {
    int64_t aOff, bOff;
    batchOffsets(t, batch, aStrides, bStrides, aOff, bOff);
    packRows(aRows.data(), m, k, kPad,
             [&](int64_t r, int64_t i) { return byteAt(a, aOff * m * k + r * k + i); }, azAt);
    if (bOff != lastBOff)
      packRows(bCols.data(), n, k, kPad,
               [&](int64_t c, int64_t i) { return byteAt(b, bOff * k * n + i * n + c); }, bzAt);
    lastBOff = bOff;
    int32_t *out = acc.data() + t * m * n;
    ctx.workers->parallelFor(n, std::max<int64_t>(1, 4096 / std::max<int64_t>(kPad, 1)),
                             [&](int64_t begin, int64_t end) {
      for (int64_t row = 0; row < m; ++row)
        for (int64_t col = begin; col < end; ++col)
          out[row * n + col] = dotInt16(aRows.data() + row * kPad, bCols.data() + col * kPad, kPad);
    });
  }
  return acc;
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
  int64_t rows, cols;
  std::vector<int32_t> acc = integerMatMul(ctx, a, b, azp, bzp, &shape, &rows, &cols);
  Tensor *out = ctx.allocate(QOPT_INT32, shape);
  std::copy(acc.begin(), acc.end(), out->as<int32_t>());
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
  int64_t rows, cols;
  std::vector<int32_t> acc = integerMatMul(ctx, a, b, &azp, &bzp, &shape, &rows, &cols);
  Tensor *out = ctx.allocate(yzp.dtype, shape);
  for (int64_t idx = 0; idx < static_cast<int64_t>(acc.size()); ++idx) {
    int64_t row = (idx / cols) % rows, col = idx % cols;
    float sa = as.as<float>()[as.numElements() == 1 ? 0 : row];
    float sb = bs.as<float>()[bs.numElements() == 1 ? 0 : col];
    float q = std::nearbyint(static_cast<float>(acc[idx]) * (sa * sb / yScale)) + yZero;
    storeInt(*out, idx, static_cast<int64_t>(std::clamp(q, lo, hi)));
  }
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
  case Opcode::QLinearAdd: case Opcode::QLinearMul:
    return qlinearBinary(op, ctx, ins, outs, ni > 0 && i[0] != 0);
  case Opcode::QLinearSoftmax: return qlinearSoftmax(ctx, ins, outs, i[0], i[1] != 0);
  default: fail("not a quantization op");
  }
}
