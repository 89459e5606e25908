#!/usr/bin/env bash
# check_kv_model.sh OUTDIR FIXTURE_DIR NAME [qopt-compile flags...]
# Compiles a KV-cache fixture and scores its token sequence twice through a generation session:
# a prefill of 8 tokens then one token per step (the cache in use), and the whole sequence in one
# prefill (no past). Prints how the session kept the cache, then two comparisons:
#   steps-vs-full   the two, to 1e-5 x max|logits|
#   steps-vs-ort    the steps against ONNX Runtime's generation (fixture .logits.npy), to 1e-4;
#                   only without flags (quantized libraries differ from ORT's fp32 by design)
set -euo pipefail
out=$1 fixtures=$2 name=$3
shift 3
tag=$name${1:+.q}
qopt-compile "$fixtures/$name.onnx" "$@" -o "$out/$tag.so" > /dev/null
qopt-run "$out/$tag.so" --score-ids "$fixtures/$name.ids.npy" --prefill 8 --output "$out/$tag.steps.npy"
qopt-run "$out/$tag.so" --score-ids "$fixtures/$name.ids.npy" --output "$out/$tag.full.npy" 2> /dev/null
echo "steps-vs-full $(/usr/bin/python3 "$(dirname "$0")/../../../scripts/compare_npy.py" "$out/$tag.steps.npy" "$out/$tag.full.npy" --tol 1e-5)"
if [ $# -eq 0 ]; then
  echo "steps-vs-ort $(/usr/bin/python3 "$(dirname "$0")/../../../scripts/compare_npy.py" "$out/$tag.steps.npy" "$fixtures/$name.logits.npy" --tol 1e-4)"
fi
