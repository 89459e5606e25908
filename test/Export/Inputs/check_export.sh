#!/usr/bin/env bash
# check_export.sh MODEL.onnx INPUT.npy WORKDIR qat|qat-f32|onnx QOPT-COMPILE-FLAGS...
# Exports MODEL quantized with the flags (--emit=qat-onnx or --emit=onnx) and checks that ONNX
# Runtime's outputs on the export equal qopt's own library compiled with the same flags
# (1e-5 x max|reference|):
# - qat: ONNX Runtime runs the QuantizeLinear → DequantizeLinear graph as written (no fusion);
#   then the export compiled back by qopt is compared with ONNX Runtime's default session, which
#   runs blocked 4-bit weights with int8 activations as qopt does; with qat-f32 (other widths,
#   which ONNX Runtime holds in 8-bit types and runs with int8 activations its own way) with f32
#   arithmetic for DequantizeLinear → MatMul;
# - onnx: ONNX Runtime's default session, with f32 arithmetic for the DequantizeLinear → MatMul
#   groups it would otherwise turn into int8 ones (MatMulNBits carries its own accuracy level).
set -euo pipefail
model=$1 input=$2 dir=$3 kind=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
ort="node $src/test/oracle/run_ort.js"
compare="/usr/bin/python3 $src/scripts/compare_npy.py"
mkdir -p "$dir"
qopt-compile "$model" "$@" -o "$dir/model.so" > /dev/null
qopt-run "$dir/model.so" --input "input_ids=$input" --output "$dir/qopt.npy"
if [ "$kind" != onnx ]; then
  qopt-compile "$model" "$@" --emit=qat-onnx -o "$dir/export.onnx" > /dev/null
  $ort --no-optimize "$dir/export.onnx" "$dir/ort.npy" "input_ids=$input"
  echo "qat-onnx: $($compare "$dir/qopt.npy" "$dir/ort.npy" --tol 1e-5)"
  # The way back: the export compiled by qopt against ONNX Runtime's default session on it.
  qopt-compile "$dir/export.onnx" -o "$dir/back.so" > /dev/null
  qopt-run "$dir/back.so" --input "input_ids=$input" --output "$dir/back.npy"
  config=()
  [ "$kind" = qat-f32 ] && config=(--config session.qdq_matmulnbits_accuracy_level=0)
  $ort "${config[@]}" "$dir/export.onnx" "$dir/ort-default.npy" "input_ids=$input"
  echo "compiled back: $($compare "$dir/back.npy" "$dir/ort-default.npy" --tol 1e-5)"
else
  qopt-compile "$model" "$@" --emit=onnx -o "$dir/export.onnx" > /dev/null
  $ort --config session.qdq_matmulnbits_accuracy_level=0 "$dir/export.onnx" "$dir/ort.npy" \
    "input_ids=$input"
  echo "onnx: $($compare "$dir/qopt.npy" "$dir/ort.npy" --tol 1e-5)"
fi
