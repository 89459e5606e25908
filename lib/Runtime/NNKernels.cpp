//===- NNKernels.cpp - matmul, gemm, softmax, norms and reductions --------===//
#include "FastMath.h"
#include "Tensor.h"
#include "WorkerPool.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <immintrin.h>
#include <limits>

using namespace qopt::rt;

extern "C" void openblas_set_num_threads(int);

namespace {
/// Multiply-adds below which one BLAS product is not worth splitting across threads.
constexpr int64_t kSmallProduct = int64_t(1) << 21;
/// Multiply-adds of a batch of products below which waking the pool costs more than it saves.
constexpr int64_t kSplitWork = int64_t(1) << 18;

void requireF32(const Tensor &t, const char *what) {
  if (t.dtype != QOPT_FLOAT32)
    fail(std::string(what) + " needs float32, got " + dtypeName(t.dtype));
}

/// Columns per part when a generated product is split by columns: a multiple of every panel width
/// the kernels use, so parts never share a panel.
constexpr int64_t kColumnGrain = 64;

/// Rows [rowBegin, rowEnd) and columns [colBegin, colEnd) (colBegin a multiple of kColumnGrain,
/// colEnd too or N) of one row-major product [M, K] x [K, N] by a generated kernel
/// (GenerateMatMulKernel.cpp's activation form).
void generatedProduct(FusedKernelFn kernel, const float *a, const float *b, float *c, int64_t m,
                      int64_t k, int64_t n, int64_t rowBegin, int64_t rowEnd, int64_t colBegin,
                      int64_t colEnd) {
  int64_t params[6] = {rowBegin, rowEnd, colBegin, colEnd, k, n};
  KernelOperands operands;
  operands.addBuffer(a, m * k);
  operands.addBuffer(b, k * n);
  operands.addBuffer(c, m * n);
  operands.addBuffer(params, 6);
  operands.call(kernel);
}

/// NumPy matmul on float32, with BLAS doing the products, or the generated `kernel` where there is
/// one.
/// `transB`: b holds the 2-D rhs transposed, [N, K] (the code generator folds a transpose into
/// the product instead of materializing it); BLAS computes those.
void matmul(Context &ctx, Tensor &a, Tensor &b, bool transB, Tensor **outs,
            FusedKernelFn kernel = nullptr) {
  if (transB)
    kernel = nullptr;
  requireF32(a, "matmul");
  requireF32(b, "matmul");
  std::vector<int64_t> as = a.shape(), bs = b.shape();
  if (transB) {
    if (bs.size() != 2)
      fail("a transposed matmul rhs must be 2-D");
    std::swap(bs[0], bs[1]);
  }
  bool aVec = as.size() == 1, bVec = bs.size() == 1;
  if (aVec) as.insert(as.begin(), 1);
  if (bVec) bs.push_back(1);
  int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k)
    fail("matmul contracts " + std::to_string(k) + " against " + std::to_string(bs[bs.size() - 2]));
  std::vector<int64_t> aBatch(as.begin(), as.end() - 2), bBatch(bs.begin(), bs.end() - 2);
  std::vector<int64_t> batch = broadcastShapes(aBatch, bBatch);
  std::vector<int64_t> shape = batch;
  if (!aVec) shape.push_back(m);
  if (!bVec) shape.push_back(n);
  Tensor *out = ctx.allocate(QOPT_FLOAT32, shape);
  outs[0] = out;
  const float *pa = a.as<float>(), *pb = b.as<float>();
  float *pc = out->as<float>();
  if (m == 0 || n == 0)
    return;
  if (k == 0) {
    std::fill_n(pc, out->numElements(), 0.0f);
    return;
  }
  int64_t batches = 1;
  for (int64_t d : batch)
    batches *= d;
  if (bBatch.empty() || batches == 1) {
    // The weight is shared: one GEMM over all rows of all batches of `a`.
    if (bBatch.empty() && aBatch.size() == batch.size()) {
      if (kernel) {
        int64_t rows = batches * m, parts = (n + kColumnGrain - 1) / kColumnGrain;
        auto part = [&](int64_t begin, int64_t end) {
          generatedProduct(kernel, pa, pb, pc, rows, k, n, 0, rows, begin * kColumnGrain,
                           std::min(n, end * kColumnGrain));
        };
        if (ctx.workers && ctx.threads > 1 && parts > 1 && rows * n * k >= kSplitWork)
          ctx.workers->parallelFor(parts, 1, part);
        else
          part(0, parts);
        return;
      }
      if (batches * m == 1) {
        // One row (token-by-token decoding): a GEMV streams the weight once, where SGEMM would
        // first copy it into its packed layout.
        cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, transB ? n : k,
                    transB ? k : n, 1.0f, pb, transB ? k : n, pa, 1, 0.0f, pc, 1);
        return;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, batches * m, n,
                  k, 1.0f, pa, k, pb, transB ? k : n, 0.0f, pc, n);
      return;
    }
  }
  std::vector<int64_t> aStrides = broadcastStrides(aBatch, batch.size(), batch);
  std::vector<int64_t> bStrides = broadcastStrides(bBatch, batch.size(), batch);
  auto products = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      int64_t aOff, bOff;
      batchOffsets(i, batch, aStrides, bStrides, aOff, bOff);
      if (kernel) {
        generatedProduct(kernel, pa + aOff * m * k, pb + bOff * k * n, pc + i * m * n, m, k, n, 0,
                         m, 0, n);
        continue;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, pa + aOff * m * k, k,
                  pb + bOff * k * n, n, 0.0f, pc + i * m * n, n);
    }
  };
  // Generated kernels run single-threaded, one product per part of the pool.
  if (kernel) {
    if (ctx.threads > 1 && ctx.workers && batches > 1 && batches * m * n * k >= kSplitWork)
      ctx.workers->parallelFor(batches, 1, products);
    else
      products(0, batches);
    return;
  }
  // Attention's per-head products are small: OpenBLAS splitting each across threads ran them at
  // half the single-thread rate (128x128x64 x 6 heads: 278 us on 2 threads, 134 us on 1). So
  // small products run one BLAS thread each, the heads split across the pool instead.
  if (ctx.threads > 1 && ctx.workers && m * n * k <= kSmallProduct &&
      batches * m * n * k >= kSplitWork)
    return runBlasPerPart(ctx, batches, products);
  products(0, batches);
}


void gemm(Context &ctx, Tensor **ins, int64_t numIns, const int64_t *i, const double *f,
          Tensor **outs) {
  Tensor &a = *ins[0], &b = *ins[1];
  requireF32(a, "gemm");
  requireF32(b, "gemm");
  bool ta = i[0], tb = i[1];
  int64_t m = ta ? a.dims[1] : a.dims[0], k = ta ? a.dims[0] : a.dims[1];
  int64_t n = tb ? b.dims[0] : b.dims[1];
  if ((tb ? b.dims[1] : b.dims[0]) != k)
    fail("gemm contracts mismatched dimensions");
  Tensor *out = ctx.allocate(QOPT_FLOAT32, {m, n});
  outs[0] = out;
  float *pc = out->as<float>();
  float beta = 0.0f;
  if (numIns > 2 && ins[2]) {
    Tensor &c = *ins[2];
    requireF32(c, "gemm");
    std::vector<int64_t> shape = {m, n};
    std::vector<int64_t> strides = broadcastStrides(c.shape(), 2, shape);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t col = 0; col < n; ++col)
        pc[r * n + col] = c.as<float>()[r * strides[0] + col * strides[1]];
    beta = static_cast<float>(f[1]);
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, static_cast<float>(f[0]), a.as<float>(), a.dims[1], b.as<float>(), b.dims[1],
              beta, pc, n);
}

/// Softmax of one contiguous row.
void softmaxRow(const float *x, float *y, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float lanes[8];
  _mm256_storeu_ps(lanes, vmax);
  float mx = *std::max_element(lanes, lanes + 8);
  for (; i < n; ++i)
    mx = std::max(mx, x[i]);
  for (int64_t j = 0; j < n; ++j)
    y[j] = fastExp(x[j] - mx);
  __m256 vsum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8)
    vsum = _mm256_add_ps(vsum, _mm256_loadu_ps(y + i));
  _mm256_storeu_ps(lanes, vsum);
  float sum = 0.0f;
  for (float l : lanes)
    sum += l;
  for (; i < n; ++i)
    sum += y[i];
  float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j)
    y[j] *= inv;
}

void softmax(Context &ctx, Tensor &in, int64_t axis, Tensor **outs) {
  requireF32(in, "softmax");
  Tensor *out = ctx.allocate(QOPT_FLOAT32, in.shape());
  outs[0] = out;
  int64_t outer = 1, inner = 1, dim = in.dims[axis];
  for (int64_t d = 0; d < axis; ++d) outer *= in.dims[d];
  for (int64_t d = axis + 1; d < in.rank; ++d) inner *= in.dims[d];
  const float *x = in.as<float>();
  float *y = out->as<float>();
  if (inner == 1) {
    // Rows along the last axis (attention scores): split across threads, and keep every loop free
    // of a loop-carried float reduction so that it vectorizes.
    ctx.workers->parallelFor(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1)),
                             [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o)
        softmaxRow(x + o * dim, y + o * dim, dim);
    });
    return;
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      const float *row = x + o * dim * inner + j;
      float *dst = y + o * dim * inner + j;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t s = 0; s < dim; ++s) mx = std::max(mx, row[s * inner]);
      float sum = 0.0f;
      for (int64_t s = 0; s < dim; ++s) {
        float e = fastExp(row[s * inner] - mx);
        dst[s * inner] = e;
        sum += e;
      }
      float inv = 1.0f / sum;
      for (int64_t s = 0; s < dim; ++s) dst[s * inner] *= inv;
    }
}

/// LayerNorm over dims [axis, rank) and RMSNorm over the last dim share their row loop.
void normalize(Context &ctx, Tensor **ins, int64_t numIns, int64_t axis, double eps, bool center,
               Tensor **outs) {
  Tensor &in = *ins[0], &scale = *ins[1];
  Tensor *bias = numIns > 2 ? ins[2] : nullptr;
  requireF32(in, "norm");
  Tensor *out = ctx.allocate(QOPT_FLOAT32, in.shape());
  outs[0] = out;
  int64_t rows = 1, width = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= in.dims[d];
  for (int64_t d = axis; d < in.rank; ++d) width *= in.dims[d];
  if (scale.numElements() != width || (bias && bias->numElements() != width))
    fail("norm scale or bias does not match the normalized dims");
  const float *g = scale.as<float>(), *b = bias ? bias->as<float>() : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = in.as<float>() + r * width;
    float *y = out->as<float>() + r * width;
    double mean = 0.0;
    if (center) {
      for (int64_t c = 0; c < width; ++c) mean += x[c];
      mean /= width;
    }
    double var = 0.0;
    for (int64_t c = 0; c < width; ++c) {
      double d = x[c] - mean;
      var += d * d;
    }
    float inv = static_cast<float>(1.0 / std::sqrt(var / width + eps));
    float m = static_cast<float>(mean);
    for (int64_t c = 0; c < width; ++c)
      y[c] = (x[c] - m) * inv * g[c] + (b ? b[c] : 0.0f);
  }
}

void reduce(Opcode op, Context &ctx, Tensor &in, const int64_t *i, int64_t ni, Tensor **outs) {
  bool reduced[QOPT_MAX_RANK];
  std::vector<int64_t> shape = reductionShape(in, i, ni, reduced), kept;
  for (int d = 0; d < in.rank; ++d)
    if (!reduced[d]) kept.push_back(in.dims[d]);
  if (in.dtype != QOPT_FLOAT32 && in.dtype != QOPT_INT64)
    fail("reduction of an unsupported element type");
  int64_t outCount = 1;
  for (int64_t d : kept) outCount *= d;
  double init = op == Opcode::ReduceMax ? -std::numeric_limits<double>::infinity()
                : op == Opcode::ReduceMin ? std::numeric_limits<double>::infinity()
                : op == Opcode::ReduceProd ? 1.0 : 0.0;
  std::vector<double> acc(outCount, init);
  std::vector<int64_t> index(in.rank, 0);
  int64_t n = in.numElements();
  for (int64_t e = 0; e < n; ++e) {
    int64_t o = 0;
    for (int d = 0; d < in.rank; ++d)
      if (!reduced[d]) o = o * in.dims[d] + index[d];
    double v = in.dtype == QOPT_FLOAT32 ? in.as<float>()[e] : static_cast<double>(in.as<int64_t>()[e]);
    if (op == Opcode::ReduceMax) acc[o] = std::max(acc[o], v);
    else if (op == Opcode::ReduceMin) acc[o] = std::min(acc[o], v);
    else if (op == Opcode::ReduceProd) acc[o] *= v;
    else acc[o] += v;
    for (int d = in.rank - 1; d >= 0; --d) {
      if (++index[d] < in.dims[d]) break;
      index[d] = 0;
    }
  }
  if (op == Opcode::ReduceMean && outCount > 0) {
    double count = static_cast<double>(n) / outCount;
    for (double &a : acc) a /= count;
  }
  Tensor *out = ctx.allocate(in.dtype, shape);
  outs[0] = out;
  for (int64_t o = 0; o < outCount; ++o) {
    if (in.dtype == QOPT_FLOAT32) out->as<float>()[o] = static_cast<float>(acc[o]);
    else out->as<int64_t>()[o] = static_cast<int64_t>(acc[o]);
  }
}
} // namespace

std::vector<int64_t> qopt::rt::reductionShape(const Tensor &in, const int64_t *i, int64_t ni,
                                              bool *reduced) {
  if (ni < 1)
    fail("a reduction needs its keepdims attribute");
  for (int64_t d = 0; d < in.rank; ++d)
    reduced[d] = ni <= 1;
  for (int64_t k = 1; k < ni; ++k) {
    if (i[k] < 0 || i[k] >= in.rank)
      fail("reduction axis " + std::to_string(i[k]) + " outside rank " + std::to_string(in.rank));
    reduced[i[k]] = true;
  }
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < in.rank; ++d)
    if (!reduced[d])
      shape.push_back(in.dims[d]);
    else if (i[0] != 0)
      shape.push_back(1);
  return shape;
}

void qopt::rt::runNNOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                       const int64_t *i, int64_t ni, const double *f, int64_t nf) {
  switch (op) {
  case Opcode::MatMul: return matmul(ctx, *ins[0], *ins[1], ni > 0 && i[0] != 0, outs);
  case Opcode::MatMulKernel:
    return matmul(ctx, *ins[1], *ins[2], ni > 0 && i[0] != 0, outs,
                  reinterpret_cast<FusedKernelFn>(static_cast<void *>(ins[0])));
  case Opcode::Gemm: return gemm(ctx, ins, numIns, i, f, outs);
  case Opcode::Softmax: return softmax(ctx, *ins[0], i[0], outs);
  case Opcode::LayerNorm: return normalize(ctx, ins, numIns, i[0], f[0], true, outs);
  case Opcode::RMSNorm: return normalize(ctx, ins, 2, ins[0]->rank - 1, f[0], false, outs);
  case Opcode::ReduceMean: case Opcode::ReduceSum: case Opcode::ReduceMax: case Opcode::ReduceMin:
  case Opcode::ReduceProd:
    return reduce(op, ctx, *ins[0], i, ni, outs);
  default: fail("not a linear-algebra or reduction op");
  }
}

void qopt::rt::runBlasPerPart(Context &ctx, int64_t n,
                              const std::function<void(int64_t, int64_t)> &body) {
  if (ctx.threads <= 1 || !ctx.workers || n <= 1)
    return body(0, n);
  openblas_set_num_threads(1);
  ctx.workers->parallelFor(n, 1, body);
  openblas_set_num_threads(ctx.threads);
}
