//===- CudaImages.h - the GPU code a CUDA library embeds --------*- C++ -*-===//
//
// qopt-lower-gpu-kernels embeds `qopt_cuda_images`: "QOPTCUDA", the image count, then per image
// its architecture (90 for sm_90) and its size as little-endian 64-bit words, and its bytes (a
// fatbin). Header-only: the runtime and bench/gpu_matmul.cpp read it the same way.
//
#ifndef QOPT_LIB_RUNTIME_CUDA_CUDAIMAGES_H
#define QOPT_LIB_RUNTIME_CUDA_CUDAIMAGES_H

#include <cstdint>
#include <cstring>
#include <string>

namespace qopt::rt::cuda {

struct CudaImageChoice {
  bool wellFormed = false;
  uint64_t count = 0;
  /// The newest image for an architecture the GPU runs, or null.
  const char *image = nullptr;
  /// The architectures present, "sm_80, sm_90", for messages.
  std::string architectures;
};

/// Picks from `images` the image of the newest architecture not above `arch` (say 90).
inline CudaImageChoice chooseCudaImage(const char *images, int arch) {
  CudaImageChoice choice;
  if (std::memcmp(images, "QOPTCUDA", 8) != 0)
    return choice;
  choice.wellFormed = true;
  std::memcpy(&choice.count, images + 8, 8);
  const char *cursor = images + 16;
  uint64_t chosenArch = 0;
  for (uint64_t k = 0; k < choice.count; ++k) {
    uint64_t imageArch, size;
    std::memcpy(&imageArch, cursor, 8);
    std::memcpy(&size, cursor + 8, 8);
    choice.architectures += (choice.architectures.empty() ? "sm_" : ", sm_") +
                            std::to_string(imageArch);
    if (imageArch <= static_cast<uint64_t>(arch) && imageArch >= chosenArch) {
      choice.image = cursor + 16;
      chosenArch = imageArch;
    }
    cursor += 16 + size;
  }
  return choice;
}

} // namespace qopt::rt::cuda

#endif // QOPT_LIB_RUNTIME_CUDA_CUDAIMAGES_H
