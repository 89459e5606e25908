//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//
#include "CudaDriver.h"

#include <dlfcn.h>
#include <mutex>

using namespace qopt::rt::cuda;

namespace {
template <typename Fn> bool resolve(void *lib, const char *name, Fn &fn, std::string &error) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn)
    error = std::string("the CUDA driver lacks ") + name + " (too old a driver?)";
  return fn != nullptr;
}
} // namespace

bool Driver::load(std::string &error) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    error = "no CUDA driver on this machine (" + std::string(dlerror()) + ")";
    return false;
  }
  // The _v2 names are the 64-bit-size entry points every driver since CUDA 4 exports.
  return resolve(lib, "cuInit", init, error) &&
         resolve(lib, "cuDeviceGetCount", deviceGetCount, error) &&
         resolve(lib, "cuDeviceGet", deviceGet, error) &&
         resolve(lib, "cuDeviceGetAttribute", deviceGetAttribute, error) &&
         resolve(lib, "cuDeviceGetName", deviceGetName, error) &&
         resolve(lib, "cuDevicePrimaryCtxRetain", primaryCtxRetain, error) &&
         resolve(lib, "cuDevicePrimaryCtxRelease_v2", primaryCtxRelease, error) &&
         resolve(lib, "cuCtxSetCurrent", ctxSetCurrent, error) &&
         resolve(lib, "cuCtxSynchronize", ctxSynchronize, error) &&
         resolve(lib, "cuModuleLoadData", moduleLoadData, error) &&
         resolve(lib, "cuModuleUnload", moduleUnload, error) &&
         resolve(lib, "cuModuleGetFunction", moduleGetFunction, error) &&
         resolve(lib, "cuLaunchKernel", launchKernel, error) &&
         resolve(lib, "cuMemAlloc_v2", memAlloc, error) &&
         resolve(lib, "cuMemFree_v2", memFree, error) &&
         resolve(lib, "cuMemcpyHtoD_v2", memcpyHtoD, error) &&
         resolve(lib, "cuMemcpyHtoDAsync_v2", memcpyHtoDAsync, error) &&
         resolve(lib, "cuMemcpyDtoH_v2", memcpyDtoH, error) &&
         resolve(lib, "cuMemsetD32Async", memsetD32Async, error) &&
         resolve(lib, "cuGetErrorString", getErrorString, error);
}

std::string Driver::message(const char *what, CUresult result) const {
  const char *text = nullptr;
  if (!getErrorString || getErrorString(result, &text) != 0 || !text)
    text = "unknown error";
  return std::string(what) + ": " + text + " (CUDA error " + std::to_string(result) + ")";
}

const Driver *qopt::rt::cuda::driver(std::string &error) {
  static Driver instance;
  static std::string loadError;
  static bool loaded = false;
  static std::once_flag once;
  std::call_once(once, [] {
    loaded = instance.load(loadError);
    if (loaded) {
      CUresult r = instance.init(0);
      if (r != 0) {
        loadError = instance.message("the CUDA driver failed to start", r);
        loaded = false;
      }
    }
  });
  if (!loaded)
    error = loadError;
  return loaded ? &instance : nullptr;
}
