//===- AttentionKernels.cpp - attention over the KV cache, in-place appends ===//
//
// One kernel computes softmax(q·kᵀ·scale + mask)·v for every query row, reading keys and values
// where they lie: in a session they are strided views of the cache buffer, and query heads share
// key heads under grouped-query attention without the repetition ever being materialized.
//
#include "FastMath.h"
#include "HorizontalReductions.h"
#include "Tensor.h"
#include "WorkerPool.h"

#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <limits>

using namespace qopt::rt;

namespace {
/// Mask values at or below this are "masked out": exporters write -inf or the float minimum, and
/// a score that small contributes exactly 0 after the softmax (or, in a row masked everywhere,
/// the same as every other), so the product for it need not be computed.
constexpr float kMasked = -1e30f;

/// Softmax of `scores[0, n)` in place (with the mask added first when given); returns false for
/// a row masked everywhere by -inf, which attends to nothing. Written with AVX2 intrinsics: the
/// loops with a mask's condition and fastExp were left scalar by the vectorizer, and a prefill
/// spends most of its attention time here.
inline bool softmaxRow(float *scores, int64_t n, const float *maskRow, int64_t maskStride,
                       float scale) {
  const float lowest = -std::numeric_limits<float>::infinity();
  auto scaled = [&](int64_t t) {
    float x = scores[t] * scale;
    if (maskRow) {
      float m = maskRow[t * maskStride];
      x = m <= kMasked ? m : x + m;
    }
    return x;
  };
  const __m256 vscale = _mm256_set1_ps(scale), vmasked = _mm256_set1_ps(kMasked);
  __m256 vbest = _mm256_set1_ps(lowest);
  int64_t t = 0;
  for (; t + 8 <= n; t += 8) {
    __m256 x = _mm256_mul_ps(_mm256_loadu_ps(scores + t), vscale);
    if (maskRow) {
      __m256 m;
      if (maskStride == 1) {
        m = _mm256_loadu_ps(maskRow + t);
      } else {
        alignas(32) float lanes[8];
        for (int j = 0; j < 8; ++j)
          lanes[j] = maskRow[(t + j) * maskStride];
        m = _mm256_load_ps(lanes);
      }
      x = _mm256_blendv_ps(_mm256_add_ps(x, m), m, _mm256_cmp_ps(m, vmasked, _CMP_LE_OQ));
    }
    _mm256_storeu_ps(scores + t, x);
    vbest = _mm256_max_ps(vbest, x);
  }
  float best = hmax(vbest);
  for (int64_t u = t; u < n; ++u) {
    scores[u] = scaled(u);
    best = std::max(best, scores[u]);
  }
  if (best == lowest)
    return false;
  const __m256 vtop = _mm256_set1_ps(best);
  __m256 vsum = _mm256_setzero_ps();
  for (t = 0; t + 8 <= n; t += 8) {
    __m256 e = fastExp8(_mm256_sub_ps(_mm256_loadu_ps(scores + t), vtop));
    _mm256_storeu_ps(scores + t, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = hsum(vsum);
  for (int64_t u = t; u < n; ++u) {
    scores[u] = fastExp(scores[u] - best);
    sum += scores[u];
  }
  const float inv = 1.0f / sum;
  const __m256 vinv = _mm256_set1_ps(inv);
  for (t = 0; t + 8 <= n; t += 8)
    _mm256_storeu_ps(scores + t, _mm256_mul_ps(_mm256_loadu_ps(scores + t), vinv));
  for (; t < n; ++t)
    scores[t] *= inv;
  return true;
}

/// Dot product of two contiguous float rows.
inline float dot(const float *a, const float *b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float sum = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i)
    sum += a[i] * b[i];
  return sum;
}
} // namespace

bool qopt::rt::attentionMaskStrides(const Tensor &mask, const int64_t *scores, int64_t *out) {
  if (mask.rank > 4)
    return false;
  int64_t strides[QOPT_MAX_RANK];
  mask.elementStrides(strides);
  int offset = 4 - mask.rank;
  for (int d = 0; d < 4; ++d) {
    if (d < offset) {
      out[d] = 0;
      continue;
    }
    int64_t size = mask.dims[d - offset];
    if (size != scores[d] && size != 1)
      return false;
    out[d] = size == 1 ? 0 : strides[d - offset];
  }
  return true;
}

void qopt::rt::runAttention(Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                            double scaleAttr) {
  if (numIns < 3 || !ins[0] || !ins[1] || !ins[2])
    fail("attention needs a query, keys and values");
  const Tensor &q = *ins[0], &k = *ins[1], &v = *ins[2];
  const Tensor *mask = numIns > 3 ? ins[3] : nullptr;
  for (const Tensor *t : {&q, &k, &v, mask})
    if (t && t->dtype != QOPT_FLOAT32)
      fail("attention computes on float32, not " + std::string(dtypeName(t->dtype)));
  if (q.rank != 4 || k.rank != 4 || v.rank != 4)
    fail("attention needs rank-4 query, keys and values");
  int64_t batch = q.dims[0], heads = q.dims[1], rows = q.dims[2], width = q.dims[3];
  int64_t kvHeads = k.dims[1], length = k.dims[2], valueWidth = v.dims[3];
  if (k.dims[3] != width || v.dims[1] != kvHeads || v.dims[2] != length)
    fail("attention's keys " + shapeString(k.shape()) + " and values " + shapeString(v.shape()) +
         " do not match the query " + shapeString(q.shape()));
  if (kvHeads == 0 || heads % kvHeads != 0)
    fail("attention has " + std::to_string(heads) + " query heads for " +
         std::to_string(kvHeads) + " key heads");
  for (const Tensor *t : {&k, &v})
    if (t->dims[0] != batch && t->dims[0] != 1)
      fail("attention's keys and values have batch " + std::to_string(t->dims[0]) + ", not " +
           std::to_string(batch));
  int64_t groups = heads / kvHeads;
  int64_t qs[QOPT_MAX_RANK], ks[QOPT_MAX_RANK], vs[QOPT_MAX_RANK], ms[4] = {};
  q.elementStrides(qs);
  k.elementStrides(ks);
  v.elementStrides(vs);
  if (qs[3] != 1 || ks[3] != 1 || vs[3] != 1)
    fail("attention needs rows of contiguous elements");
  if (k.dims[0] == 1)
    ks[0] = 0;
  if (v.dims[0] == 1)
    vs[0] = 0;
  int64_t scoresShape[4] = {batch, heads, rows, length};
  if (mask && !attentionMaskStrides(*mask, scoresShape, ms))
    fail("attention's mask has shape " + shapeString(mask->shape()) +
         ", which does not broadcast to [" + std::to_string(batch) + "x" +
         std::to_string(heads) + "x" + std::to_string(rows) + "x" + std::to_string(length) + "]");

  Tensor *out = ctx.allocate(QOPT_FLOAT32, {batch, heads, rows, valueWidth});
  outs[0] = out;
  if (out->numElements() == 0)
    return;
  const float *qd = q.as<float>(), *kd = k.as<float>(), *vd = v.as<float>();
  const float *md = mask ? mask->as<float>() : nullptr;
  float *od = out->as<float>();
  const float scale = static_cast<float>(scaleAttr);
  // Many query rows (a prefill): per block of query rows and key head, two BLAS products around
  // a softmax of the scores, the key head's query heads (grouped-query attention) stacked into
  // one product so the keys and values are packed once for all of them; the blocks split across
  // the pool, one BLAS thread each.
  if (rows >= 16) {
    // Keys masked out for a whole block of rows (the future, under a causal mask) are left out
    // of the block's products: the softmax gives them exactly 0.
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (rows + kBlock - 1) / kBlock;
    auto usedKeys = [&](const float *maskBlock, int64_t count) {
      if (!maskBlock)
        return length;
      int64_t used = 0;
      for (int64_t s = 0; s < count; ++s) {
        const float *row = maskBlock + s * ms[2];
        int64_t last = length;
        while (last > 0 && row[(last - 1) * ms[3]] <= kMasked)
          --last;
        if (last == 0) // masked everywhere: the row needs every key to match the reference
          return length;
        used = std::max(used, last);
      }
      return used;
    };
    auto prefillBlocks = [&](int64_t begin, int64_t end) {
      std::vector<float> scores(static_cast<size_t>(groups * kBlock * length));
      std::vector<float> queries(static_cast<size_t>(groups * kBlock * width));
      std::vector<float> results(static_cast<size_t>(groups * kBlock * valueWidth));
      for (int64_t item = begin; item < end; ++item) {
        int64_t block = item % blocks, kh = (item / blocks) % kvHeads, b = item / (blocks * kvHeads);
        int64_t s0 = block * kBlock, count = std::min(kBlock, rows - s0);
        const float *keys = kd + b * ks[0] + kh * ks[1];
        const float *values = vd + b * vs[0] + kh * vs[1];
        auto maskBlockOf = [&](int64_t h) {
          return md ? md + b * ms[0] + h * ms[1] + s0 * ms[2] : nullptr;
        };
        // The keys any of the group's rows may attend to (one scan when the mask does not vary
        // by head).
        int64_t used = 0;
        for (int64_t g = 0; g < (ms[1] ? groups : 1); ++g)
          used = std::max(used, usedKeys(maskBlockOf(kh * groups + g), count));
        if (used == 0) {
          for (int64_t g = 0; g < groups; ++g) {
            float *o = od + ((b * heads + kh * groups + g) * rows + s0) * valueWidth;
            std::fill(o, o + count * valueWidth, 0.0f);
          }
          continue;
        }
        // Row g * count + s of the stacked block is row s0 + s of query head kh * groups + g.
        for (int64_t g = 0; g < groups; ++g)
          for (int64_t s = 0; s < count; ++s)
            std::memcpy(queries.data() + (g * count + s) * width,
                        qd + b * qs[0] + (kh * groups + g) * qs[1] + (s0 + s) * qs[2],
                        width * sizeof(float));
        int64_t stacked = groups * count;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, stacked, used, width, 1.0f,
                    queries.data(), width, keys, ks[2], 0.0f, scores.data(), used);
        for (int64_t r = 0; r < stacked; ++r) {
          float *row = scores.data() + r * used;
          const float *maskBlock = maskBlockOf(kh * groups + r / count);
          const float *maskRow = maskBlock ? maskBlock + (r % count) * ms[2] : nullptr;
          if (!softmaxRow(row, used, maskRow, ms[3], scale))
            std::fill(row, row + used, 0.0f);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, stacked, valueWidth, used, 1.0f,
                    scores.data(), used, values, vs[2], 0.0f, results.data(), valueWidth);
        for (int64_t g = 0; g < groups; ++g)
          std::memcpy(od + ((b * heads + kh * groups + g) * rows + s0) * valueWidth,
                      results.data() + g * count * valueWidth,
                      count * valueWidth * sizeof(float));
      }
    };
    return runBlasPerPart(ctx, batch * kvHeads * blocks, prefillBlocks);
  }
  int64_t work = std::max<int64_t>(1, length * (width + valueWidth));
  ctx.workers->parallelFor(batch * heads * rows, std::max<int64_t>(1, 32768 / work),
                           [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(std::max<int64_t>(length, 1)));
    for (int64_t r = begin; r < end; ++r) {
      int64_t s = r % rows, h = (r / rows) % heads, b = r / (rows * heads);
      const float *query = qd + b * qs[0] + h * qs[1] + s * qs[2];
      const float *keys = kd + b * ks[0] + (h / groups) * ks[1];
      const float *values = vd + b * vs[0] + (h / groups) * vs[1];
      const float *maskRow = md ? md + b * ms[0] + h * ms[1] + s * ms[2] : nullptr;
      // Keys masked out need no product: the softmax takes the mask's value for them.
      for (int64_t t = 0; t < length; ++t)
        scores[t] = maskRow && maskRow[t * ms[3]] <= kMasked
                        ? 0.0f
                        : dot(query, keys + t * ks[2], width);
      float *o = od + ((b * heads + h) * rows + s) * valueWidth;
      std::fill(o, o + valueWidth, 0.0f);
      // A row masked everywhere (or no keys at all) attends to nothing: zeros, as the exporters'
      // NaN guard after softmax makes it.
      if (!softmaxRow(scores.data(), length, maskRow, ms[3], scale))
        continue;
      for (int64_t t = 0; t < length; ++t) {
        float p = scores[t];
        const float *value = values + t * vs[2];
        for (int64_t j = 0; j < valueWidth; ++j)
          o[j] += p * value[j];
      }
    }
  });
}

int64_t qopt::rt::checkCacheAppend(const CacheSlot &slot, const Tensor &past, const Tensor &added,
                                   int64_t axis) {
  if (axis != 2 || past.rank != 4 || added.rank != 4 || added.dtype != QOPT_FLOAT32 ||
      added.strided)
    fail("a KV-cache append takes rank-4 float32 keys or values along axis 2");
  for (int d : {0, 1, 3})
    if (added.dims[d] != slot.dims[d])
      fail("the keys or values appended have shape " + shapeString(added.shape()) +
           ", which does not fit the cache's [" + std::to_string(slot.dims[0]) + "x" +
           std::to_string(slot.dims[1]) + "x?x" + std::to_string(slot.dims[3]) + "]");
  int64_t start = past.dims[2], count = added.dims[2];
  if (start + count > slot.dims[2])
    fail("the KV cache holds " + std::to_string(slot.dims[2]) + " positions; " +
         std::to_string(start + count) + " were asked for");
  return start;
}

void qopt::rt::runKVAppend(Context &ctx, Tensor **ins, Tensor **outs, int64_t axis,
                           int64_t inputIndex) {
  const Tensor &past = *ins[0], &added = *ins[1];
  const CacheSlot *slot = ctx.cacheSlot(inputIndex);
  if (!slot) {
    // Outside a session: a concat.
    Tensor *pair[2] = {ins[0], ins[1]};
    return runShapeOp(Opcode::Concat, ctx, pair, 2, outs, 1, &axis, 1, nullptr, 0);
  }
  if (slot->device)
    fail("the KV cache lives on the GPU, which did not append to it");
  int64_t start = checkCacheAppend(*slot, past, added, axis);
  int64_t count = added.dims[2], capacity = slot->dims[2];
  int64_t heads = slot->dims[1], width = slot->dims[3];
  const float *src = added.as<float>();
  for (int64_t b = 0; b < slot->dims[0]; ++b)
    for (int64_t h = 0; h < heads; ++h)
      std::memcpy(slot->data + ((b * heads + h) * capacity + start) * width,
                  src + (b * heads + h) * count * width, count * width * sizeof(float));
  Tensor *out = ctx.wrap(QOPT_FLOAT32, {slot->dims[0], heads, start + count, width}, slot->data);
  slot->stridedView(*out);
  outs[0] = out;
}
