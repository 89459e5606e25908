//===- CudaAccelerator.cpp - running a model's GPU kernels ----------------===//
//
// A CUDA library holds, besides its CPU code, fatbins of the kernels qopt-generate-gpu-kernels
// built (qopt_cuda_images). The ops marked for the GPU call Accelerator::run; the rest run on the
// CPU. A tensor lives where it was made and is copied across when an op on the other side reads
// it: model inputs and CPU results are uploaded once, GPU results downloaded once. Weights are
// uploaded whole when the model is created. Work is queued on the context's default stream, and
// a download waits for it.
//
#include "../Tensor.h"
#include "CudaDriver.h"
#include "CudaImages.h"
#include "IndexSpace.h"
#include "qopt/Runtime/CudaKernels.h"
#include "qopt/Runtime/CudaQuantMatMul.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

using namespace qopt::rt;
using namespace qopt::rt::cuda;

namespace {
/// Rounded sizes make freed device buffers reusable by similar tensors.
size_t roundBytes(size_t bytes) {
  size_t granule = bytes > (1 << 16) ? 65536 : 256;
  return (bytes / granule + 1) * granule;
}

class CudaAccelerator final : public Accelerator {
public:
  CudaAccelerator(const Driver &d) : d(d) {}
  ~CudaAccelerator() override;
  /// Picks the device, loads the image for its architecture and uploads the weights.
  bool start(const char *images, const void *weights, size_t weightsSize, int ordinal,
             std::string &error);

  bool run(Context &ctx, const char *kernel, Opcode op, Tensor **ins, int64_t numIns,
           Tensor **outs, int64_t numOuts, const int64_t *i, int64_t ni, const double *f,
           int64_t nf) override;
  DeviceBuffer *allocate(size_t bytes) override;
  void toHost(Context &ctx, Tensor &t) override;
  void recycle(DeviceBuffer *buffer) override;
  void synchronize() override { check(d.ctxSynchronize(), "waiting for the GPU"); }

  uint64_t weightsBase = 0;

private:
  /// Whether the 4-bit matmuls may compute in f16 (tensor cores, the `_h` kernels).
  bool halfPrecision = [] {
    const char *env = std::getenv("QOPT_GPU_HALF");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  void check(CUresult r, const char *what) {
    if (r != 0)
      fail(d.message(what, r));
  }
  CUfunction function(const std::string &name);
  /// The device address of `t`'s values, uploading them first if only the host has them.
  uint64_t onDevice(Tensor &t);
  /// A result of `shape` in fresh device memory.
  Tensor *result(Context &ctx, int32_t dtype, const std::vector<int64_t> &shape);
  /// A matmul's f32 result: `x`'s shape with `channels` as its last dim.
  Tensor *rowsResult(Context &ctx, const Tensor &x, int64_t channels) {
    std::vector<int64_t> shape = x.shape();
    shape.back() = channels;
    return result(ctx, QOPT_FLOAT32, shape);
  }
  void launch(const std::string &name, unsigned gridX, unsigned gridY, unsigned block,
              std::vector<uint64_t> args, unsigned gridZ = 1);

  bool quantMatMul(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs,
                   const int64_t *i, int64_t ni);
  bool rowKernel(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs);
  bool elementwise(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs,
                   int32_t dtype);
  bool attention(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs,
                 double scale);
  bool floatMatMul(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs,
                   const int64_t *i, int64_t ni);
  bool kvAppend(Context &ctx, Tensor **in, int64_t n, Tensor **outs, const int64_t *i,
                int64_t ni);
  bool dataMovement(Context &ctx, Opcode op, Tensor **in, int64_t n, Tensor **outs,
                    int64_t numOuts, const int64_t *i, int64_t ni);
  /// The strided copy of DeviceCopier::copy, between device addresses.
  void copy(uint64_t src, std::vector<int64_t> srcStrides, uint64_t dst,
            std::vector<int64_t> dstStrides, std::vector<int64_t> shape, size_t elem);

  /// Data movement's copies on this GPU.
  class Copier final : public DeviceCopier {
  public:
    explicit Copier(CudaAccelerator &a) : a(a) {}
    Tensor *result(Context &ctx, int32_t dtype, const std::vector<int64_t> &shape) override {
      return a.result(ctx, dtype, shape);
    }
    char *address(Tensor &t) override { return reinterpret_cast<char *>(a.onDevice(t)); }
    void copy(const char *src, const std::vector<int64_t> &srcStrides, char *dst,
              const std::vector<int64_t> &dstStrides, const std::vector<int64_t> &shape,
              size_t elem) override {
      a.copy(reinterpret_cast<uint64_t>(src), srcStrides, reinterpret_cast<uint64_t>(dst),
             dstStrides, shape, elem);
    }

  private:
    CudaAccelerator &a;
  };

  const Driver &d;
  CUdevice device = 0;
  int multiprocessors = 1;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  bool retained = false;
  DeviceBuffer weights;
  std::unordered_map<std::string, CUfunction> functions;
  std::multimap<size_t, CUdeviceptr> pool;
};

CudaAccelerator::~CudaAccelerator() {
  if (context)
    d.ctxSetCurrent(context);
  for (auto &entry : pool)
    d.memFree(entry.second);
  if (weights.ptr)
    d.memFree(weights.ptr);
  if (module)
    d.moduleUnload(module);
  if (retained)
    d.primaryCtxRelease(device);
}

bool CudaAccelerator::start(const char *images, const void *weightData, size_t weightsSize,
                            int ordinal, std::string &error) {
  auto failWith = [&](const std::string &msg) {
    error = msg;
    return false;
  };
  int count = 0;
  if (CUresult r = d.deviceGetCount(&count); r != 0)
    return failWith(d.message("cannot count the GPUs", r));
  if (ordinal < 0 || ordinal >= count)
    return failWith("GPU " + std::to_string(ordinal) + " does not exist (this machine has " +
                    std::to_string(count) + ")");
  if (CUresult r = d.deviceGet(&device, ordinal); r != 0)
    return failWith(d.message("cannot open the GPU", r));
  int major = 0, minor = 0;
  d.deviceGetAttribute(&major, kAttributeComputeCapabilityMajor, device);
  d.deviceGetAttribute(&minor, kAttributeComputeCapabilityMinor, device);
  int arch = major * 10 + minor;
  d.deviceGetAttribute(&multiprocessors, kAttributeMultiprocessorCount, device);
  if (CUresult r = d.primaryCtxRetain(&context, device); r != 0)
    return failWith(d.message("cannot create a context on the GPU", r));
  retained = true;
  if (CUresult r = d.ctxSetCurrent(context); r != 0)
    return failWith(d.message("cannot use the GPU's context", r));

  CudaImageChoice choice = chooseCudaImage(images, arch);
  if (!choice.wellFormed)
    return failWith("the library's GPU kernels are malformed");
  if (choice.count > 0 && !choice.image)
    return failWith("the library's GPU code is for " + choice.architectures + "; this GPU is sm_" +
                    std::to_string(arch) + " (compile with --cuda-arch=sm_" +
                    std::to_string(arch) + ")");
  if (choice.image)
    if (CUresult r = d.moduleLoadData(&module, choice.image); r != 0)
      return failWith(d.message("cannot load the GPU kernels", r));

  if (weightsSize) {
    if (CUresult r = d.memAlloc(&weights.ptr, weightsSize); r != 0)
      return failWith(d.message("cannot allocate GPU memory for the weights", r));
    if (CUresult r = d.memcpyHtoD(weights.ptr, weightData, weightsSize); r != 0)
      return failWith(d.message("cannot upload the weights", r));
  }
  weightsBase = weights.ptr;
  return true;
}

CUfunction CudaAccelerator::function(const std::string &name) {
  auto it = functions.find(name);
  if (it != functions.end())
    return it->second;
  CUfunction f = nullptr;
  if (!module)
    fail("the library has no GPU kernels");
  check(d.moduleGetFunction(&f, module, name.c_str()), ("finding GPU kernel " + name).c_str());
  functions[name] = f;
  return f;
}

DeviceBuffer *CudaAccelerator::allocate(size_t bytes) {
  bytes = roundBytes(bytes);
  auto *buffer = new DeviceBuffer();
  buffer->bytes = bytes;
  auto it = pool.find(bytes);
  if (it != pool.end()) {
    buffer->ptr = it->second;
    pool.erase(it);
    return buffer;
  }
  CUresult r = d.memAlloc(&buffer->ptr, bytes);
  if (r != 0) {
    delete buffer;
    fail(d.message(("allocating " + std::to_string(bytes) + " bytes of GPU memory").c_str(), r));
  }
  return buffer;
}

void CudaAccelerator::recycle(DeviceBuffer *buffer) {
  pool.emplace(buffer->bytes, buffer->ptr);
  delete buffer;
}

uint64_t CudaAccelerator::onDevice(Tensor &t) {
  if (t.device)
    return t.device;
  size_t bytes = tensorBytes(t);
  t.deviceBuffer = allocate(bytes);
  t.device = t.deviceBuffer->ptr;
  // Queued like a kernel: the synchronous copy would first wait for all the work before it, and
  // a decoding step uploads its positions and mask between launches.
  if (bytes)
    check(d.memcpyHtoDAsync(t.device, t.data, bytes, nullptr), "uploading a tensor to the GPU");
  return t.device;
}

void CudaAccelerator::toHost(Context &ctx, Tensor &t) {
  if (!t.hostStale)
    return;
  size_t bytes = tensorBytes(t);
  if (t.strided) {
    // A session's cache view: its host buffer has the device's layout; the positions in use
    // are downloaded into it.
    int64_t last = 0;
    for (int d = 0; d < t.rank; ++d)
      last += (t.dims[d] - 1) * t.strides[d];
    bytes = t.numElements() ? static_cast<size_t>(last + 1) * dtypeSize(t.dtype) : 0;
  } else {
    ctx.attachHostBuffer(t);
  }
  if (bytes)
    check(d.memcpyDtoH(t.data, t.device, bytes), "downloading a tensor from the GPU");
  t.hostStale = false;
}

Tensor *CudaAccelerator::result(Context &ctx, int32_t dtype, const std::vector<int64_t> &shape) {
  Tensor *t = ctx.allocateDeviceOnly(dtype, shape);
  t->deviceBuffer = allocate(tensorBytes(*t));
  t->device = t->deviceBuffer->ptr;
  return t;
}

void CudaAccelerator::launch(const std::string &name, unsigned gridX, unsigned gridY,
                             unsigned block, std::vector<uint64_t> args, unsigned gridZ) {
  // Every kernel parameter is a pointer or an i64: eight bytes each.
  std::vector<void *> params(args.size());
  for (size_t k = 0; k < args.size(); ++k)
    params[k] = &args[k];
  check(d.launchKernel(function(name), gridX, gridY, gridZ, block, 1, 1, 0, nullptr, params.data(),
                       nullptr),
        ("launching GPU kernel " + name).c_str());
}

bool CudaAccelerator::run(Context &ctx, const char *kernel, Opcode op, Tensor **ins,
                          int64_t numIns, Tensor **outs, int64_t numOuts, const int64_t *i,
                          int64_t ni, const double *f, int64_t nf) {
  check(d.ctxSetCurrent(context), "using the GPU's context");
  int64_t first = firstTensorOperand(op);
  Tensor **in = ins + first;
  int64_t n = numIns - first;
  // Strided tensors are a session's KV-cache views: attention and the append read them in
  // place; other kernels take dense tensors.
  if (op != Opcode::Attention && op != Opcode::KVAppend)
    for (int64_t k = 0; k < n; ++k)
      if (in[k] && in[k]->strided)
        return false;
  switch (op) {
  case Opcode::QuantMatMul: case Opcode::QuantMatMulKernel:
    return quantMatMul(ctx, kernel, in, n, outs, i, ni);
  case Opcode::RowKernel: case Opcode::RMSNorm: case Opcode::LayerNorm: case Opcode::Softmax:
    return rowKernel(ctx, kernel, in, n, outs);
  case Opcode::FusedElementwise:
    return elementwise(ctx, kernel, in, n, outs, ni > 1 ? static_cast<int32_t>(i[1]) : QOPT_FLOAT32);
  case Opcode::Attention:
    return attention(ctx, kernel, in, n, outs, nf > 0 ? f[0] : 1.0);
  case Opcode::FusedMatMul:
    return floatMatMul(ctx, kernel, in, n, outs, i, ni);
  case Opcode::KVAppend:
    return kvAppend(ctx, in, n, outs, i, ni);
  case Opcode::Generated: // a data-movement op with a generated CPU kernel: opcode, rank, bytes
    return ni >= 3 && dataMovement(ctx, static_cast<Opcode>(i[0]), in, n, outs, numOuts, i + 3,
                                   ni - 3);
  default:
    return dataMovement(ctx, op, in, n, outs, numOuts, i, ni);
  }
}

bool CudaAccelerator::quantMatMul(Context &ctx, const char *kernel, Tensor **in, int64_t n,
                                  Tensor **outs, const int64_t *i, int64_t ni) {
  if (n < 3 || ni < 7 || !in[0] || !in[1] || !in[2] || in[0]->dtype != QOPT_FLOAT32 ||
      in[1]->rank != 2)
    return false;
  Tensor &x = *in[0], &codes = *in[1];
  int64_t k = i[6], group = i[2] > 0 ? i[2] : k, channels = codes.dims[0];
  if (x.rank < 1 || x.dims[x.rank - 1] != k)
    fail("quantized matmul: the input has " + std::to_string(x.rank ? x.dims[x.rank - 1] : 0) +
         " features, the weight " + std::to_string(k));
  int64_t m = x.numElements() / k;
  Tensor *y = outs[0] = rowsResult(ctx, x, channels);
  if (m == 0 || channels == 0)
    return true;
  Tensor *zeros = n > 3 ? in[3] : nullptr;
  std::vector<uint64_t> args = {onDevice(x), onDevice(codes), onDevice(*in[2]),
                                zeros ? onDevice(*zeros) : 0, y->device, static_cast<uint64_t>(m),
                                static_cast<uint64_t>(channels), static_cast<uint64_t>(k),
                                static_cast<uint64_t>(group)};
  // Tensor cores (f16 operands) from 16 rows, f16 arithmetic on the CUDA cores below; the
  // geometry is shared with the compiler (CudaQuantMatMul.h). QOPT_GPU_HALF=0 keeps every size
  // of 4-bit codes on the f32 kernels (agreement with the CPU to f32 rounding, at a cost in
  // speed); 8-bit codes have only tensor-core kernels.
  qopt::cuda::QuantLaunch l =
      qopt::cuda::quantLaunch(i[1], m, channels, k, group, halfPrecision, multiprocessors);
  if (l.accumulate)
    check(d.memsetD32Async(y->device, 0, static_cast<size_t>(m * channels), nullptr),
          "clearing a matmul's output on the GPU");
  launch(std::string(kernel) + l.suffix, l.grid[0], l.grid[1], l.block, std::move(args),
         l.grid[2]);
  return true;
}

bool CudaAccelerator::rowKernel(Context &ctx, const char *kernel, Tensor **in, int64_t n,
                                Tensor **outs) {
  if (n < 1 || !in[0] || in[0]->dtype != QOPT_FLOAT32 || in[0]->rank < 1)
    return false;
  Tensor &x = *in[0];
  int64_t width = x.dims[x.rank - 1];
  int64_t rows = width ? x.numElements() / width : 0;
  Tensor *y = result(ctx, QOPT_FLOAT32, x.shape());
  outs[0] = y;
  if (rows == 0 || width == 0)
    return true;
  uint64_t scale = n > 1 && in[1] ? onDevice(*in[1]) : 0;
  uint64_t bias = n > 2 && in[2] ? onDevice(*in[2]) : 0;
  launch(kernel, static_cast<unsigned>(rows), 1, 256,
         {onDevice(x), y->device, scale, bias, static_cast<uint64_t>(width)});
  return true;
}

bool CudaAccelerator::elementwise(Context &ctx, const char *kernel, Tensor **in, int64_t n,
                                  Tensor **outs, int32_t dtype) {
  std::vector<int64_t> shape;
  for (int64_t k = 0; k < n; ++k) {
    if (!in[k])
      return false;
    shape = k ? broadcastShapes(shape, in[k]->shape()) : in[k]->shape();
  }
  size_t rank = shape.size();
  // Per dim: its size, then each input's stride (0 where it broadcasts) and the output's.
  std::vector<std::vector<int64_t>> strides;
  for (int64_t k = 0; k < n; ++k)
    strides.push_back(broadcastStrides(in[k]->shape(), rank, shape));
  std::vector<int64_t> outStrides(rank);
  for (int64_t d = static_cast<int64_t>(rank) - 1, s = 1; d >= 0; --d) {
    outStrides[d] = s;
    s *= shape[d];
  }
  strides.push_back(outStrides);
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> merged;
  if (!foldIndexSpace(shape, strides, 4, sizes, merged))
    return false;
  Tensor *y = result(ctx, dtype, shape);
  outs[0] = y;
  int64_t total = y->numElements();
  if (total == 0)
    return true;
  std::vector<uint64_t> args = {y->device, static_cast<uint64_t>(total)};
  for (int64_t s : sizes)
    args.push_back(static_cast<uint64_t>(s));
  for (int64_t k = 0; k < n; ++k) {
    args.push_back(onDevice(*in[k]));
    for (int64_t s : merged[k])
      args.push_back(static_cast<uint64_t>(s));
  }
  launch(kernel, static_cast<unsigned>((total + 255) / 256), 1, 256, std::move(args));
  return true;
}

bool CudaAccelerator::dataMovement(Context &ctx, Opcode op, Tensor **in, int64_t n,
                                   Tensor **outs, int64_t numOuts, const int64_t *i,
                                   int64_t ni) {
  if (op != Opcode::Transpose && op != Opcode::Slice && op != Opcode::Concat &&
      op != Opcode::Split && op != Opcode::Expand)
    return false;
  if (n < 1 || !in[0])
    return false;
  // The data the op moves: every input of a concat, else the first. It moves on the GPU where
  // some of it is there only; data the host has is moved by the CPU, which saves an upload.
  int64_t data = op == Opcode::Concat ? n : 1;
  bool onDeviceOnly = false;
  for (int64_t k = 0; k < data; ++k) {
    if (!in[k])
      return false;
    size_t elem = dtypeSize(in[k]->dtype);
    if (elem != 4 && elem != 8)
      return false;
    onDeviceOnly |= in[k]->hostStale;
  }
  if (!onDeviceOnly)
    return false;
  // Starts, ends, sizes and shapes are read on the host.
  for (int64_t k = data; k < n; ++k)
    if (in[k])
      toHost(ctx, *in[k]);
  Copier copier(*this);
  return runDeviceDataMovement(op, ctx, copier, in, n, outs, numOuts, i, ni);
}

void CudaAccelerator::copy(uint64_t src, std::vector<int64_t> srcStrides, uint64_t dst,
                           std::vector<int64_t> dstStrides, std::vector<int64_t> shape,
                           size_t elem) {
  if (elem == 8) {
    // Two 32-bit words an element.
    for (int64_t &s : srcStrides)
      s *= 2;
    for (int64_t &s : dstStrides)
      s *= 2;
    shape.push_back(2);
    srcStrides.push_back(1);
    dstStrides.push_back(1);
    elem = 4;
  }
  if (elem != 4)
    fail("the GPU copies 4- and 8-byte elements, not " + std::to_string(elem) + "-byte ones");
  int64_t total = 1;
  for (int64_t s : shape)
    total *= s;
  if (total == 0)
    return;
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> merged;
  if (!foldIndexSpace(shape, {dstStrides, srcStrides}, 4, sizes, merged)) {
    // More than four dims that do not merge: a launch per index of the outermost.
    std::vector<int64_t> inner(shape.begin() + 1, shape.end());
    std::vector<int64_t> innerSrc(srcStrides.begin() + 1, srcStrides.end());
    std::vector<int64_t> innerDst(dstStrides.begin() + 1, dstStrides.end());
    for (int64_t c = 0; c < shape[0]; ++c)
      copy(src + c * srcStrides[0] * 4, innerSrc, dst + c * dstStrides[0] * 4, innerDst, inner, 4);
    return;
  }
  std::vector<uint64_t> args = {dst, src, static_cast<uint64_t>(total)};
  for (int dim = 1; dim < 4; ++dim)
    args.push_back(static_cast<uint64_t>(sizes[dim]));
  for (const std::vector<int64_t> &strides : merged)
    for (int64_t s : strides)
      args.push_back(static_cast<uint64_t>(s));
  launch(qopt::cuda::kCopyKernel,
         static_cast<unsigned>((total + qopt::cuda::kCopyThreads - 1) / qopt::cuda::kCopyThreads),
         1, qopt::cuda::kCopyThreads, std::move(args));
}

bool CudaAccelerator::kvAppend(Context &ctx, Tensor **in, int64_t n, Tensor **outs,
                               const int64_t *i, int64_t ni) {
  if (n < 2 || ni < 2 || !in[0] || !in[1])
    return false;
  const CacheSlot *slot = ctx.cacheSlot(i[1]);
  if (!slot) {
    // Outside a session: a concat.
    if (in[0]->strided || in[1]->strided)
      return false;
    Tensor *pair[2] = {in[0], in[1]};
    int64_t axis = i[0];
    return dataMovement(ctx, Opcode::Concat, pair, 2, outs, 1, &axis, 1);
  }
  if (!slot->device)
    return false;
  Tensor &past = *in[0], &added = *in[1];
  int64_t start = checkCacheAppend(*slot, past, added, i[0]);
  int64_t batch = slot->dims[0], heads = slot->dims[1], capacity = slot->dims[2],
          width = slot->dims[3], count = added.dims[2];
  std::vector<int64_t> cacheStrides = {heads * capacity * width, capacity * width, width, 1};
  copy(onDevice(added), contiguousStrides(added.shape()), slot->device + start * width * 4,
       cacheStrides, added.shape(), 4);
  Tensor *out = ctx.wrap(QOPT_FLOAT32, {batch, heads, start + count, width}, slot->data);
  slot->stridedView(*out);
  outs[0] = out;
  return true;
}

bool CudaAccelerator::floatMatMul(Context &ctx, const char *kernel, Tensor **in, int64_t n,
                                  Tensor **outs, const int64_t *i, int64_t ni) {
  if (ni < 3 || n < 2 || !in[0] || !in[1] || in[0]->dtype != QOPT_FLOAT32 || in[0]->rank < 1)
    return false;
  Tensor &x = *in[0], &w = *in[1];
  int64_t k = i[0], channels = i[1], panel = i[2];
  int64_t panels = (channels + panel - 1) / panel;
  if (x.dims[x.rank - 1] != k || w.dtype != QOPT_FLOAT32 || w.numElements() != panels * k * panel)
    return false; // the CPU kernel names the mismatch
  int64_t m = k ? x.numElements() / k : 0;
  if ((m + 3) / 4 > 65535) // grid y
    return false;
  // Epilogue inputs: one row for all outputs, or one per output row.
  std::vector<uint64_t> strides;
  for (int64_t e = 2; e < n; ++e) {
    if (!in[e] || in[e]->dtype != QOPT_FLOAT32)
      return false;
    int64_t count = in[e]->numElements();
    if (count != channels && count != m * channels)
      return false;
    strides.push_back(count == channels ? 0 : static_cast<uint64_t>(channels));
  }
  Tensor *y = outs[0] = rowsResult(ctx, x, channels);
  if (m == 0 || channels == 0)
    return true;
  std::vector<uint64_t> args = {onDevice(x), onDevice(w), y->device};
  for (int64_t e = 2; e < n; ++e)
    args.push_back(onDevice(*in[e]));
  args.insert(args.end(), {static_cast<uint64_t>(m), static_cast<uint64_t>(k),
                           static_cast<uint64_t>(channels)});
  args.insert(args.end(), strides.begin(), strides.end());
  int v = m == 1 ? 0 : 1;
  int64_t rows = qopt::cuda::kFloatMatMulRows[v];
  launch(std::string(kernel) + qopt::cuda::kFloatMatMulSuffix[v], static_cast<unsigned>(panels),
         static_cast<unsigned>((m + rows - 1) / rows), qopt::cuda::kFloatMatMulThreads,
         std::move(args));
  return true;
}

bool CudaAccelerator::attention(Context &ctx, const char *kernel, Tensor **in, int64_t n,
                                Tensor **outs, double scaleAttr) {
  if (n < 3 || !in[0] || !in[1] || !in[2])
    return false;
  Tensor &q = *in[0], &k = *in[1], &v = *in[2];
  Tensor *mask = n > 3 ? in[3] : nullptr;
  for (const Tensor *t : {&q, &k, &v, mask})
    if (t && (t->dtype != QOPT_FLOAT32 || (t != mask && t->rank != 4)))
      return false;
  // Shapes the CPU kernel would reject go there for its message.
  int64_t batch = q.dims[0], heads = q.dims[1], rows = q.dims[2], width = q.dims[3];
  int64_t kvHeads = k.dims[1], length = k.dims[2], valueWidth = v.dims[3];
  if (k.dims[3] != width || v.dims[1] != kvHeads || v.dims[2] != length || kvHeads == 0 ||
      heads % kvHeads != 0 || (k.dims[0] != batch && k.dims[0] != 1) ||
      (v.dims[0] != batch && v.dims[0] != 1) || q.strided)
    return false;
  // A cache view must be on the device already (a host cache stays with the CPU kernel).
  if ((k.strided && !k.device) || (v.strided && !v.device))
    return false;
  int64_t qs[QOPT_MAX_RANK], ks[QOPT_MAX_RANK], vs[QOPT_MAX_RANK];
  q.elementStrides(qs);
  k.elementStrides(ks);
  v.elementStrides(vs);
  if (ks[3] != 1 || vs[3] != 1)
    return false;
  if (k.dims[0] == 1)
    ks[0] = 0;
  if (v.dims[0] == 1)
    vs[0] = 0;
  int64_t scores[4] = {batch, heads, rows, length}, ms[4] = {};
  if (mask && !attentionMaskStrides(*mask, scores, ms))
    return false;
  Tensor *out = result(ctx, QOPT_FLOAT32, {batch, heads, rows, valueWidth});
  outs[0] = out;
  if (out->numElements() == 0)
    return true;
  float scale = static_cast<float>(scaleAttr);
  uint32_t scaleBits;
  std::memcpy(&scaleBits, &scale, sizeof(scaleBits));
  auto word = [](int64_t x) { return static_cast<uint64_t>(x); };
  std::vector<uint64_t> args = {
      onDevice(q), onDevice(k), onDevice(v),
      mask ? onDevice(*mask) : 0, out->device,
      word(heads), word(rows), word(length), word(heads / kvHeads), scaleBits, mask ? 1u : 0u,
      word(qs[0]), word(qs[1]), word(qs[2]), word(ks[0]), word(ks[1]), word(ks[2]),
      word(vs[0]), word(vs[1]), word(vs[2]), word(ms[0]), word(ms[1]), word(ms[2]),
      word(ms[3])};
  launch(kernel, static_cast<unsigned>(batch * heads * rows), 1, qopt::cuda::kAttentionThreads,
         std::move(args));
  return true;
}
} // namespace

extern "C" Accelerator *qopt_cuda_create(const char *images, const void *weights,
                                         size_t weightsSize, int device, uint64_t *deviceWeights,
                                         std::string *error) {
  const Driver *d = driver(*error);
  if (!d)
    return nullptr;
  auto *accel = new CudaAccelerator(*d);
  if (!accel->start(images, weights, weightsSize, device, *error)) {
    delete accel;
    return nullptr;
  }
  *deviceWeights = accel->weightsBase;
  return accel;
}
