#!/usr/bin/env bash
# bench/mixed-precision.sh - mixed precision under a budget on qlm_llama: byte perplexity on
# valid.txt (ctx 256) of each budget against the uniform scheme it competes with, calibrated on
# train.txt (qopt-compile's defaults), and --target-latency's measured decode time against its
# target. Prints two Markdown tables; QOPT_MIXED_QUALITY_ONLY=1 skips the latency one,
# QOPT_MIXED_LATENCY_ONLY=1 the quality one.
# shellcheck source=bench/qlm-setup.sh
source "$(dirname "$0")/qlm-setup.sh"

compile() { # name flags... -> prints "bits/weight weights-bytes compile-seconds"
  local name=$1; shift
  local start; start=$(date +%s)
  "$bin/qopt-compile" "$model" "$@" --calibration="$train" --quiet -o "$work/$name.so" > "$work/$name.txt"
  local bpw; bpw=$(sed -n 's/.*quantized layers: \([0-9.]*\) bits.*/\1/p' "$work/$name.txt")
  echo "$bpw $(stat -c %s "$work/$name.weights") $(( $(date +%s) - start ))"
}
ppl() { "$bin/qopt-run" "$work/$1.so" --ppl "$text" --ctx 256 --threads "$threads" | awk '{print $2}'; }

# Uniform w4g128's weights file is the size budget of the third comparison.
read -r _ w4bytes _ < <(compile size_ref --wbits=4 --group-size=128)
configs=(
  "uniform w3g128 gptq|--algorithm=gptq --wbits=3"
  "mixed 3.125 bits gptq (auto: measured)|--algorithm=gptq --target-bits=3.125"
  "mixed 3.125 bits gptq, hybrid|--algorithm=gptq --target-bits=3.125 --sensitivity=hybrid"
  "mixed 3.125 bits gptq, hessian|--algorithm=gptq --target-bits=3.125 --sensitivity=hessian"
  "uniform w4g128 rtn|--wbits=4"
  "mixed 3.5 bits gptq|--algorithm=gptq --target-bits=3.5"
  "mixed 3.5 bits gptq act-order|--algorithm=gptq --act-order --target-bits=3.5"
  "mixed 3.5 bits gptq act-order, g32 too|--algorithm=gptq --act-order --target-bits=3.5 --candidates=default,int3g32,int4g32"
  "mixed w4g128's size rtn|--target-size=$w4bytes"
  "mixed w4g128's size rtn, hybrid|--target-size=$w4bytes --sensitivity=hybrid"
  "uniform w4g128 gptq|--algorithm=gptq --wbits=4"
  "mixed w4g128's size gptq|--algorithm=gptq --target-size=$w4bytes"
  "uniform w4g128 gptq act-order|--algorithm=gptq --act-order --wbits=4"
  "mixed w4g128's size gptq act-order|--algorithm=gptq --act-order --target-size=$w4bytes"
)
[ -n "${QOPT_MIXED_LATENCY_ONLY:-}" ] && configs=()
[ ${#configs[@]} -gt 0 ] && echo "| configuration | flags (+ --calibration=train.txt) | bits/weight | weights bytes | compile s | ppl |"
[ ${#configs[@]} -gt 0 ] && echo "| --- | --- | --- | --- | --- | --- |"
i=0
for entry in "${configs[@]}"; do
  name=${entry%%|*} flags=${entry#*|}
  i=$((i + 1))
  # shellcheck disable=SC2086
  read -r bpw bytes secs < <(compile "c$i" $flags)
  printf '| %s | `%s` | %s | %s | %s | %s |\n' "$name" "$flags" "$bpw" "$bytes" "$secs" "$(ppl "c$i")"
done
[ -n "${QOPT_MIXED_QUALITY_ONLY:-}" ] && exit 0

# Latency: the uniform 4-bit model's one-token time, then budgets above it; each compiled model is
# timed by qopt-compile itself (median of repeated one-token runs) and by qopt-run --bench.
echo
echo "| --target-latency ms | plan's estimate ms | measured by qopt-compile ms | qopt-run --bench median ms | plan |"
echo "| --- | --- | --- | --- | --- |"
/usr/bin/python3 -c "import numpy as np; np.save('$work/tok.npy', np.array([[65]], dtype=np.int64))"
base=$("$bin/qopt-run" "$work/size_ref.so" --input input_ids="$work/tok.npy" --bench 300 --threads "$threads" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
for factor in 1.1 1.5 3; do
  target=$(/usr/bin/python3 -c "print(round($base * $factor, 3))")
  "$bin/qopt-compile" "$model" --target-latency="$target" --latency-threads="$threads" --sensitivity=hybrid \
    --calibration="$train" --quiet --report="$work/lat.json" -o "$work/lat.so" > "$work/lat.txt"
  estimate=$(sed -n 's/.*, \([0-9.]*\) ms per token$/\1/p' "$work/lat.txt" | head -1)
  measured=$(sed -n 's/^latency: the compiled model takes \([0-9.]*\) ms.*/\1/p' "$work/lat.txt")
  bench=$("$bin/qopt-run" "$work/lat.so" --input input_ids="$work/tok.npy" --bench 300 --threads "$threads" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
  plan=$(grep '^plan: [0-9]* x' "$work/lat.txt" | sed 's/^plan: //')
  echo "| $target ($factor x uniform int4g128 $base) | $estimate | $measured | $bench | $plan |"
done
