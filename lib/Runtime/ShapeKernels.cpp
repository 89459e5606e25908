//===- ShapeKernels.cpp - shape computations and data movement ------------===//
#include "Tensor.h"
#include "WorkerPool.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace qopt::rt;

namespace {
int64_t normalizeAxis(int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return a;
}

/// Copies a strided view of `src` (element strides per output dim) into contiguous `dst`.
void stridedCopy(const char *src, const std::vector<int64_t> &strides, char *dst,
                 const std::vector<int64_t> &shape, size_t elem) {
  int64_t total = 1;
  for (int64_t d : shape)
    total *= d;
  if (total == 0)
    return;
  size_t rank = shape.size();
  if (rank == 0) {
    std::memcpy(dst, src, elem);
    return;
  }
  std::vector<int64_t> index(rank, 0);
  int64_t inner = shape[rank - 1], innerStride = strides[rank - 1], offset = 0;
  for (int64_t base = 0; base < total; base += inner) {
    char *out = dst + base * elem;
    if (innerStride == 1) {
      std::memcpy(out, src + offset * elem, inner * elem);
    } else if (elem == 4) {
      const uint32_t *in = reinterpret_cast<const uint32_t *>(src) + offset;
      uint32_t *o = reinterpret_cast<uint32_t *>(out);
      for (int64_t j = 0; j < inner; ++j)
        o[j] = in[j * innerStride];
    } else {
      for (int64_t j = 0; j < inner; ++j)
        std::memcpy(out + j * elem, src + (offset + j * innerStride) * elem, elem);
    }
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      ++index[d];
      offset += strides[d];
      if (index[d] < shape[d])
        break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

} // namespace

std::vector<int64_t> qopt::rt::contiguousStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

namespace {
/// Where the copies of data movement run: in a generated copy kernel of `rank` dims (operands:
/// the source view, then the destination view, both strided), on an accelerator (`device`:
/// results, sources and copies are on the device), or in the runtime's loops.
struct Mover {
  Context &ctx;
  FusedKernelFn kernel = nullptr;
  int64_t rank = 0;
  int64_t bytes = 0; // of the elements the kernel moves
  DeviceCopier *device = nullptr;

  /// Whether copies take strided destinations (the generated kernels and the device do).
  bool strided() const { return kernel || device; }
  Tensor *allocate(int32_t dtype, const std::vector<int64_t> &shape) const {
    return device ? device->result(ctx, dtype, shape) : ctx.allocate(dtype, shape);
  }
  /// The address of `t`'s elements where the copies run.
  char *at(Tensor &t) const { return device ? device->address(t) : t.as<char>(); }

  /// Copies the view of `src` with `shape` and element strides `srcStrides` into `dst`, laid out
  /// with `dstStrides` (row-major when empty).
  void copy(const char *src, const std::vector<int64_t> &srcStrides, char *dst,
            const std::vector<int64_t> &dstStrides, const std::vector<int64_t> &shape,
            size_t elem) const {
    if (device)
      return device->copy(src, srcStrides, dst,
                          dstStrides.empty() ? contiguousStrides(shape) : dstStrides, shape, elem);
    if (!kernel) {
      if (!dstStrides.empty())
        fail("the runtime's copy writes row-major destinations only");
      return stridedCopy(src, srcStrides, dst, shape, elem);
    }
    if (static_cast<int64_t>(shape.size()) != rank)
      fail("a generated copy kernel of rank " + std::to_string(rank) + " got a view of rank " +
           std::to_string(shape.size()));
    int64_t strides[2 * QOPT_MAX_RANK];
    std::vector<int64_t> dense = dstStrides.empty() ? contiguousStrides(shape) : dstStrides;
    std::copy(srcStrides.begin(), srcStrides.end(), strides);
    std::copy(dense.begin(), dense.end(), strides + QOPT_MAX_RANK);
    void *data[2] = {const_cast<char *>(src), dst};
    runStridedKernel(ctx, kernel, rank, shape.data(), 2, data, strides);
  }
};

/// Checks every index of a gather along a dim of `dim` before a generated kernel reads them.
void checkIndices(const Tensor &indices, int64_t dim) {
  int64_t n = indices.numElements();
  for (int64_t k = 0; k < n; ++k) {
    int64_t idx = readInt(indices, k);
    if (idx < -dim || idx >= dim)
      fail("gather index " + std::to_string(idx) + " out of range [0, " + std::to_string(dim) +
           ")");
  }
}

/// Rows of a gather in a generated kernel: data as [outer, dim, inner], indices as [n], the
/// output as [outer, n, inner]; large lookups split the indices across the pool.
void generatedGather(Context &ctx, FusedKernelFn kernel, const Tensor &data,
                     const Tensor &indices, Tensor &out, int64_t outer, int64_t dim,
                     int64_t inner) {
  int64_t n = indices.numElements();
  checkIndices(indices, dim);
  if (outer == 0 || n == 0 || inner == 0)
    return;
  size_t elem = dtypeSize(data.dtype), indexElem = dtypeSize(indices.dtype);
  auto part = [&](int64_t begin, int64_t end) {
    int64_t dataSizes[3] = {outer, dim, inner}, outSizes[3] = {outer, end - begin, inner};
    int64_t outStrides[3] = {n * inner, inner, 1}, count = end - begin;
    KernelOperands operands;
    operands.add(data.data, 3, dataSizes);
    operands.add(indices.as<char>() + begin * indexElem, 1, &count);
    operands.add(out.as<char>() + begin * inner * elem, 3, outSizes, outStrides);
    operands.call(kernel);
  };
  constexpr int64_t kElementsPerPart = 65536;
  int threads = ctx.workers ? ctx.workers->size() : 1;
  int64_t perIndex = std::max<int64_t>(1, outer * inner);
  int64_t grain = std::max<int64_t>(1, kElementsPerPart / perIndex);
  if (threads <= 1 || n < 2 * grain)
    return part(0, n);
  ctx.workers->parallelFor(n, grain, part);
}

void gather(const Mover &mover, Tensor &data, Tensor &indices, int64_t axisAttr, Tensor **outs) {
  Context &ctx = mover.ctx;
  int64_t axis = normalizeAxis(axisAttr, data.rank);
  std::vector<int64_t> shape(data.dims, data.dims + axis);
  for (int i = 0; i < indices.rank; ++i)
    shape.push_back(indices.dims[i]);
  for (int i = axis + 1; i < data.rank; ++i)
    shape.push_back(data.dims[i]);
  Tensor *out = ctx.allocate(data.dtype, shape);
  outs[0] = out;
  int64_t outer = 1, inner = 1, dim = data.dims[axis], n = indices.numElements();
  for (int i = 0; i < axis; ++i)
    outer *= data.dims[i];
  for (int i = axis + 1; i < data.rank; ++i)
    inner *= data.dims[i];
  if (mover.kernel)
    return generatedGather(ctx, mover.kernel, data, indices, *out, outer, dim, inner);
  size_t bytes = inner * dtypeSize(data.dtype);
  char *dst = out->as<char>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < n; ++k) {
      int64_t idx = readInt(indices, k);
      if (idx < 0)
        idx += dim;
      if (idx < 0 || idx >= dim)
        fail("gather index " + std::to_string(readInt(indices, k)) + " out of range [0, " +
             std::to_string(dim) + ")");
      std::memcpy(dst, data.as<char>() + ((o * dim + idx) * bytes), bytes);
      dst += bytes;
    }
}

void gatherElements(const Mover &mover, Tensor &data, Tensor &indices, int64_t axisAttr,
                    Tensor **outs) {
  Context &ctx = mover.ctx;
  int64_t axis = normalizeAxis(axisAttr, data.rank);
  Tensor *out = ctx.allocate(data.dtype, indices.shape());
  outs[0] = out;
  if (mover.kernel) {
    if (indices.rank != data.rank || data.rank != mover.rank)
      fail("gather_elements indices of rank " + std::to_string(indices.rank) +
           " for data of rank " + std::to_string(data.rank));
    for (int d = 0; d < data.rank; ++d)
      if (d != axis && indices.dims[d] > data.dims[d])
        fail("gather_elements indices " + shapeString(indices.shape()) + " exceed the data " +
             shapeString(data.shape()));
    checkIndices(indices, data.dims[axis]);
    if (out->numElements() == 0)
      return;
    // The data keeps its own strides; the kernel reads it where the indices say.
    std::vector<int64_t> dataStrides = contiguousStrides(data.shape());
    KernelOperands operands;
    operands.add(data.data, data.rank, data.dims, dataStrides.data());
    operands.add(indices.data, indices.rank, indices.dims);
    operands.add(out->data, out->rank, out->dims);
    operands.call(mover.kernel);
    return;
  }
  std::vector<int64_t> dStrides = contiguousStrides(data.shape());
  std::vector<int64_t> iShape = indices.shape();
  size_t elem = dtypeSize(data.dtype);
  std::vector<int64_t> index(iShape.size(), 0);
  for (int64_t i = 0; i < indices.numElements(); ++i) {
    int64_t rem = i, offset = 0;
    for (int64_t d = static_cast<int64_t>(iShape.size()) - 1; d >= 0; --d) {
      index[d] = rem % iShape[d];
      rem /= iShape[d];
    }
    for (size_t d = 0; d < iShape.size(); ++d) {
      int64_t c = index[d];
      if (static_cast<int64_t>(d) == axis) {
        c = readInt(indices, i);
        if (c < 0)
          c += data.dims[d];
        if (c < 0 || c >= data.dims[d])
          fail("gather_elements index out of range");
      }
      offset += c * dStrides[d];
    }
    std::memcpy(out->as<char>() + i * elem, data.as<char>() + offset * elem, elem);
  }
}

void gatherND(const Mover &mover, Tensor &data, Tensor &indices, int64_t batchDims,
              Tensor **outs) {
  Context &ctx = mover.ctx;
  int64_t depth = indices.dims[indices.rank - 1];
  std::vector<int64_t> shape(indices.dims, indices.dims + indices.rank - 1);
  for (int i = batchDims + depth; i < data.rank; ++i)
    shape.push_back(data.dims[i]);
  Tensor *out = ctx.allocate(data.dtype, shape);
  outs[0] = out;
  std::vector<int64_t> dStrides = contiguousStrides(data.shape());
  int64_t slice = 1, batch = 1;
  for (int i = batchDims + depth; i < data.rank; ++i)
    slice *= data.dims[i];
  for (int i = 0; i < batchDims; ++i)
    batch *= indices.dims[i];
  int64_t tuples = 1;
  for (int i = 0; i < indices.rank - 1; ++i)
    tuples *= indices.dims[i];
  int64_t perBatch = tuples / std::max<int64_t>(batch, 1);
  size_t bytes = slice * dtypeSize(data.dtype);
  int64_t batchStride = batchDims > 0 ? dStrides[batchDims - 1] : 0;
  if (mover.kernel) {
    // Checked here, so the kernel only adds up offsets and copies slices.
    for (int64_t t = 0; t < tuples; ++t)
      for (int64_t k = 0; k < depth; ++k) {
        int64_t dim = data.dims[batchDims + k], c = readInt(indices, t * depth + k);
        if (c < -dim || c >= dim)
          fail("gather_nd index out of range");
      }
    if (tuples == 0 || slice == 0)
      return;
    std::vector<int64_t> dims(2 * depth);
    for (int64_t k = 0; k < depth; ++k) {
      dims[k] = data.dims[batchDims + k];
      dims[depth + k] = dStrides[batchDims + k];
    }
    int64_t params[2] = {std::max<int64_t>(perBatch, 1), batchStride};
    int64_t total = data.numElements(), indexSizes[2] = {tuples, depth},
            dimSizes[2] = {2, depth}, outSizes[2] = {tuples, slice}, two = 2;
    KernelOperands operands;
    operands.add(data.data, 1, &total);
    operands.add(indices.data, 2, indexSizes);
    operands.add(dims.data(), 2, dimSizes);
    operands.add(outs[0]->data, 2, outSizes);
    operands.add(params, 1, &two);
    operands.call(mover.kernel);
    return;
  }
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t b = perBatch ? t / perBatch : 0, offset = b * batchStride;
    for (int64_t k = 0; k < depth; ++k) {
      int64_t dim = data.dims[batchDims + k], c = readInt(indices, t * depth + k);
      if (c < 0)
        c += dim;
      if (c < 0 || c >= dim)
        fail("gather_nd index out of range");
      offset += c * dStrides[batchDims + k];
    }
    std::memcpy(out->as<char>() + t * bytes, data.as<char>() + offset * dtypeSize(data.dtype),
                bytes);
  }
}

void concat(const Mover &mover, Tensor **ins, int64_t numIns, int64_t axisAttr, Tensor **outs) {
  int64_t axis = normalizeAxis(axisAttr, ins[0]->rank);
  std::vector<int64_t> shape = ins[0]->shape();
  shape[axis] = 0;
  for (int64_t k = 0; k < numIns; ++k)
    shape[axis] += ins[k]->dims[axis];
  Tensor *out = mover.allocate(ins[0]->dtype, shape);
  outs[0] = out;
  size_t elem = dtypeSize(out->dtype);
  if (mover.strided()) {
    // Each input into its part of the output, read row-major and written with the output's
    // strides.
    std::vector<int64_t> outStrides = contiguousStrides(shape);
    int64_t at = 0;
    for (int64_t k = 0; k < numIns; ++k) {
      std::vector<int64_t> part = ins[k]->shape();
      mover.copy(mover.at(*ins[k]), contiguousStrides(part),
                 mover.at(*out) + at * outStrides[axis] * elem, outStrides, part, elem);
      at += part[axis];
    }
    return;
  }
  int64_t outer = 1;
  for (int i = 0; i < axis; ++i)
    outer *= shape[i];
  char *dst = out->as<char>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < numIns; ++k) {
      size_t bytes = (outer ? ins[k]->numElements() / outer : 0) * elem;
      std::memcpy(dst, ins[k]->as<char>() + o * bytes, bytes);
      dst += bytes;
    }
}

/// Range in a generated kernel: start + i * delta for i below n.
void generatedRange(const Mover &mover, Tensor &start, Tensor &delta, Tensor *out) {
  int64_t n = out->numElements(), one = 1;
  if (n == 0)
    return;
  KernelOperands operands;
  operands.add(start.data, 1, &one);
  operands.add(delta.data, 1, &one);
  operands.add(out->data, 1, &n);
  operands.call(mover.kernel);
}

void range(const Mover &mover, Tensor &start, Tensor &limit, Tensor &delta, Tensor **outs) {
  Context &ctx = mover.ctx;
  if (start.dtype == QOPT_FLOAT32) {
    float s = *start.as<float>(), l = *limit.as<float>(), d = *delta.as<float>();
    int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((l - s) / d)));
    Tensor *out = ctx.allocate(QOPT_FLOAT32, {n});
    outs[0] = out;
    if (mover.kernel)
      return generatedRange(mover, start, delta, out);
    for (int64_t i = 0; i < n; ++i)
      out->as<float>()[i] = s + i * d;
    return;
  }
  int64_t s = readInt(start, 0), l = readInt(limit, 0), d = readInt(delta, 0);
  if (d == 0)
    fail("range with a zero delta");
  int64_t n = std::max<int64_t>(0, (l - s + d + (d > 0 ? -1 : 1)) / d);
  Tensor *out = ctx.allocate(start.dtype, {n});
  outs[0] = out;
  if (mover.kernel)
    return generatedRange(mover, start, delta, out);
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = s + i * d;
    if (start.dtype == QOPT_INT64)
      out->as<int64_t>()[i] = v;
    else
      out->as<int32_t>()[i] = static_cast<int32_t>(v);
  }
}

void cumSum(const Mover &mover, Tensor &in, const int64_t *attrs, Tensor **outs) {
  Context &ctx = mover.ctx;
  int64_t axis = normalizeAxis(attrs[0], in.rank);
  bool exclusive = attrs[1], reverse = attrs[2];
  Tensor *out = ctx.allocate(in.dtype, in.shape());
  outs[0] = out;
  int64_t outer = 1, inner = 1, dim = in.dims[axis];
  for (int i = 0; i < axis; ++i)
    outer *= in.dims[i];
  for (int i = axis + 1; i < in.rank; ++i)
    inner *= in.dims[i];
  if (mover.kernel) {
    if (out->numElements() == 0)
      return;
    int64_t view[3] = {outer, dim, inner};
    KernelOperands operands;
    operands.add(in.data, 3, view);
    operands.add(out->data, 3, view);
    operands.call(mover.kernel);
    return;
  }
  auto run = [&](auto *tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        T acc = 0;
        for (int64_t s = 0; s < dim; ++s) {
          int64_t k = reverse ? dim - 1 - s : s;
          int64_t at = (o * dim + k) * inner + j;
          T v = in.as<T>()[at];
          if (exclusive) {
            out->as<T>()[at] = acc;
            acc += v;
          } else {
            acc += v;
            out->as<T>()[at] = acc;
          }
        }
      }
  };
  if (in.dtype == QOPT_FLOAT32) run(static_cast<float *>(nullptr));
  else if (in.dtype == QOPT_INT64) run(static_cast<int64_t *>(nullptr));
  else if (in.dtype == QOPT_INT32) run(static_cast<int32_t *>(nullptr));
  else fail("cum_sum of an unsupported element type");
}

void expand(const Mover &mover, Tensor &in, Tensor &shapeT, Tensor **outs) {
  std::vector<int64_t> shape = broadcastShapes(in.shape(), readInts(shapeT));
  Tensor *out = mover.allocate(in.dtype, shape);
  outs[0] = out;
  mover.copy(mover.at(in), broadcastStrides(in.shape(), shape.size(), shape), mover.at(*out), {},
             shape, dtypeSize(in.dtype));
}

/// Tile: the output viewed as [r0, d0, r1, d1, ...] reads the input with stride 0 along each r.
void tile(const Mover &mover, Tensor &in, Tensor &repeatsT, Tensor **outs) {
  Context &ctx = mover.ctx;
  std::vector<int64_t> repeats = readInts(repeatsT);
  if (static_cast<int64_t>(repeats.size()) != in.rank)
    fail("tile needs one repeat count per input dim");
  std::vector<int64_t> shape, viewShape, viewStrides, inStrides = contiguousStrides(in.shape());
  for (int d = 0; d < in.rank; ++d) {
    if (repeats[d] < 0)
      fail("tile with a negative repeat count");
    shape.push_back(in.dims[d] * repeats[d]);
    viewShape.insert(viewShape.end(), {repeats[d], in.dims[d]});
    viewStrides.insert(viewStrides.end(), {0, inStrides[d]});
  }
  Tensor *out = ctx.allocate(in.dtype, shape);
  outs[0] = out;
  if (mover.kernel) {
    // The kernel reads the input at each output position modulo the input's dims.
    if (in.rank != mover.rank)
      fail("a generated tile of rank " + std::to_string(mover.rank) + " got rank " +
           std::to_string(in.rank));
    if (out->numElements() == 0)
      return;
    KernelOperands operands;
    operands.add(in.data, in.rank, in.dims);
    operands.add(out->data, out->rank, out->dims);
    operands.call(mover.kernel);
    return;
  }
  stridedCopy(in.as<char>(), viewStrides, out->as<char>(), viewShape, dtypeSize(in.dtype));
}

void reshape(Context &ctx, Tensor &in, Tensor &shapeT, bool allowZero, Tensor **outs) {
  std::vector<int64_t> shape = readInts(shapeT);
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowZero) {
      if (static_cast<int64_t>(i) >= in.rank)
        fail("reshape copies a dimension the input does not have");
      shape[i] = in.dims[i];
    }
    if (shape[i] == -1) {
      if (infer >= 0)
        fail("reshape with two -1 dimensions");
      infer = i;
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || in.numElements() % known != 0)
      fail("cannot infer the -1 dimension of a reshape");
    shape[infer] = in.numElements() / known;
  }
  outs[0] = ctx.view(in, shape);
}

void transpose(const Mover &mover, Tensor &in, const int64_t *perm, int64_t n, Tensor **outs) {
  std::vector<int64_t> inStrides = contiguousStrides(in.shape()), shape(n), strides(n);
  // A permutation that keeps the order of the dims larger than 1 moves no element: the result
  // views the input (a decoding step's [1, 1, heads, d] to [1, heads, 1, d], say).
  bool moves = false;
  for (int64_t i = 0, last = -1; i < n; ++i) {
    shape[i] = in.dims[perm[i]];
    strides[i] = inStrides[perm[i]];
    if (shape[i] != 1) {
      moves = moves || perm[i] < last;
      last = perm[i];
    }
  }
  if (!moves && !in.strided) {
    outs[0] = mover.ctx.view(in, shape);
    return;
  }
  Tensor *out = mover.allocate(in.dtype, shape);
  outs[0] = out;
  mover.copy(mover.at(in), strides, mover.at(*out), {}, shape, dtypeSize(in.dtype));
}

void slice(const Mover &mover, Tensor **ins, int64_t numIns, Tensor **outs) {
  Tensor &in = *ins[0];
  std::vector<int64_t> starts = readInts(*ins[1]), ends = readInts(*ins[2]);
  std::vector<int64_t> axes, steps;
  if (numIns > 3 && ins[3])
    axes = readInts(*ins[3]);
  else
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (numIns > 4 && ins[4])
    steps = readInts(*ins[4]);
  else
    steps.assign(starts.size(), 1);
  std::vector<int64_t> shape = in.shape(), inStrides = contiguousStrides(in.shape());
  std::vector<int64_t> strides = inStrides;
  int64_t offset = 0;
  for (size_t k = 0; k < starts.size(); ++k) {
    int64_t axis = normalizeAxis(axes[k], in.rank), dim = in.dims[axis], step = steps[k];
    if (step == 0)
      fail("slice with a zero step");
    int64_t s = starts[k], e = ends[k];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    int64_t count;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count = s > e ? (s - e - step - 1) / -step : 0;
    }
    shape[axis] = count;
    strides[axis] = inStrides[axis] * step;
    if (count > 0)
      offset += s * inStrides[axis];
  }
  Tensor *out = mover.allocate(in.dtype, shape);
  outs[0] = out;
  size_t elem = dtypeSize(in.dtype);
  mover.copy(mover.at(in) + offset * elem, strides, mover.at(*out), {}, shape, elem);
}

void split(const Mover &mover, Tensor **ins, int64_t numIns, Tensor **outs, int64_t numOuts,
           int64_t axisAttr) {
  Tensor &in = *ins[0];
  int64_t axis = normalizeAxis(axisAttr, in.rank), dim = in.dims[axis];
  std::vector<int64_t> sizes;
  if (numIns > 1 && ins[1]) {
    sizes = readInts(*ins[1]);
  } else {
    int64_t chunk = (dim + numOuts - 1) / numOuts;
    for (int64_t i = 0; i < numOuts; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
  }
  if (static_cast<int64_t>(sizes.size()) != numOuts)
    fail("split sizes do not match the number of outputs");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i)
    outer *= in.dims[i];
  for (int i = axis + 1; i < in.rank; ++i)
    inner *= in.dims[i];
  size_t elem = dtypeSize(in.dtype);
  std::vector<int64_t> inStrides = contiguousStrides(in.shape());
  int64_t start = 0;
  for (int64_t p = 0; p < numOuts; ++p) {
    std::vector<int64_t> shape = in.shape();
    shape[axis] = sizes[p];
    if (start + sizes[p] > dim)
      fail("split sizes exceed the dimension");
    Tensor *out = mover.allocate(in.dtype, shape);
    if (mover.strided()) {
      mover.copy(mover.at(in) + start * inStrides[axis] * elem, inStrides, mover.at(*out), {},
                 shape, elem);
      outs[p] = out;
      start += sizes[p];
      continue;
    }
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out->as<char>() + o * sizes[p] * inner * elem,
                  in.as<char>() + (o * dim + start) * inner * elem, sizes[p] * inner * elem);
    outs[p] = out;
    start += sizes[p];
  }
}

void constantOfShape(const Mover &mover, Tensor &shapeT, const int64_t *i, int64_t ni,
                     const double *f, int64_t nf, Tensor **outs) {
  if (ni < 2 || nf < 1)
    fail("constant_of_shape needs its element type and value");
  Context &ctx = mover.ctx;
  Tensor *out = ctx.allocate(static_cast<int32_t>(i[0]), readInts(shapeT));
  outs[0] = out;
  int64_t n = out->numElements();
  if (mover.kernel) {
    if (dtypeSize(out->dtype) != static_cast<size_t>(mover.bytes))
      fail("a generated fill of " + std::to_string(mover.bytes) + "-byte elements cannot fill " +
           dtypeName(out->dtype));
    // The value's bits in the output's type; the kernel copies them into every element.
    alignas(8) unsigned char value[8] = {};
    switch (out->dtype) {
    case QOPT_FLOAT32: { float v = static_cast<float>(f[0]); std::memcpy(value, &v, 4); break; }
    case QOPT_FLOAT64: std::memcpy(value, &f[0], 8); break;
    case QOPT_INT64: std::memcpy(value, &i[1], 8); break;
    case QOPT_INT32: { int32_t v = static_cast<int32_t>(i[1]); std::memcpy(value, &v, 4); break; }
    default: value[0] = static_cast<uint8_t>(i[1]); break;
    }
    if (n == 0)
      return;
    int64_t one = 1;
    KernelOperands operands;
    operands.add(value, 1, &one);
    operands.add(out->data, 1, &n);
    operands.call(mover.kernel);
    return;
  }
  switch (out->dtype) {
  case QOPT_FLOAT32: std::fill_n(out->as<float>(), n, static_cast<float>(f[0])); break;
  case QOPT_FLOAT64: std::fill_n(out->as<double>(), n, f[0]); break;
  case QOPT_INT64: std::fill_n(out->as<int64_t>(), n, i[1]); break;
  case QOPT_INT32: std::fill_n(out->as<int32_t>(), n, static_cast<int32_t>(i[1])); break;
  default: std::fill_n(out->as<uint8_t>(), n, static_cast<uint8_t>(i[1])); break;
  }
}

void trilu(const Mover &mover, Tensor &in, Tensor *kT, bool upper, Tensor **outs) {
  Context &ctx = mover.ctx;
  int64_t k = kT ? readInt(*kT, 0) : 0;
  Tensor *out = ctx.allocate(in.dtype, in.shape());
  outs[0] = out;
  if (in.rank < 2)
    fail("trilu needs a matrix, not " + shapeString(in.shape()));
  int64_t rows = in.dims[in.rank - 2], cols = in.dims[in.rank - 1];
  int64_t mats = in.numElements() / std::max<int64_t>(rows * cols, 1);
  size_t elem = dtypeSize(in.dtype);
  if (mover.kernel) {
    if (in.numElements() == 0)
      return;
    int64_t view[3] = {mats, rows, cols}, one = 1;
    KernelOperands operands;
    operands.add(in.data, 3, view);
    operands.add(out->data, 3, view);
    operands.add(&k, 1, &one);
    operands.call(mover.kernel);
    return;
  }
  std::memcpy(out->data, in.data, in.numElements() * elem);
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        bool keep = upper ? (c - r >= k) : (c - r <= k);
        if (!keep)
          std::memset(out->as<char>() + ((m * rows + r) * cols + c) * elem, 0, elem);
      }
}
} // namespace

void qopt::rt::runShapeOp(Opcode op, Context &ctx, Tensor **ins, int64_t numIns, Tensor **outs,
                          int64_t numOuts, const int64_t *i, int64_t ni, const double *f,
                          int64_t nf) {
  runDataMovement(op, ctx, ins, numIns, outs, numOuts, i, ni, f, nf, nullptr, 0, 0);
}

void qopt::rt::runDataMovement(Opcode op, Context &ctx, Tensor **ins, int64_t numIns,
                               Tensor **outs, int64_t numOuts, const int64_t *i, int64_t ni,
                               const double *f, int64_t nf, FusedKernelFn kernel,
                               int64_t kernelRank, int64_t kernelBytes) {
  Mover mover{ctx, kernel, kernelRank, kernelBytes};
  switch (op) {
  case Opcode::Shape: {
    Tensor *out = ctx.allocate(QOPT_INT64, {std::max<int64_t>(0, i[1] - i[0])});
    for (int64_t d = i[0]; d < i[1]; ++d)
      out->as<int64_t>()[d - i[0]] = ins[0]->dims[d];
    outs[0] = out;
    return;
  }
  case Opcode::Gather: return gather(mover, *ins[0], *ins[1], i[0], outs);
  case Opcode::GatherElements: return gatherElements(mover, *ins[0], *ins[1], i[0], outs);
  case Opcode::GatherND: return gatherND(mover, *ins[0], *ins[1], i[0], outs);
  case Opcode::Concat: return concat(mover, ins, numIns, i[0], outs);
  case Opcode::Range: return range(mover, *ins[0], *ins[1], *ins[2], outs);
  case Opcode::CumSum: return cumSum(mover, *ins[0], i, outs);
  case Opcode::Expand: return expand(mover, *ins[0], *ins[1], outs);
  case Opcode::Tile: return tile(mover, *ins[0], *ins[1], outs);
  case Opcode::Reshape: return reshape(ctx, *ins[0], *ins[1], i[0] != 0, outs);
  case Opcode::Transpose: return transpose(mover, *ins[0], i, ni, outs);
  case Opcode::Slice: return slice(mover, ins, numIns, outs);
  case Opcode::Split: return split(mover, ins, numIns, outs, numOuts, i[0]);
  case Opcode::Squeeze: {
    std::vector<int64_t> shape;
    for (int d = 0; d < ins[0]->rank; ++d)
      if (!std::count(i, i + ni, d))
        shape.push_back(ins[0]->dims[d]);
      else if (ins[0]->dims[d] != 1)
        fail("squeeze of a dimension of size " + std::to_string(ins[0]->dims[d]));
    outs[0] = ctx.view(*ins[0], shape);
    return;
  }
  case Opcode::Unsqueeze: {
    std::vector<int64_t> shape;
    int64_t rank = ins[0]->rank + ni, next = 0;
    for (int64_t d = 0; d < rank; ++d)
      shape.push_back(std::count(i, i + ni, d) ? 1 : ins[0]->dims[next++]);
    outs[0] = ctx.view(*ins[0], shape);
    return;
  }
  case Opcode::Trilu: return trilu(mover, *ins[0], numIns > 1 ? ins[1] : nullptr, i[0] != 0, outs);
  case Opcode::ConstantOfShape: return constantOfShape(mover, *ins[0], i, ni, f, nf, outs);
  default: fail("not a shape op");
  }
}

bool qopt::rt::runDeviceDataMovement(Opcode op, Context &ctx, DeviceCopier &copier, Tensor **ins,
                                     int64_t numIns, Tensor **outs, int64_t numOuts,
                                     const int64_t *i, int64_t ni) {
  Mover mover{ctx, nullptr, 0, 0, &copier};
  switch (op) {
  case Opcode::Transpose: transpose(mover, *ins[0], i, ni, outs); return true;
  case Opcode::Slice: slice(mover, ins, numIns, outs); return true;
  case Opcode::Concat: concat(mover, ins, numIns, i[0], outs); return true;
  case Opcode::Split: split(mover, ins, numIns, outs, numOuts, i[0]); return true;
  case Opcode::Expand: expand(mover, *ins[0], *ins[1], outs); return true;
  default: return false;
  }
}
