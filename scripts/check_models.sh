#!/usr/bin/env bash
# check_models.sh DIR [BIN] - compiles every DIR/NAME.onnx that has NAME.in.npy and NAME.out.npy
# beside it (as export_families.py writes them; NAME.attention_mask.npy too where the model takes
# a mask), runs it on the input and compares with the saved
# ONNX Runtime output. Prints one line per model and a final `N ok, N failed`.
# Relative tolerance 1e-4 for f32 models, 5e-3 for quantized and half-precision ones (a dot in the
# model's stem: NAME.qop8, NAME.f16, ...).
set -u
dir=$1
# qopt-compile and qopt-run from BIN, else from PATH, else from the default build folder.
bin=${2:-$(dirname "$(command -v qopt-compile || echo "$(dirname "$0")/../build/bin/qopt-compile")")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ok=0; failed=0
for model in "$dir"/*.onnx; do
  name=$(basename "$model" .onnx)
  [ -f "$dir/$name.in.npy" ] && [ -f "$dir/$name.out.npy" ] || continue
  tol=1e-4; case $name in *.*) tol=5e-3;; esac
  if ! "$bin/qopt-compile" "$model" -o "$work/$name.so" >"$work/log" 2>&1; then
    echo "$name: compile FAILED: $(grep -m1 error "$work/log")"; failed=$((failed + 1)); continue
  fi
  extra=()
  [ -f "$dir/$name.attention_mask.npy" ] && extra=(--input "attention_mask=$dir/$name.attention_mask.npy")
  if ! "$bin/qopt-run" "$work/$name.so" --input "input_ids=$dir/$name.in.npy" "${extra[@]}" \
      --output "$work/$name.npy" >"$work/log" 2>&1; then
    echo "$name: run FAILED: $(head -c 300 "$work/log")"; failed=$((failed + 1)); continue
  fi
  if result=$(/usr/bin/python3 "$(dirname "$0")/compare_npy.py" "$work/$name.npy" "$dir/$name.out.npy" --tol $tol 2>&1); then
    echo "$name: $result"; ok=$((ok + 1))
  else
    echo "$name: MISMATCH $result"; failed=$((failed + 1))
  fi
  rm -f "$work/$name".*
done
echo "$ok ok, $failed failed"
