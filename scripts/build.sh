#!/usr/bin/env bash
# build.sh - configures (once) and builds qopt into build/ with clang-22, lld and Ninja.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${QOPT_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22
fi
# The machines this runs on have 2 cores; more jobs only thrash memory.
ninja -C "$build" -j"${QOPT_JOBS:-2}"
