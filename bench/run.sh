#!/usr/bin/env bash
# bench/run.sh - qopt fp32 (generated matmul and elementwise kernels, and with OpenBLAS for the
# linear layers: --generate-matmul=false), qopt 4-bit (--wbits=4 --quantize-embeddings) and the same with
# --int8-activations against ONNX Runtime fp32, all measured in the same run, on qlm_llama and a GPT-2-124M-shaped model (generated into
# bench/models, never committed), at sequence lengths 1 and 128 on 2 threads. Prints median
# latencies, the ratio qopt fp32 / ORT (below 1: qopt is faster) and the 4-bit libraries' speed-up
# over qopt fp32 and over ORT fp32 (above 1: the 4-bit library is faster).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/bin"
models="$root/bench/models"
threads=${QOPT_BENCH_THREADS:-2}
runs=${QOPT_BENCH_RUNS:-20}
mkdir -p "$models"
[ -f "$models/gpt2_124m.onnx" ] || /usr/bin/python3 "$root/bench/make_gpt2_124m.py" "$models/gpt2_124m.onnx"

median() { "$bin/qopt-run" "$1" --threads "$threads" --bench "$runs" --input "input_ids=$2" | awk '{print $4}'; }
printf '%-12s %4s %10s %12s %10s %10s %10s %9s %11s %10s %12s %11s\n' model seq "fp32 ms" \
  "BLAS ms" "ORT ms" "w4 ms" "w4i8 ms" fp32/ORT "w4 vs fp32" "w4 vs ORT" "w4i8 vs ORT" "w4 MB/fp32"
for model in "$root/../shared/models/qlm_llama.onnx" "$models/gpt2_124m.onnx"; do
  name=$(basename "$model" .onnx)
  "$bin/qopt-compile" "$model" -o "$models/$name.so"
  "$bin/qopt-compile" "$model" --generate-matmul=false -o "$models/$name.blas.so"
  "$bin/qopt-compile" "$model" --wbits=4 --quantize-embeddings -o "$models/$name.w4.so" > /dev/null
  "$bin/qopt-compile" "$model" --wbits=4 --quantize-embeddings --int8-activations \
    -o "$models/$name.w4i8.so" > /dev/null
  sizes=$(stat -c %s "$models/$name.w4.weights" "$models/$name.weights" | paste -sd/ | bc -l)
  for seq in 1 128; do
    ids="$models/ids_$seq.npy"
    /usr/bin/python3 -c "import numpy as n; n.save('$ids', (n.arange($seq, dtype=n.int64) * 37 + 11).reshape(1, $seq) % 96)"
    q=$(median "$models/$name.so" "$ids")
    u=$(median "$models/$name.blas.so" "$ids")
    o=$(node "$root/bench/ort_bench.js" "$model" "$seq" "$threads" "$runs" | awk '{print $3}')
    w=$(median "$models/$name.w4.so" "$ids")
    i=$(median "$models/$name.w4i8.so" "$ids")
    printf '%-12s %4s %10s %12s %10s %10s %10s %9.2f %10.2fx %9.2fx %11.2fx %11.3f\n' "$name" \
      "$seq" "$q" "$u" "$o" "$w" "$i" "$(echo "$q / $o" | bc -l)" "$(echo "$q / $w" | bc -l)" \
      "$(echo "$o / $w" | bc -l)" "$(echo "$o / $i" | bc -l)" "$sizes"
  done
done
