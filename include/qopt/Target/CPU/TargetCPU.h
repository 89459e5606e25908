//===- TargetCPU.h - the CPU a model is compiled for --------------*- C++ -*-===//
#ifndef QOPT_TARGET_CPU_TARGETCPU_H
#define QOPT_TARGET_CPU_TARGETCPU_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace qopt {

/// The CPU generated code is compiled for: its LLVM name and the width of the vector registers
/// the kernels are shaped for (512 with AVX-512, 256 with AVX2).
struct TargetCPU {
  std::string name;
  int64_t vectorBits = 256;
  /// AVX-512 with VNNI: the runtime's widest kernels (the library's qopt_isa 2), which read 4-bit
  /// codes in channel panels.
  bool avx512Vnni = false;

  /// f32 lanes per vector register.
  int64_t lanes() const { return vectorBits / 32; }
  /// Output columns per packed weight panel: two vector registers.
  int64_t panelWidth() const { return 2 * lanes(); }
};

/// The CPU named `name` (an LLVM CPU name such as haswell, skylake-avx512 or znver4), or the
/// machine's own for "native". Fails for a name LLVM does not know and for a CPU without AVX2 and
/// FMA, which the runtime and the kernels need.
llvm::Expected<TargetCPU> resolveTargetCPU(llvm::StringRef name);

} // namespace qopt

#endif // QOPT_TARGET_CPU_TARGETCPU_H
