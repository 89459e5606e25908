#!/usr/bin/env bash
# bench/quality.sh - qlm_llama's byte perplexity on valid.txt (ctx 256) for each weight scheme of
# docs/quantization.md, compiled by qopt and run by qopt-run. Prints a Markdown table.
# shellcheck source=bench/qlm-setup.sh
source "$(dirname "$0")/qlm-setup.sh"
configs=(
  "fp32|"
  "w8g128|--wbits=8 --group-size=128"
  "w4g128|--wbits=4 --group-size=128"
  "w4g32|--wbits=4 --group-size=32"
  "w3g128|--wbits=3 --group-size=128"
  "w2g64|--wbits=2 --group-size=64"
  "asym w4g128|--wbits=4 --group-size=128 --asym"
  "nf4 g64|--wtype=nf4 --group-size=64"
  "nf4 g64 + double-quant|--wtype=nf4 --group-size=64 --double-quant"
  "fp4 g32|--wtype=fp4 --group-size=32"
  "fp8 channel|--wtype=fp8 --group-size=channel"
)
echo "| scheme | flags | bits/weight | model MB | ppl |"
echo "| --- | --- | --- | --- | --- |"
for entry in "${configs[@]}"; do
  name=${entry%%|*} flags=${entry#*|}
  # shellcheck disable=SC2086
  summary=$("$bin/qopt-compile" "$model" $flags -o "$work/m.so")
  bpw=$(echo "$summary" | sed -n 's/.*quantized layers: \([0-9.]*\) bits.*/\1/p')
  mb=$(du -m --apparent-size "$work/m.weights" | cut -f1)
  ppl=$("$bin/qopt-run" "$work/m.so" --ppl "$text" --ctx 256 --threads "$threads" | awk '{print $2}')
  echo "| $name | \`${flags:-(none)}\` | ${bpw:-32} | $mb | $ppl |"
done
