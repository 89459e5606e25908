//===- gpu_matmul.cpp - times qopt's 4- and 8-bit GPU matmul kernels ------===//
//
// gpu_matmul MODEL.so K N M... : loads the GPU kernels a CUDA library embeds (any library with
// symmetric f16-scale layers of the bits QOPT_BENCH_BITS gives, 4 by default: the kernels take
// the shape as parameters), runs the matmul
// of M rows by a random K x N weight in groups of 128 as the runtime launches it, checks eight
// outputs against a host computation (the error relative to the sum of the products' magnitudes:
// f16 arithmetic with f32 sums, or f32 with QOPT_GPU_HALF=0), and prints
// `qopt K N M MICROSECONDS MAX_REL_ERROR KERNEL_SUFFIX`, the time being the mean of 200
// launches timed with CUDA events after 20 warm-ups. Links no CUDA
// library: the driver is opened with dlopen, as the runtime does.
//
#include "../include/qopt/Runtime/CudaQuantMatMul.h"
#include "../lib/Runtime/Cuda/CudaImages.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <random>
#include <string>
#include <vector>

namespace {
using CUresult = int;
using Ptr = unsigned long long;
void *driver;
template <typename Fn> Fn fn(const char *name) {
  void *p = dlsym(driver, name);
  if (!p) {
    std::fprintf(stderr, "gpu_matmul: the driver lacks %s\n", name);
    std::exit(1);
  }
  return reinterpret_cast<Fn>(p);
}
void check(CUresult r, const char *what) {
  if (r != 0) {
    std::fprintf(stderr, "gpu_matmul: %s failed (CUDA error %d)\n", what, r);
    std::exit(1);
  }
}
float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits = exp ? sign | ((exp + 112) << 23) | (mant << 13) : sign; // no subnormals used
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: gpu_matmul MODEL.so K N M...\n");
    return 1;
  }
  driver = dlopen("libcuda.so.1", RTLD_NOW);
  if (!driver) {
    std::fprintf(stderr, "gpu_matmul: no CUDA driver: %s\n", dlerror());
    return 1;
  }
  void *model = dlopen(argv[1], RTLD_LAZY);
  if (!model) {
    std::fprintf(stderr, "gpu_matmul: %s\n", dlerror());
    return 1;
  }
  auto images = static_cast<const char *>(dlsym(model, "qopt_cuda_images"));
  if (!images || !qopt::rt::cuda::chooseCudaImage(images, 0).wellFormed) {
    std::fprintf(stderr, "gpu_matmul: %s is not a CUDA library\n", argv[1]);
    return 1;
  }
  long k = std::atol(argv[2]), n = std::atol(argv[3]);
  const long group = 128;

  check(fn<CUresult (*)(unsigned)>("cuInit")(0), "cuInit");
  int device = 0, major = 0, minor = 0, multiprocessors = 1;
  check(fn<CUresult (*)(int *, int)>("cuDeviceGet")(&device, 0), "cuDeviceGet");
  auto attribute = fn<CUresult (*)(int *, int, int)>("cuDeviceGetAttribute");
  attribute(&major, 75, device);
  attribute(&minor, 76, device);
  attribute(&multiprocessors, 16, device);
  void *ctx = nullptr;
  check(fn<CUresult (*)(void **, int)>("cuDevicePrimaryCtxRetain")(&ctx, device), "context");
  check(fn<CUresult (*)(void *)>("cuCtxSetCurrent")(ctx), "cuCtxSetCurrent");
  const char *image = qopt::rt::cuda::chooseCudaImage(images, major * 10 + minor).image;
  if (!image) {
    std::fprintf(stderr, "gpu_matmul: %s has no GPU code for this GPU\n", argv[1]);
    return 1;
  }
  void *module = nullptr;
  check(fn<CUresult (*)(void **, const void *)>("cuModuleLoadData")(&module, image), "module");
  auto getFunction = fn<CUresult (*)(void **, void *, const char *)>("cuModuleGetFunction");

  auto alloc = fn<CUresult (*)(Ptr *, size_t)>("cuMemAlloc_v2");
  auto upload = fn<CUresult (*)(Ptr, const void *, size_t)>("cuMemcpyHtoD_v2");
  auto download = fn<CUresult (*)(void *, Ptr, size_t)>("cuMemcpyDtoH_v2");
  auto launch = fn<CUresult (*)(void *, unsigned, unsigned, unsigned, unsigned, unsigned,
                                unsigned, unsigned, void *, void **, void **)>("cuLaunchKernel");
  auto memset32 = fn<CUresult (*)(Ptr, unsigned, size_t, void *)>("cuMemsetD32Async");
  auto eventCreate = fn<CUresult (*)(void **, unsigned)>("cuEventCreate");
  auto eventRecord = fn<CUresult (*)(void *, void *)>("cuEventRecord");
  auto eventSync = fn<CUresult (*)(void *)>("cuEventSynchronize");
  auto elapsed = fn<CUresult (*)(float *, void *, void *)>("cuEventElapsedTime");

  std::mt19937 rng(0);
  const char *bitsEnv = std::getenv("QOPT_BENCH_BITS");
  const long bits = bitsEnv && std::strcmp(bitsEnv, "8") == 0 ? 8 : 4;
  std::vector<uint8_t> codes(n * k * bits / 8);
  for (auto &c : codes)
    c = static_cast<uint8_t>(rng());
  std::vector<uint16_t> scales(n * (k / group));
  for (auto &s : scales)
    s = static_cast<uint16_t>(0x2000 + rng() % 0x400); // about 0.008 to 0.016
  Ptr dCodes, dScales;
  check(alloc(&dCodes, codes.size()), "alloc");
  check(alloc(&dScales, scales.size() * 2), "alloc");
  check(upload(dCodes, codes.data(), codes.size()), "upload");
  check(upload(dScales, scales.data(), scales.size() * 2), "upload");
  void *start, *stop;
  eventCreate(&start, 0);
  eventCreate(&stop, 0);

  // QOPT_GPU_HALF=0 keeps the f32 kernels, as it does for the runtime.
  const char *halfEnv = std::getenv("QOPT_GPU_HALF");
  bool half = !(halfEnv && std::strcmp(halfEnv, "0") == 0);
  for (int a = 4; a < argc; ++a) {
    long m = std::atol(argv[a]);
    std::vector<float> x(m * k), y(m * n);
    std::normal_distribution<float> normal;
    for (auto &v : x)
      v = normal(rng);
    Ptr dX, dY;
    check(alloc(&dX, x.size() * 4), "alloc");
    check(alloc(&dY, y.size() * 4), "alloc");
    check(upload(dX, x.data(), x.size() * 4), "upload");
    uint64_t args[9] = {dX, dCodes, dScales, 0, dY, static_cast<uint64_t>(m),
                        static_cast<uint64_t>(n), static_cast<uint64_t>(k),
                        static_cast<uint64_t>(group)};
    void *params[9];
    for (int i = 0; i < 9; ++i)
      params[i] = &args[i];
    // As the runtime launches it.
    qopt::cuda::QuantLaunch l =
        qopt::cuda::quantLaunch(bits, m, n, k, group, half, multiprocessors);
    void *kernel = nullptr;
    std::string name = "qopt_gpu_q" + std::to_string(bits) + "_f16_sym" + l.suffix;
    check(getFunction(&kernel, module, name.c_str()), name.c_str());
    auto run = [&] {
      if (l.accumulate)
        check(memset32(dY, 0, static_cast<size_t>(m * n), nullptr), "memset");
      check(launch(kernel, l.grid[0], l.grid[1], l.grid[2], l.block, 1, 1, 0, nullptr, params,
                   nullptr),
            "launch");
    };
    for (int i = 0; i < 20; ++i)
      run();
    const int iters = 200;
    eventRecord(start, nullptr);
    for (int i = 0; i < iters; ++i)
      run();
    eventRecord(stop, nullptr);
    eventSync(stop);
    float ms = 0;
    elapsed(&ms, start, stop);
    check(download(y.data(), dY, y.size() * 4), "download");
    double worst = 0;
    for (int t = 0; t < 8; ++t) {
      long row = rng() % m, col = rng() % n;
      double ref = 0, mag = 0;
      for (long i = 0; i < k; ++i) {
        int code = bits == 8 ? codes[col * k + i] : (codes[col * k / 2 + i / 2] >> (4 * (i % 2))) & 15;
        double w = (code - (bits == 8 ? 128 : 8)) * halfToFloat(scales[col * (k / group) + i / group]);
        ref += w * x[row * k + i];
        mag += std::fabs(w * x[row * k + i]);
      }
      worst = std::max(worst, std::fabs(y[row * n + col] - ref) / std::max(mag, 1e-30));
    }
    std::printf("qopt %ld %ld %ld %.3f %.2e %s\n", k, n, m, 1000.0 * ms / iters, worst, l.suffix);
    std::fflush(stdout);
  }
  return 0;
}
