#!/usr/bin/env bash
# check_fake_quant.sh MODEL.onnx INPUT.npy WORKDIR QOPT-COMPILE-FLAGS...
# Compiles MODEL with the flags, builds the fake-quant reference model from the --report
# (fake_quant_reference.py), runs it with ONNX Runtime and the library with qopt-run on INPUT,
# and prints compare_npy.py's verdict at 1e-4 x max|reference|.
set -euo pipefail
model=$1 input=$2 dir=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
mkdir -p "$dir"
qopt-compile "$model" "$@" --report="$dir/report.json" -o "$dir/model.so" > "$dir/summary.txt"
/usr/bin/python3 "$here/fake_quant_reference.py" "$model" "$dir/report.json" "$dir/reference.onnx" > /dev/null
node "$src/test/oracle/run_ort.js" "$dir/reference.onnx" "$dir/reference.npy" "input_ids=$input"
qopt-run "$dir/model.so" --input "input_ids=$input" --output "$dir/out.npy"
/usr/bin/python3 "$src/scripts/compare_npy.py" "$dir/out.npy" "$dir/reference.npy" --tol 1e-4
