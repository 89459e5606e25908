//===- CudaDriver.h - the CUDA driver API, loaded at run time --*- C++ -*-===//
//
// qopt links no CUDA library: a CUDA model library opens libcuda with dlopen when a model is
// created, so the compiler, the tests and CPU libraries build and run where no driver is
// installed. The few entry points used are declared here with the driver's C types.
//
#ifndef QOPT_LIB_RUNTIME_CUDA_CUDADRIVER_H
#define QOPT_LIB_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace qopt::rt::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = uint64_t; // the driver's unsigned long long: 64 bits on every 64-bit target
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;

constexpr int kAttributeComputeCapabilityMajor = 75;
constexpr int kAttributeComputeCapabilityMinor = 76;
constexpr int kAttributeMultiprocessorCount = 16;

/// The driver's entry points; `load` fills them.
struct Driver {
  CUresult (*init)(unsigned flags) = nullptr;
  CUresult (*deviceGetCount)(int *count) = nullptr;
  CUresult (*deviceGet)(CUdevice *device, int ordinal) = nullptr;
  CUresult (*deviceGetAttribute)(int *value, int attribute, CUdevice device) = nullptr;
  CUresult (*deviceGetName)(char *name, int length, CUdevice device) = nullptr;
  CUresult (*primaryCtxRetain)(CUcontext *ctx, CUdevice device) = nullptr;
  CUresult (*primaryCtxRelease)(CUdevice device) = nullptr;
  CUresult (*ctxSetCurrent)(CUcontext ctx) = nullptr;
  CUresult (*ctxSynchronize)() = nullptr;
  CUresult (*moduleLoadData)(CUmodule *module, const void *image) = nullptr;
  CUresult (*moduleUnload)(CUmodule module) = nullptr;
  CUresult (*moduleGetFunction)(CUfunction *function, CUmodule module, const char *name) = nullptr;
  CUresult (*launchKernel)(CUfunction f, unsigned gridX, unsigned gridY, unsigned gridZ,
                           unsigned blockX, unsigned blockY, unsigned blockZ,
                           unsigned sharedBytes, CUstream stream, void **params,
                           void **extra) = nullptr;
  CUresult (*memAlloc)(CUdeviceptr *ptr, size_t bytes) = nullptr;
  CUresult (*memFree)(CUdeviceptr ptr) = nullptr;
  CUresult (*memcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes) = nullptr;
  /// From pageable memory (all the runtime's host buffers) it returns once the bytes are staged,
  /// without waiting for the work queued before it, as the synchronous copy does.
  CUresult (*memcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes,
                              CUstream stream) = nullptr;
  CUresult (*memcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes) = nullptr;
  CUresult (*memsetD32Async)(CUdeviceptr dst, unsigned value, size_t count,
                             CUstream stream) = nullptr;
  CUresult (*getErrorString)(CUresult error, const char **text) = nullptr;

  /// Opens libcuda and resolves the entry points; false with `error` set when there is no
  /// driver.
  bool load(std::string &error);
  /// "what: the driver's message (code)".
  std::string message(const char *what, CUresult result) const;
};

/// The process's driver (loaded once).
const Driver *driver(std::string &error);

} // namespace qopt::rt::cuda

#endif // QOPT_LIB_RUNTIME_CUDA_CUDADRIVER_H
