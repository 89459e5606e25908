//===- QLinearKernels.cpp - ONNX Runtime's quantized add and multiply -----===//
//
// com.microsoft QLinearAdd and QLinearMul are defined by ONNX Runtime's CPU kernels rather than by a
// formula that fixes the rounding, and those kernels do not compute "dequantize, add, quantize":
//   add: c = fma(a, sa/sc, fma(b, sb/sc, zc - fma(sa/sc, za, sb/sc * zb))), one input's term folded
//        into the constant (plain multiply and add) when that input is a single value along the
//        innermost span; raw codes, not zero-point-shifted ones, are scaled;
//   mul: c = float((a - za) * (b - zb)) * (sa * sb / sc) + zc.
// Both round half to even and saturate. The formulas differ from the exact one by one step when a
// value lands within float rounding of a half, which over a transformer's dozens of requantizations
// grows to about 1e-2 of the output; computing them the same way keeps qopt's results identical.
// This file is built without floating-point contraction so that every fma here is explicit.
//
#include "Tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace qopt::rt;

namespace {
/// cvtps2dq: round half to even, out-of-range values become INT32_MIN.
int32_t convertHalfEven(float v) {
  if (!(v > -2147483648.0f && v < 2147483648.0f))
    return INT32_MIN;
  return static_cast<int32_t>(std::nearbyint(v));
}

template <typename T> T saturate(int32_t v) {
  constexpr int32_t lo = std::is_signed_v<T> ? -128 : 0, hi = std::is_signed_v<T> ? 127 : 255;
  return static_cast<T>(v < lo ? lo : v > hi ? hi : v);
}

float single(const Tensor &t, const char *what) {
  if (t.dtype != QOPT_FLOAT32 || t.numElements() != 1)
    fail(std::string(what) + " must be a single float32 value");
  return t.as<float>()[0];
}

/// T is the stored type; U the type the arithmetic runs in (uint8 for int8 in the unsigned domain,
/// where every value and zero point is read shifted by 128 and the result shifted back).
template <typename T, typename U = T>
void run(Opcode op, Tensor &a, float sa, int32_t za, Tensor &b, float sb, int32_t zb, float sc,
         int32_t zc, Tensor &out) {
  constexpr int32_t shift = std::is_same_v<T, U> ? 0 : 128;
  za += shift;
  zb += shift;
  zc += shift;
  const T *pa = a.as<T>(), *pb = b.as<T>();
  T *pc = out.as<T>();
  std::vector<int64_t> shape = out.shape();
  size_t rank = shape.size();
  std::vector<int64_t> aStrides = broadcastStrides(a.shape(), rank, shape),
                       bStrides = broadcastStrides(b.shape(), rank, shape);
  int64_t inner = rank ? shape[rank - 1] : 1, total = out.numElements();
  if (total == 0)
    return;
  int64_t aInner = rank ? aStrides[rank - 1] : 0, bInner = rank ? bStrides[rank - 1] : 0;
  // ONNX Runtime hands its kernels spans of the innermost dim; an operand constant along the span
  // (one element in all, or broadcast along that dim) takes the "scalar" variant.
  bool aScalar = a.numElements() == 1 || (inner > 1 && aInner == 0);
  bool bScalar = !aScalar && (b.numElements() == 1 || (inner > 1 && bInner == 0));

  float rAC = sa / sc, rBC = sb / sc;
  // ONNX Runtime's compiler contracts this expression into one fused multiply-add.
  float fixed = static_cast<float>(zc) -
                std::fma(rAC, static_cast<float>(za), rBC * static_cast<float>(zb));
  float mulRatio = sa * sb / sc;
  std::vector<int64_t> index(rank, 0);
  int64_t aOff = 0, bOff = 0;
  for (int64_t base = 0; base < total; base += inner) {
    if (op == Opcode::QLinearAdd) {
      float rowFixed = fixed;
      if (aScalar) rowFixed = fixed + static_cast<float>(pa[aOff] + shift) * rAC;
      if (bScalar) rowFixed = fixed + static_cast<float>(pb[bOff] + shift) * rBC;
      for (int64_t j = 0; j < inner; ++j) {
        float va = static_cast<float>(pa[aOff + j * aInner] + shift);
        float vb = static_cast<float>(pb[bOff + j * bInner] + shift);
        float v = aScalar   ? std::fma(vb, rBC, rowFixed)
                  : bScalar ? std::fma(va, rAC, rowFixed)
                            : std::fma(va, rAC, std::fma(vb, rBC, fixed));
        pc[base + j] = static_cast<T>(saturate<U>(convertHalfEven(v)) - shift);
      }
    } else {
      for (int64_t j = 0; j < inner; ++j) {
        int32_t prod = (static_cast<int32_t>(pa[aOff + j * aInner]) + shift - za) *
                       (static_cast<int32_t>(pb[bOff + j * bInner]) + shift - zb);
        float v = static_cast<float>(prod) * mulRatio + static_cast<float>(zc);
        pc[base + j] = static_cast<T>(saturate<U>(convertHalfEven(v)) - shift);
      }
    }
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      ++index[d];
      aOff += aStrides[d];
      bOff += bStrides[d];
      if (index[d] < shape[d])
        break;
      aOff -= aStrides[d] * shape[d];
      bOff -= bStrides[d] * shape[d];
      index[d] = 0;
    }
  }
}
} // namespace

void qopt::rt::qlinearBinary(Opcode op, Context &ctx, Tensor **ins, Tensor **outs,
                             bool unsignedDomain) {
  Tensor &a = *ins[0], &b = *ins[3];
  if (a.dtype != b.dtype || (a.dtype != QOPT_UINT8 && a.dtype != QOPT_INT8))
    fail("QLinearAdd/QLinearMul take two int8 or two uint8 tensors");
  float sa = single(*ins[1], "a_scale"), sb = single(*ins[4], "b_scale"),
        sc = single(*ins[6], "c_scale");
  for (int z : {2, 5, 7})
    if (ins[z]->numElements() != 1)
      fail("QLinearAdd/QLinearMul zero points must be single values");
  auto za = static_cast<int32_t>(readInt(*ins[2], 0)), zb = static_cast<int32_t>(readInt(*ins[5], 0)),
       zc = static_cast<int32_t>(readInt(*ins[7], 0));
  Tensor *out = ctx.allocate(a.dtype, broadcastShapes(a.shape(), b.shape()));
  outs[0] = out;
  if (a.dtype == QOPT_UINT8)
    run<uint8_t>(op, a, sa, za, b, sb, zb, sc, zc, *out);
  else if (unsignedDomain)
    run<int8_t, uint8_t>(op, a, sa, za, b, sb, zb, sc, zc, *out);
  else
    run<int8_t>(op, a, sa, za, b, sb, zb, sc, zc, *out);
}

/// QLinearSoftmax as ONNX Runtime computes it. The row maximum maps to the last entry of a table of
/// exp((i - 255 + shift) * x_scale), where the shift keeps a row's sum of up to D entries below the
/// f32 range; the entries are summed in order in f32 and each output is
/// round_half_even((entry / sum) * floor(1 / y_scale)) + y_zero_point, saturated. (The grouping of
/// that expression decides ties, e.g. a row of four equal entries landing on 63.5.)
void qopt::rt::qlinearSoftmax(Context &ctx, Tensor **ins, Tensor **outs, int64_t axis,
                              bool flattenTail) {
  Tensor &x = *ins[0];
  if (x.dtype != QOPT_UINT8 && x.dtype != QOPT_INT8)
    fail("QLinearSoftmax takes an int8 or uint8 tensor");
  float xScale = single(*ins[1], "x_scale"), yScale = single(*ins[2], "y_scale");
  auto yZero = static_cast<int32_t>(readInt(*ins[3], 0));
  int64_t outer = 1, d = 1, inner = 1;
  for (int k = 0; k < x.rank; ++k)
    (k < axis ? outer : k == axis || flattenTail ? d : inner) *= x.dims[k];
  Tensor *out = ctx.allocate(x.dtype, x.shape());
  outs[0] = out;
  if (x.numElements() == 0)
    return;

  double shift = std::log(static_cast<double>(std::numeric_limits<float>::max() /
                                              static_cast<float>(d)));
  shift = std::max(0.0, shift - 5.0) / static_cast<double>(xScale);
  float table[256];
  for (int i = 0; i < 256; ++i)
    table[i] = static_cast<float>(std::exp((static_cast<double>(i) - 255.0 + shift) *
                                           static_cast<double>(xScale)));
  float multiplier = std::floor(1.0f / yScale);
  bool isSigned = x.dtype == QOPT_INT8;
  auto code = [&](int64_t e) -> int32_t {
    return isSigned ? x.as<int8_t>()[e] : x.as<uint8_t>()[e];
  };
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      int64_t base = o * d * inner + in;
      int32_t xmax = INT32_MIN;
      for (int64_t j = 0; j < d; ++j)
        xmax = std::max(xmax, code(base + j * inner));
      float sum = 0.0f;
      for (int64_t j = 0; j < d; ++j)
        sum += table[255 - xmax + code(base + j * inner)];
      for (int64_t j = 0; j < d; ++j) {
        int64_t e = base + j * inner;
        float entry = table[255 - xmax + code(e)];
        int32_t q = sum == 0.0f ? yZero
                                : static_cast<int32_t>(std::nearbyint(entry / sum * multiplier)) + yZero;
        if (isSigned)
          out->as<int8_t>()[e] = saturate<int8_t>(q);
        else
          out->as<uint8_t>()[e] = saturate<uint8_t>(q);
      }
    }
}
