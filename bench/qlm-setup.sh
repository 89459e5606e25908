# bench/qlm-setup.sh - sourced by the qlm_llama quality benchmarks: the tools (QOPT_BIN, default
# build/bin), the shared model and texts, a scratch folder removed on exit, and the threads
# (QOPT_BENCH_THREADS, default 2).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="${QOPT_BIN:-$root/build/bin}"
model="$root/../shared/models/qlm_llama.onnx"
text="$root/../shared/data/valid.txt"
train="$root/../shared/data/train.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
threads=${QOPT_BENCH_THREADS:-2}
