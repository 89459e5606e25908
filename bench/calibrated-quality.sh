#!/usr/bin/env bash
# bench/calibrated-quality.sh - qlm_llama's byte perplexity on valid.txt (ctx 256) for each
# data-aware algorithm x weight scheme, calibrated on 128 windows of 256 bytes of train.txt at
# evenly spaced offsets (qopt-compile's defaults), plus static int8 activations. Prints a Markdown
# table with the compile time (calibration and quantization included) of each.
# shellcheck source=bench/qlm-setup.sh
source "$(dirname "$0")/qlm-setup.sh"
schemes=("w4g128|--wbits=4 --group-size=128" "w3g128|--wbits=3 --group-size=128"
         "w2g64|--wbits=2 --group-size=64")
algorithms=("rtn|" "gptq|--algorithm=gptq" "gptq act-order|--algorithm=gptq --act-order"
            "awq|--algorithm=awq" "awq+gptq|--algorithm=awq+gptq")
configs=()
for s in "${schemes[@]}"; do
  for a in "${algorithms[@]}"; do
    configs+=("${s%%|*} ${a%%|*}|${s#*|} ${a#*|}")
  done
done
configs+=(
  "w8 int8-dynamic|--wbits=8 --activations=int8-dynamic"
  "w8a8 static minmax|--wbits=8 --activations=int8-static"
  "w8a8 smoothquant minmax|--wbits=8 --activations=int8-static --algorithm=smoothquant"
  "w8a8 smoothquant percentile|--wbits=8 --activations=int8-static --algorithm=smoothquant --calibrator=percentile"
  "w8a8 smoothquant mse|--wbits=8 --activations=int8-static --algorithm=smoothquant --calibrator=mse"
  "w8a8 smoothquant entropy|--wbits=8 --activations=int8-static --algorithm=smoothquant --calibrator=entropy"
)
[ -n "${QOPT_QUALITY_ONLY:-}" ] && configs=("${configs[@]:0:$QOPT_QUALITY_ONLY}")
echo "| configuration | flags (+ --calibration=train.txt unless rtn) | bits/weight | compile s | ppl |"
echo "| --- | --- | --- | --- | --- |"
for entry in "${configs[@]}"; do
  name=${entry%%|*} flags=${entry#*|}
  data=""
  [[ "$flags" == *algorithm* || "$flags" == *int8-static* ]] && data="--calibration=$train"
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  summary=$("$bin/qopt-compile" "$model" $flags $data --quiet -o "$work/m.so")
  tenths=$(( ($(date +%s%N) - start) / 100000000 ))
  bpw=$(echo "$summary" | sed -n 's/.*quantized layers: \([0-9.]*\) bits.*/\1/p')
  ppl=$("$bin/qopt-run" "$work/m.so" --ppl "$text" --ctx 256 --threads "$threads" | awk '{print $2}')
  printf '| %s | `%s` | %s | %d.%d | %s |\n' "$name" "$flags" "$bpw" $((tenths / 10)) $((tenths % 10)) "$ppl"
done
