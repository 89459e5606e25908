#!/usr/bin/env bash
# setup.sh - installs qopt's build and test dependencies on Debian 12, idempotently.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

apt_pkgs=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev cmake ninja-build libopenblas-dev
  python3-onnx python3-numpy libonnx-testdata python3-torch
  chromium

)
# Node.js 20 with npm is usually present; take Debian's only where it is not.
command -v npm >/dev/null 2>&1 || apt_pkgs+=(nodejs npm)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime is the reference runtime of the tests; its CPU binaries ship inside the package.
if [ ! -d "$root/test/oracle/node_modules/onnxruntime-node" ]; then
  (cd "$root/test/oracle" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0)
fi
