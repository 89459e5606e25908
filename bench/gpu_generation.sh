#!/usr/bin/env bash
# bench/gpu_generation.sh - generation speed on an NVIDIA GPU: qopt at 4 bits (--target=cuda)
# against PyTorch fp16 (transformers, eager, the same shapes with a KV cache), both measured on the
# same GPU in the same run.
#
#   bench/gpu_generation.sh prepare OUT   here, with qopt built: writes the GPT-2-124M and 1.1B
#                                         Llama shapes (bench/make_decoder.py) with tiled weights,
#                                         compiles each with --wbits=4 --group-size=128
#                                         --target=cuda, and gzips the weights files
#   bench/gpu_generation.sh run OUT       on the GPU machine (PyTorch and transformers installed)
#
# Tiled weights (QOPT_TILED_WEIGHTS=1: every weight repeats one random 16 x 16 block) make the
# weights files compress about a thousandfold, so OUT can be carried to a machine that has no
# qopt build; a GPU's time does not depend on the values. Prints, per shape, prefill tokens/s of a
# 128-token prompt and decode tokens/s of the 32 greedy steps after it, for qopt and PyTorch.
set -euo pipefail
mode=${1:?usage: gpu_generation.sh prepare|run OUT}
out=${2:?usage: gpu_generation.sh prepare|run OUT}
root=$(cd "$(dirname "$0")/.." && pwd)
shapes=${QOPT_BENCH_MODELS:-gpt2-124m llama-1.1b}

prepare() {
  mkdir -p "$out/bin" "$out/lib"
  bash "$root/scripts/copy_runtime.sh" "$root/build/bin" "$out/bin"
  /usr/bin/python3 -c "import numpy as n; n.save('$out/lib/prompt_128.npy', ((n.arange(128, dtype=n.int64) * 37 + 11) % 96).reshape(1, 128))"
  local work
  work=$(mktemp -d)
  for shape in $shapes; do
    QOPT_TILED_WEIGHTS=1 /usr/bin/python3 "$root/bench/make_decoder.py" "$shape" "$work/$shape.onnx"
    "$root/build/bin/qopt-compile" "$work/$shape.onnx" --wbits=4 --group-size=128 --target=cuda \
      -o "$out/lib/$shape.w4.cuda.so" > /dev/null
    gzip -f "$out/lib/$shape.w4.cuda.weights"
    rm -f "$work/$shape.onnx"*
  done
  rm -rf "$work"
  du -sh "$out"
}

run() {
  export LD_LIBRARY_PATH="$out/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "| shape | qopt w4 prefill tok/s | qopt w4 decode tok/s | PyTorch fp16 prefill tok/s | PyTorch fp16 decode tok/s | decode ratio |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for shape in $shapes; do
    [ -f "$out/lib/$shape.w4.cuda.weights" ] || gunzip -k "$out/lib/$shape.w4.cuda.weights.gz"
    read -r qp qd < <("$out/bin/qopt-run" "$out/lib/$shape.w4.cuda.so" --device cuda:0 --bench 3 \
      --generate-ids "$out/lib/prompt_128.npy" -n 33 --output "$out/lib/generated.npy" 2>&1 |
      awk '/^prefill:/ {p = $(NF - 1)} /^decode:/ {d = $(NF - 1)} END {print p, d}')
    read -r tp td < <(python3 "$root/bench/torch_generate.py" "$shape" 128 32)
    echo "| $shape | $qp | $qd | $tp | $td | $(python3 -c "print(f'{$qd / $td:.2f}x')") |"
  done
}

case $mode in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: gpu_generation.sh prepare|run OUT" >&2; exit 2 ;;
esac
