//===- ElementwiseKernels.cpp - unary, binary, compare, select, cast ------===//
#include "FastMath.h"
#include "Tensor.h"

#include <cmath>
#include <immintrin.h>
#include <cstring>

using namespace qopt::rt;

namespace {
/// Calls fn with a typed null pointer for the element type `dtype` (numbers and bool).
template <typename Fn> void visitType(int32_t dtype, Fn &&fn) {
  switch (dtype) {
  case QOPT_FLOAT32: return fn(static_cast<float *>(nullptr));
  case QOPT_FLOAT64: return fn(static_cast<double *>(nullptr));
  case QOPT_INT64: return fn(static_cast<int64_t *>(nullptr));
  case QOPT_INT32: return fn(static_cast<int32_t *>(nullptr));
  case QOPT_INT8: return fn(static_cast<int8_t *>(nullptr));
  case QOPT_UINT8: case QOPT_BOOL: return fn(static_cast<uint8_t *>(nullptr));
  case QOPT_INT16: return fn(static_cast<int16_t *>(nullptr));
  case QOPT_UINT16: return fn(static_cast<uint16_t *>(nullptr));
  case QOPT_UINT32: return fn(static_cast<uint32_t *>(nullptr));
  case QOPT_UINT64: return fn(static_cast<uint64_t *>(nullptr));
  default: fail(std::string("unsupported element type ") + dtypeName(dtype));
  }
}

template <typename T> T applyUnary(Opcode op, T x) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
    case Opcode::Neg: return -x;
    case Opcode::Abs: return std::fabs(x);
    case Opcode::Sqrt: return std::sqrt(x);
    case Opcode::Reciprocal: return T(1) / x;
    case Opcode::Exp: return std::exp(x);
    case Opcode::Log: return std::log(x);
    case Opcode::Tanh: return std::tanh(x);
    case Opcode::Erf: return std::erf(x);
    case Opcode::Sigmoid: return T(1) / (T(1) + std::exp(-x));
    case Opcode::Sin: return std::sin(x);
    case Opcode::Cos: return std::cos(x);
    case Opcode::Relu: return x > T(0) ? x : T(0);
    case Opcode::Floor: return std::floor(x);
    case Opcode::Ceil: return std::ceil(x);
    case Opcode::Round: return std::nearbyint(x);
    case Opcode::Sign: return x > T(0) ? T(1) : x < T(0) ? T(-1) : T(0);
    case Opcode::Silu: return x / (T(1) + std::exp(-x));
    default: break;
    }
  } else {
    switch (op) {
    case Opcode::Neg: return static_cast<T>(-x);
    case Opcode::Abs: return x < 0 ? static_cast<T>(-x) : x;
    case Opcode::Relu: return x > 0 ? x : T(0);
    case Opcode::Floor: case Opcode::Ceil: case Opcode::Round: return x;
    case Opcode::Sign:
      if constexpr (std::is_signed_v<T>) return static_cast<T>(x > 0 ? 1 : x < 0 ? -1 : 0);
      else return x > 0 ? T(1) : T(0);
    case Opcode::Not: return x ? 0 : 1;
    default: break;
    }
  }
  fail("unary op not defined for this element type");
}

template <typename T> T applyBinary(Opcode op, T a, T b) {
  switch (op) {
  case Opcode::Add: return a + b;
  case Opcode::Sub: return a - b;
  case Opcode::Mul: return a * b;
  case Opcode::Div:
    if constexpr (std::is_integral_v<T>) {
      if (b == 0)
        fail("integer division by zero");
    }
    return a / b;
  case Opcode::Max: return a > b ? a : b;
  case Opcode::Min: return a < b ? a : b;
  case Opcode::Mod:
    if constexpr (std::is_integral_v<T>) {
      if (b == 0)
        fail("integer modulo by zero");
      T r = static_cast<T>(a % b);
      return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
    } else {
      return std::fmod(a, b);
    }
  case Opcode::And: return (a && b) ? 1 : 0;
  case Opcode::Or: return (a || b) ? 1 : 0;
  case Opcode::Xor: return ((a != 0) != (b != 0)) ? 1 : 0;
  default: fail("binary op not defined for this element type");
  }
}

bool applyCompare(Opcode op, double a, double b) {
  switch (op) {
  case Opcode::Equal: return a == b;
  case Opcode::Less: return a < b;
  case Opcode::LessEqual: return a <= b;
  case Opcode::Greater: return a > b;
  case Opcode::GreaterEqual: return a >= b;
  default: fail("not a comparison");
  }
}

/// Visits every output element of a broadcast as (linear output index, offset in each input).
template <size_t N, typename Fn>
void forEachBroadcast(const std::vector<int64_t> &out, const std::vector<int64_t> (&strides)[N],
                      Fn &&fn) {
  size_t rank = out.size();
  int64_t total = 1;
  for (int64_t d : out)
    total *= d;
  if (total == 0)
    return;
  std::vector<int64_t> index(rank, 0);
  int64_t offsets[N] = {};
  int64_t inner = rank ? out[rank - 1] : 1;
  int64_t innerStride[N];
  for (size_t k = 0; k < N; ++k)
    innerStride[k] = rank ? strides[k][rank - 1] : 0;
  for (int64_t base = 0; base < total; base += inner) {
    for (int64_t j = 0; j < inner; ++j) {
      int64_t off[N];
      for (size_t k = 0; k < N; ++k)
        off[k] = offsets[k] + j * innerStride[k];
      fn(base + j, off);
    }
    // Advance the outer index (all dims but the last).
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      ++index[d];
      for (size_t k = 0; k < N; ++k)
        offsets[k] += strides[k][d];
      if (index[d] < out[d])
        break;
      for (size_t k = 0; k < N; ++k)
        offsets[k] -= strides[k][d] * out[d];
      index[d] = 0;
    }
  }
}

template <typename T> double asDouble(const void *p, int64_t i) {
  return static_cast<double>(static_cast<const T *>(p)[i]);
}

/// One row of a float op whose operands step by 1 or 0 (broadcast) along the last dim.
template <typename Fn>
void floatRow(const float *a, int64_t sa, const float *b, int64_t sb, float *o, int64_t n, Fn fn) {
  if (sa && sb)
    for (int64_t j = 0; j < n; ++j) o[j] = fn(a[j], b[j]);
  else if (sa)
    for (int64_t j = 0; j < n; ++j) o[j] = fn(a[j], b[0]);
  else if (sb)
    for (int64_t j = 0; j < n; ++j) o[j] = fn(a[0], b[j]);
  else
    for (int64_t j = 0; j < n; ++j) o[j] = fn(a[0], b[0]);
}

/// Broadcast float add/sub/mul/div row by row with vectorized rows (bias adds, norm scales).
bool floatRows(Opcode op, const float *pa, const float *pb, float *po,
               const std::vector<int64_t> &shape, const std::vector<int64_t> (&strides)[2]) {
  if (op != Opcode::Add && op != Opcode::Sub && op != Opcode::Mul && op != Opcode::Div)
    return false;
  size_t rank = shape.size();
  if (rank == 0)
    return false;
  int64_t sa = strides[0][rank - 1], sb = strides[1][rank - 1], inner = shape[rank - 1];
  if (sa > 1 || sb > 1)
    return false;
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d)
    rows *= shape[d];
  std::vector<int64_t> index(rank, 0);
  int64_t offA = 0, offB = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *a = pa + offA, *b = pb + offB;
    float *o = po + r * inner;
    switch (op) {
    case Opcode::Add: floatRow(a, sa, b, sb, o, inner, [](float x, float y) { return x + y; }); break;
    case Opcode::Sub: floatRow(a, sa, b, sb, o, inner, [](float x, float y) { return x - y; }); break;
    case Opcode::Mul: floatRow(a, sa, b, sb, o, inner, [](float x, float y) { return x * y; }); break;
    default: floatRow(a, sa, b, sb, o, inner, [](float x, float y) { return x / y; }); break;
    }
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      ++index[d];
      offA += strides[0][d];
      offB += strides[1][d];
      if (index[d] < shape[d])
        break;
      offA -= strides[0][d] * shape[d];
      offB -= strides[1][d] * shape[d];
      index[d] = 0;
    }
  }
  return true;
}

void binary(Opcode op, Context &ctx, Tensor &a, Tensor &b, Tensor **outs) {
  bool compare = op >= Opcode::Equal && op <= Opcode::GreaterEqual;
  if (a.dtype != b.dtype && op != Opcode::Pow)
    fail("operand element types differ");
  std::vector<int64_t> shape = broadcastShapes(a.shape(), b.shape());
  Tensor *out = ctx.allocate(compare ? QOPT_BOOL : a.dtype, shape);
  outs[0] = out;
  std::vector<int64_t> strides[2] = {broadcastStrides(a.shape(), shape.size(), shape),
                                     broadcastStrides(b.shape(), shape.size(), shape)};
  if (op == Opcode::Pow) {
    // Integer bases are raised in double precision and converted back, as ONNX Runtime does.
    visitType(b.dtype, [&](auto *be) {
      using E = std::remove_pointer_t<decltype(be)>;
      visitType(a.dtype, [&](auto *ae) {
        using T = std::remove_pointer_t<decltype(ae)>;
        const T *pa = a.as<T>();
        const E *pb = b.as<E>();
        T *po = out->as<T>();
        forEachBroadcast(shape, strides, [&](int64_t i, const int64_t *off) {
          double e = static_cast<double>(pb[off[1]]);
          po[i] = e == 2.0 ? static_cast<T>(pa[off[0]] * pa[off[0]])
                           : static_cast<T>(std::pow(static_cast<double>(pa[off[0]]), e));
        });
      });
    });
    return;
  }
  visitType(a.dtype, [&](auto *tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T *pa = a.as<T>(), *pb = b.as<T>();
    if (compare) {
      uint8_t *po = out->as<uint8_t>();
      forEachBroadcast(shape, strides, [&](int64_t i, const int64_t *off) {
        po[i] = applyCompare(op, static_cast<double>(pa[off[0]]), static_cast<double>(pb[off[1]]));
      });
      return;
    }
    T *po = out->as<T>();
    if (a.shape() == b.shape()) { // the common same-shape case as a flat loop
      int64_t n = out->numElements();
      if constexpr (std::is_same_v<T, float>) {
        if (op == Opcode::Add) { for (int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i]; return; }
        if (op == Opcode::Mul) { for (int64_t i = 0; i < n; ++i) po[i] = pa[i] * pb[i]; return; }
      }
      for (int64_t i = 0; i < n; ++i)
        po[i] = applyBinary<T>(op, pa[i], pb[i]);
      return;
    }
    if constexpr (std::is_same_v<T, float>) {
      if (floatRows(op, pa, pb, po, shape, strides))
        return;
    }
    forEachBroadcast(shape, strides, [&](int64_t i, const int64_t *off) {
      po[i] = applyBinary<T>(op, pa[off[0]], pb[off[1]]);
    });
  });
}

void where(Context &ctx, Tensor &c, Tensor &x, Tensor &y, Tensor **outs) {
  std::vector<int64_t> shape = broadcastShapes(c.shape(), broadcastShapes(x.shape(), y.shape()));
  Tensor *out = ctx.allocate(x.dtype, shape);
  outs[0] = out;
  std::vector<int64_t> strides[3] = {broadcastStrides(c.shape(), shape.size(), shape),
                                     broadcastStrides(x.shape(), shape.size(), shape),
                                     broadcastStrides(y.shape(), shape.size(), shape)};
  const uint8_t *pc = c.as<uint8_t>();
  // Elements are moved as unsigned integers of their width, so the selection inlines.
  auto select = [&](auto tag) {
    using T = decltype(tag);
    const T *px = x.as<T>(), *py = y.as<T>();
    T *po = out->as<T>();
    forEachBroadcast(shape, strides, [&](int64_t i, const int64_t *off) {
      po[i] = pc[off[0]] ? px[off[1]] : py[off[2]];
    });
  };
  switch (dtypeSize(x.dtype)) {
  case 1: return select(uint8_t{});
  case 2: return select(uint16_t{});
  case 4: return select(uint32_t{});
  case 8: return select(uint64_t{});
  default: fail("where: unsupported element type");
  }
}

/// The float32 unary ops that have a vectorized loop; false for the others.
bool mapFastFloat(Opcode op, const float *x, float *y, int64_t n) {
  switch (op) {
  case Opcode::Exp: for (int64_t i = 0; i < n; ++i) y[i] = fastExp(x[i]); return true;
  case Opcode::Tanh: for (int64_t i = 0; i < n; ++i) y[i] = fastTanh(x[i]); return true;
  case Opcode::Sigmoid: for (int64_t i = 0; i < n; ++i) y[i] = fastSigmoid(x[i]); return true;
  case Opcode::Silu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * fastSigmoid(x[i]); return true;
  case Opcode::Neg: for (int64_t i = 0; i < n; ++i) y[i] = -x[i]; return true;
  case Opcode::Relu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f; return true;
  case Opcode::Sqrt: for (int64_t i = 0; i < n; ++i) y[i] = __builtin_sqrtf(x[i]); return true;
  case Opcode::Reciprocal: for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / x[i]; return true;
  default: return false;
  }
}

void cast(Context &ctx, Tensor &in, int32_t to, Tensor **outs) {
  Tensor *out = ctx.allocate(to, in.shape());
  outs[0] = out;
  int64_t n = in.numElements();
  // float16 only to and from float32 (the edges of a half-precision graph computed in f32), with
  // the F16C conversions, rounding to nearest even.
  if (in.dtype == QOPT_FLOAT16 && to == QOPT_FLOAT32) {
    for (int64_t i = 0; i < n; ++i)
      out->as<float>()[i] = _cvtsh_ss(in.as<uint16_t>()[i]);
    return;
  }
  if (in.dtype == QOPT_FLOAT32 && to == QOPT_FLOAT16) {
    for (int64_t i = 0; i < n; ++i)
      out->as<uint16_t>()[i] = _cvtss_sh(in.as<float>()[i], _MM_FROUND_TO_NEAREST_INT);
    return;
  }
  if (in.dtype == QOPT_FLOAT16 || to == QOPT_FLOAT16)
    fail("float16 is cast only to and from float32");
  visitType(in.dtype, [&](auto *st) {
    using S = std::remove_pointer_t<decltype(st)>;
    visitType(to, [&](auto *dt) {
      using D = std::remove_pointer_t<decltype(dt)>;
      const S *ps = in.as<S>();
      D *pd = out->as<D>();
      for (int64_t i = 0; i < n; ++i) {
        if (to == QOPT_BOOL)
          pd[i] = ps[i] != S(0);
        else if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>)
          pd[i] = std::isfinite(ps[i]) ? static_cast<D>(std::trunc(ps[i])) : D(0);
        else
          pd[i] = static_cast<D>(ps[i]);
      }
    });
  });
}
} // namespace

void qopt::rt::runElementwise(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                              const int64_t *attrs, int64_t numAttrs) {
  Tensor &a = *ins[0];
  if (op == Opcode::Cast)
    return cast(ctx, a, static_cast<int32_t>(attrs[0]), outs);
  if (op == Opcode::Where)
    return where(ctx, a, *ins[1], *ins[2], outs);
  if ((op >= Opcode::Add && op <= Opcode::GreaterEqual) || op == Opcode::Xor)
    return binary(op, ctx, a, *ins[1], outs);
  int64_t n = a.numElements();
  if (op == Opcode::IsNaN) {
    Tensor *out = ctx.allocate(QOPT_BOOL, a.shape());
    outs[0] = out;
    visitType(a.dtype, [&](auto *tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      for (int64_t i = 0; i < n; ++i)
        out->as<uint8_t>()[i] = std::isnan(static_cast<double>(a.as<T>()[i]));
    });
    return;
  }
  Tensor *out = ctx.allocate(a.dtype, a.shape());
  outs[0] = out;
  if (op == Opcode::Gelu) {
    if (a.dtype != QOPT_FLOAT32)
      fail("gelu needs float32");
    const float *x = a.as<float>();
    float *y = out->as<float>();
    bool tanhForm = numAttrs > 0 && attrs[0] != 0;
    for (int64_t i = 0; i < n; ++i) {
      float v = x[i];
      y[i] = tanhForm ? 0.5f * v * (1.0f + fastTanh(0.7978845608f * (v + 0.044715f * v * v * v)))
                      : 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
    }
    return;
  }
  if (a.dtype == QOPT_FLOAT32 && mapFastFloat(op, a.as<float>(), out->as<float>(), n))
    return;
  visitType(a.dtype, [&](auto *tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T *x = a.as<T>();
    T *y = out->as<T>();
    for (int64_t i = 0; i < n; ++i)
      y[i] = applyUnary<T>(op, x[i]);
  });
}
