#!/usr/bin/env bash
# bench/run.sh - qopt fp32 against ONNX Runtime fp32, measured in the same run, on qlm_llama and a
# GPT-2-124M-shaped model (generated into bench/models, never committed), at sequence lengths 1
# and 128 on 2 threads. Prints median latencies and the ratio qopt/ORT (below 1: qopt is faster).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/bin"
models="$root/bench/models"
threads=${QOPT_BENCH_THREADS:-2}
runs=${QOPT_BENCH_RUNS:-20}
mkdir -p "$models"
[ -f "$models/gpt2_124m.onnx" ] || /usr/bin/python3 "$root/bench/make_gpt2_124m.py" "$models/gpt2_124m.onnx"

printf '%-12s %5s %12s %12s %8s\n' model seq "qopt ms" "ORT ms" qopt/ORT
for model in "$root/../shared/models/qlm_llama.onnx" "$models/gpt2_124m.onnx"; do
  name=$(basename "$model" .onnx)
  "$bin/qopt-compile" "$model" -o "$models/$name.so"
  for seq in 1 128; do
    /usr/bin/python3 -c "import numpy as n; n.save('$models/ids_$seq.npy', (n.arange($seq, dtype=n.int64) * 37 + 11).reshape(1, $seq) % 96)"
    q=$("$bin/qopt-run" "$models/$name.so" --threads "$threads" --bench "$runs" --input "input_ids=$models/ids_$seq.npy" | awk '{print $4}')
    o=$(node "$root/bench/ort_bench.js" "$model" "$seq" "$threads" "$runs" | awk '{print $3}')
    printf '%-12s %5s %12s %12s %8.2f\n' "$name" "$seq" "$q" "$o" "$(echo "$q / $o" | bc -l)"
  done
done
