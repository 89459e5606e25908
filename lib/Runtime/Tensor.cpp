//===- Tensor.cpp - runtime tensors, buffers and the run context ----------===//
#include "Tensor.h"

#include <cstdlib>
#include <cstring>

using namespace qopt::rt;

size_t qopt::rt::dtypeSize(int32_t dtype) {
  switch (dtype) {
  case QOPT_FLOAT32: case QOPT_INT32: case QOPT_UINT32: return 4;
  case QOPT_INT64: case QOPT_FLOAT64: case QOPT_UINT64: return 8;
  case QOPT_INT16: case QOPT_UINT16: case QOPT_FLOAT16: case QOPT_BFLOAT16: return 2;
  case QOPT_UINT8: case QOPT_INT8: case QOPT_BOOL: case QOPT_FLOAT8E4M3FN: case QOPT_UINT4:
  case QOPT_INT4: return 1;
  default: return 0;
  }
}

std::string qopt::rt::shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t d = 0; d < shape.size(); ++d)
    s += (d ? "x" : "") + std::to_string(shape[d]);
  return s + "]";
}

const char *qopt::rt::dtypeName(int32_t dtype) {
  switch (dtype) {
  case QOPT_FLOAT32: return "float32";
  case QOPT_INT32: return "int32";
  case QOPT_INT64: return "int64";
  case QOPT_FLOAT64: return "float64";
  case QOPT_UINT8: return "uint8";
  case QOPT_INT8: return "int8";
  case QOPT_BOOL: return "bool";
  case QOPT_INT16: return "int16";
  case QOPT_UINT16: return "uint16";
  case QOPT_UINT32: return "uint32";
  case QOPT_UINT64: return "uint64";
  case QOPT_FLOAT16: return "float16";
  case QOPT_BFLOAT16: return "bfloat16";
  case QOPT_FLOAT8E4M3FN: return "float8e4m3fn";
  case QOPT_UINT4: return "uint4";
  case QOPT_INT4: return "int4";
  default: return "unknown";
  }
}

void qopt::rt::fail(const std::string &message) { throw KernelError{message}; }

static Tensor *newTensor(int32_t dtype, const std::vector<int64_t> &shape) {
  if (shape.size() > QOPT_MAX_RANK)
    fail("tensor rank " + std::to_string(shape.size()) + " exceeds " +
         std::to_string(QOPT_MAX_RANK));
  auto *t = new Tensor();
  t->dtype = dtype;
  t->rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0)
      fail("negative dimension " + std::to_string(shape[i]));
    t->dims[i] = shape[i];
  }
  return t;
}

void *Context::obtain(size_t bytes) {
  auto it = pool.find(bytes);
  if (it != pool.end()) {
    void *p = it->second;
    pool.erase(it);
    return p;
  }
  // 64-byte alignment suits AVX-512 loads.
  void *p = std::aligned_alloc(64, bytes);
  if (!p)
    fail("out of memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

void Context::recycle(Buffer *buffer) {
  pool.emplace(buffer->bytes, buffer->data);
  delete buffer;
}

void Context::drainPool() {
  for (auto &entry : pool)
    std::free(entry.second);
  pool.clear();
}

Tensor *Context::allocate(int32_t dtype, const std::vector<int64_t> &shape) {
  Tensor *t = newTensor(dtype, shape);
  attachHostBuffer(*t);
  live.push_back(t);
  return t;
}

Tensor *Context::view(const Tensor &source, const std::vector<int64_t> &shape) {
  Tensor *t = newTensor(source.dtype, shape);
  if (t->numElements() != source.numElements())
    fail("view of " + std::to_string(source.numElements()) + " elements as " +
         std::to_string(t->numElements()));
  t->data = source.data;
  t->buffer = source.buffer;
  if (t->buffer)
    ++t->buffer->refs;
  t->device = source.device;
  t->deviceBuffer = source.deviceBuffer;
  t->hostStale = source.hostStale;
  if (t->deviceBuffer)
    ++t->deviceBuffer->refs;
  live.push_back(t);
  return t;
}

Tensor *Context::allocateDeviceOnly(int32_t dtype, const std::vector<int64_t> &shape) {
  Tensor *t = newTensor(dtype, shape);
  t->hostStale = true;
  live.push_back(t);
  return t;
}

void Context::attachHostBuffer(Tensor &t) {
  size_t bytes = tensorBytes(t);
  // Sizes are rounded so that buffers of similar tensors are interchangeable.
  size_t granule = bytes > (1 << 16) ? 4096 : 64;
  bytes = (bytes / granule + 1) * granule;
  t.buffer = new Buffer();
  t.buffer->data = obtain(bytes);
  t.buffer->bytes = bytes;
  t.data = t.buffer->data;
}

Tensor *Context::wrap(int32_t dtype, const std::vector<int64_t> &shape, void *data) {
  Tensor *t = newTensor(dtype, shape);
  t->data = data;
  live.push_back(t);
  return t;
}

void Context::release(Tensor *t) {
  // Memory is returned early; the Tensor record itself is freed with the run. Graph outputs
  // (and what shares their memory) outlive it.
  auto sharedWithOutput = [&](auto member) {
    for (Tensor *out : outputs)
      if (out && out->*member == t->*member)
        return true;
    return false;
  };
  if (t && t->deviceBuffer && !sharedWithOutput(&Tensor::deviceBuffer)) {
    if (--t->deviceBuffer->refs == 0)
      accel->recycle(t->deviceBuffer);
    t->deviceBuffer = nullptr;
  }
  if (t && t->buffer) {
    if (sharedWithOutput(&Tensor::buffer))
      return;
    if (--t->buffer->refs == 0)
      recycle(t->buffer);
    t->buffer = nullptr;
  }
}

void Context::releaseAll() {
  for (Tensor *t : live) {
    if (t->buffer && --t->buffer->refs == 0)
      recycle(t->buffer);
    if (t->deviceBuffer && --t->deviceBuffer->refs == 0)
      accel->recycle(t->deviceBuffer);
    delete t;
  }
  live.clear();
  outputs.clear();
}

std::vector<int64_t> qopt::rt::broadcastShapes(const std::vector<int64_t> &a,
                                               const std::vector<int64_t> &b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      fail("cannot broadcast dimension " + std::to_string(da) + " against " + std::to_string(db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> qopt::rt::broadcastStrides(const std::vector<int64_t> &shape, size_t rank,
                                                const std::vector<int64_t> &outShape) {
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    size_t o = rank - shape.size() + i;
    strides[o] = (shape[i] == 1 && outShape[o] != 1) ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

int64_t qopt::rt::readInt(const Tensor &t, int64_t i) {
  switch (t.dtype) {
  case QOPT_INT64: return t.as<int64_t>()[i];
  case QOPT_INT32: return t.as<int32_t>()[i];
  case QOPT_INT8: case QOPT_INT4: return t.as<int8_t>()[i];
  case QOPT_UINT8: case QOPT_BOOL: case QOPT_UINT4: return t.as<uint8_t>()[i];
  case QOPT_INT16: return t.as<int16_t>()[i];
  case QOPT_UINT16: return t.as<uint16_t>()[i];
  case QOPT_UINT32: return t.as<uint32_t>()[i];
  case QOPT_UINT64: return static_cast<int64_t>(t.as<uint64_t>()[i]);
  default: fail(std::string("expected an integer tensor, got ") + dtypeName(t.dtype));
  }
}

std::vector<int64_t> qopt::rt::readInts(const Tensor &t) {
  std::vector<int64_t> v(t.numElements());
  for (int64_t i = 0; i < t.numElements(); ++i)
    v[i] = readInt(t, i);
  return v;
}
