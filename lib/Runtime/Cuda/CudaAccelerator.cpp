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
           Tensor **outs, int64_t numOuts, const int64_t *i, int64_t ni) override;
  void toHost(Context &ctx, Tensor &t) override;
  void recycle(DeviceBuffer *buffer) override;
  void synchronize() override { check(d.ctxSynchronize(), "waiting for the GPU"); }

  uint64_t weightsBase = 0;

private:
  bool tensorCores = [] {
    const char *env = std::getenv("QOPT_GPU_TENSOR_CORES");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  void check(CUresult r, const char *what) {
    if (r != 0)
      fail(d.message(what, r));
  }
  CUfunction function(const std::string &name);
  DeviceBuffer *allocate(size_t bytes);
  /// The device address of `t`'s values, uploading them first if only the host has them.
  uint64_t onDevice(Tensor &t);
  /// A result of `shape` in fresh device memory.
  Tensor *result(Context &ctx, int32_t dtype, const std::vector<int64_t> &shape);
  void launch(const std::string &name, unsigned gridX, unsigned gridY, unsigned block,
              std::vector<uint64_t> args, unsigned gridZ = 1);

  bool quantMatMul(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs,
                   const int64_t *i, int64_t ni);
  bool rowKernel(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs);
  bool elementwise(Context &ctx, const char *kernel, Tensor **in, int64_t n, Tensor **outs,
                   int32_t dtype);

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
  if (bytes)
    check(d.memcpyHtoD(t.device, t.data, bytes), "uploading a tensor to the GPU");
  return t.device;
}

void CudaAccelerator::toHost(Context &ctx, Tensor &t) {
  if (!t.hostStale)
    return;
  ctx.attachHostBuffer(t);
  size_t bytes = tensorBytes(t);
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
                          int64_t ni) {
  check(d.ctxSetCurrent(context), "using the GPU's context");
  int64_t first = firstTensorOperand(op);
  Tensor **in = ins + first;
  int64_t n = numIns - first;
  for (int64_t k = 0; k < n; ++k)
    if (in[k] && in[k]->strided)
      return false; // a session's KV-cache view: the CPU kernels read it in place
  switch (op) {
  case Opcode::QuantMatMul: case Opcode::QuantMatMulKernel:
    return quantMatMul(ctx, kernel, in, n, outs, i, ni);
  case Opcode::RowKernel: case Opcode::RMSNorm: case Opcode::LayerNorm: case Opcode::Softmax:
    return rowKernel(ctx, kernel, in, n, outs);
  case Opcode::FusedElementwise:
    return elementwise(ctx, kernel, in, n, outs, ni > 1 ? static_cast<int32_t>(i[1]) : QOPT_FLOAT32);
  default:
    return false;
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
  std::vector<int64_t> shape = x.shape();
  shape.back() = channels;
  Tensor *y = result(ctx, QOPT_FLOAT32, shape);
  outs[0] = y;
  if (m == 0 || channels == 0)
    return true;
  Tensor *zeros = n > 3 ? in[3] : nullptr;
  std::vector<uint64_t> args = {onDevice(x), onDevice(codes), onDevice(*in[2]),
                                zeros ? onDevice(*zeros) : 0, y->device, static_cast<uint64_t>(m),
                                static_cast<uint64_t>(channels), static_cast<uint64_t>(k),
                                static_cast<uint64_t>(group)};
  // Tensor cores (f16 operands) from 16 rows, f32 on the CUDA cores below; the geometry is
  // shared with the compiler (CudaQuantMatMul.h). QOPT_GPU_TENSOR_CORES=0 keeps every size on
  // the f32 kernels (agreement with the CPU to f32 rounding, at a cost in speed).
  qopt::cuda::Q4Launch l =
      qopt::cuda::q4Launch(m, channels, k, group, tensorCores, multiprocessors);
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
