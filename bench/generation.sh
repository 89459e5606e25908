#!/usr/bin/env bash
# bench/generation.sh - generation speed with a KV cache: prefill tokens/s (prompts of 128 and 512
# tokens) and decode tokens/s (32 greedy steps after prompts of 128 and 992 tokens, so at contexts
# of 128-160 and 992-1024, within GPT-2's 1024 positions) of qopt against ONNX Runtime on the same KV-cache model, all measured in the same run
# on the same thread count:
#   qopt fp32, qopt 4-bit (--wbits=4 --group-size=128, the head quantized as well: `w4`), the same
#   with int8 activations (`w4i8`) and with bf16 ones (`w4bf16`, --activations=bf16), and 4-bit
#   with the head left fp32 (`w4 head32`);
#   ONNX Runtime fp32, and ONNX Runtime running qopt's own 4-bit weights as MatMulNBits
#   (`qopt-compile --emit=onnx`, block 128) at accuracy level 4 (int8 activations, its fastest)
#   and 0 (float activations).
# Models (random weights, generated into bench/models, never committed): the GPT-2-124M shape by
# default; QOPT_BENCH_MODELS="gpt2-124m llama-1.1b" adds TinyLlama's 1.1B shape (4.4 GB of
# weights). Ratios above 1 mean qopt is faster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/bin"
models="$root/bench/models"
threads=${QOPT_BENCH_THREADS:-2}
repeats=${QOPT_BENCH_RUNS:-3}
mkdir -p "$models"

qopt_rates() { # LIB PROMPT NEW -> "prefill_tok_s decode_tok_s"
  "$bin/qopt-run" "$1" --threads "$threads" --bench "$repeats" --generate-ids "$models/prompt_$2.npy" \
    -n "$3" --output "$models/generated.npy" 2>&1 |
    awk '/^prefill:/ {p = $(NF - 1)} /^decode:/ {d = $(NF - 1)} END {print p, d}'
}
ort_rates() { # MODEL PROMPT NEW
  node "$root/bench/ort_generate.js" "$1" "$2" "$3" "$threads" "$repeats" | awk '{print $3, $5}'
}

for shape in ${QOPT_BENCH_MODELS:-gpt2-124m}; do
  model="$models/$shape.onnx"
  [ -f "$model" ] || /usr/bin/python3 "$root/bench/make_decoder.py" "$shape" "$model"
  for n in 128 512 992; do
    /usr/bin/python3 -c "import numpy as n; n.save('$models/prompt_$n.npy', ((n.arange($n, dtype=n.int64) * 37 + 11) % 96).reshape(1, $n))"
  done
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$models/$shape.compile-rss" \
    "$bin/qopt-compile" "$model" --wbits=4 --group-size=128 --quantize-embeddings -o "$models/$shape.w4.so" > /dev/null
  seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
  printf '%s: 4-bit compile %.1f s, peak memory %.2f GB (fp32 weights %.2f GB)\n' "$shape" "$seconds" \
    "$(echo "$(cat "$models/$shape.compile-rss") / 1048576" | bc -l)" \
    "$(echo "$(du -bc "$model"* | tail -1 | cut -f1) / 1073741824" | bc -l)"
  "$bin/qopt-compile" "$model" -o "$models/$shape.so"
  "$bin/qopt-compile" "$model" --wbits=4 --group-size=128 --quantize-embeddings --int8-activations \
    -o "$models/$shape.w4i8.so" > /dev/null
  "$bin/qopt-compile" "$model" --wbits=4 --group-size=128 --quantize-embeddings --activations=bf16 \
    -o "$models/$shape.w4bf16.so" > /dev/null
  "$bin/qopt-compile" "$model" --wbits=4 --group-size=128 -o "$models/$shape.w4h.so" > /dev/null
  for level in 4 0; do
    "$bin/qopt-compile" "$model" --wbits=4 --group-size=128 --emit=onnx --onnx-accuracy-level=$level \
      -o "$models/$shape.mnb4_acc$level.onnx" > /dev/null
  done

  printf '\n%-10s %-14s %12s %12s %12s %12s %12s %12s %12s %12s\n' "$shape" measure "ORT fp32" \
    "ORT int4 a4" "ORT int4 a0" "qopt fp32" "qopt w4" "qopt w4i8" "qopt w4bf16" "w4 head32"
  for run in "prefill 128 1" "prefill 512 1" "decode 128 32" "decode 992 32"; do
    set -- $run
    kind=$1 prompt=$2 fresh=$3
    col=$([ "$kind" = prefill ] && echo 1 || echo 2)
    row=()
    for m in "$model" "$models/$shape.mnb4_acc4.onnx" "$models/$shape.mnb4_acc0.onnx"; do
      row+=("$(ort_rates "$m" "$prompt" "$fresh" | cut -d' ' -f$col)")
    done
    for lib in "$shape.so" "$shape.w4.so" "$shape.w4i8.so" "$shape.w4bf16.so" "$shape.w4h.so"; do
      row+=("$(qopt_rates "$models/$lib" "$prompt" "$((fresh + 1))" | cut -d' ' -f$col)")
    done
    printf '%-10s %-14s %12s %12s %12s %12s %12s %12s %12s %12s\n' "" "$kind@$prompt tok/s" "${row[@]}"
    printf '%-10s %-14s %12s %12s %12s %12.2f %12.2f %12.2f %12.2f %12.2f\n' "" "  vs ORT int4 a4" "" "" "" \
      "$(echo "${row[3]} / ${row[1]}" | bc -l)" "$(echo "${row[4]} / ${row[1]}" | bc -l)" \
      "$(echo "${row[5]} / ${row[1]}" | bc -l)" "$(echo "${row[6]} / ${row[1]}" | bc -l)" \
      "$(echo "${row[7]} / ${row[1]}" | bc -l)"
  done
done
