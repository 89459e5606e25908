#!/usr/bin/env bash
# check_gpu.sh - checks CUDA libraries against CPU ones on a machine with an NVIDIA GPU.
#
#   scripts/check_gpu.sh prepare OUT [BIN]   compile and run the CPU side (needs qopt's build)
#   scripts/check_gpu.sh run OUT             run the CUDA side and compare (needs a GPU)
#   scripts/check_gpu.sh all OUT [BIN]       both, on one machine that has both
#
# `prepare` compiles every exported fixture (test/fixtures/models) in fp32 and at --wbits=4, and
# the shared qlm_llama at --wbits=4, once for the CPU and once with --target=cuda, both with
# --cpu=haswell so that OUT runs on any x86-64 machine with AVX2. It runs the CPU libraries,
# saving their outputs and qlm_llama's perplexity, and copies qopt-run and the OpenBLAS it loads
# into OUT. `run` then runs each CUDA library on cuda:0 and compares: every output within 1e-5
# of the CPU's (relative to its largest value: both compute in f32). The 4-bit ones, whose
# matmuls compute in f16 on the GPU, are compared twice on their input and on a 1-token input:
# with QOPT_GPU_HALF=0 (the f32 kernels) within 1e-5, and as they run by default within 2e-3 (the
# tolerance of f16 arithmetic); and on a 24-token input within 2e-3 (the fixtures' layers are too
# narrow for tensor cores, K < 64, so they take the 4-row kernel). Then qlm_llama's
# perplexity (256-token windows: the tensor-core matmul) within 0.1%. Decoders with a KV cache
# score tokens in a generation session (a prefill, then one token a step, the cache and attention
# on the GPU), every step's logits compared with the CPU's session: the exported KV fixtures
# (test/fixtures/kv, eight exports of four families) in fp32 within 1e-5, and
# bench/make_decoder.py's llama-tiny (grouped-query) and gpt2-tiny on 40 tokens after a 24-token
# prefill, in fp32 within 1e-5 and at 4 bits within 2e-3. It prints one line per check and a
# final `N passed, N failed`.
set -u
mode=${1:?usage: check_gpu.sh prepare|run|all OUT [BIN]}
out=${2:?usage: check_gpu.sh prepare|run|all OUT [BIN]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${3:-$root/build/bin}
fixtures=$root/test/fixtures/models
shared=$root/../shared
ppl_ctx=256

prepare() {
  mkdir -p "$out/lib" "$out/ref" "$out/bin"
  cp "$here/compare_npy.py" "$out/bin/"
  for model in "$fixtures"/*.onnx; do
    name=$(basename "$model" .onnx)
    [ -f "$fixtures/$name.in.npy" ] || continue
    cp "$fixtures/$name.in.npy" "$out/ref/$name.in.npy"
    for len in 24:long 1:one; do
      /usr/bin/python3 -c "import numpy as np, sys; ids = np.load(sys.argv[1]); np.save(sys.argv[2], np.resize(ids.ravel(), (1, int(sys.argv[3]))).astype(ids.dtype))" \
        "$fixtures/$name.in.npy" "$out/ref/$name.${len#*:}.in.npy" "${len%%:*}"
    done
    for variant in f32 w4; do
      flags=(); [ $variant = w4 ] && flags=(--wbits=4 --group-size=32)
      for target in cpu cuda; do
        "$bin/qopt-compile" "$model" "${flags[@]}" --cpu=haswell --target=$target \
          -o "$out/lib/$name.$variant.$target.so" >/dev/null 2>"$out/lib/$name.$variant.$target.log" ||
          echo "$name.$variant.$target: compile FAILED: $(grep -m1 error "$out/lib/$name.$variant.$target.log")"
      done
      "$bin/qopt-run" "$out/lib/$name.$variant.cpu.so" --input "input_ids=$fixtures/$name.in.npy" \
        --output "$out/ref/$name.$variant.npy" >/dev/null
    done
    for len in long one; do
      "$bin/qopt-run" "$out/lib/$name.w4.cpu.so" --input "input_ids=$out/ref/$name.$len.in.npy" \
        --output "$out/ref/$name.w4.$len.npy" >/dev/null
    done
  done
  # Decoders with a KV cache, scored in a session: each reference has its tokens
  # (STEM.ids.npy) and prefill length (STEM.prefill) beside it.
  session_ref() { # MODEL STEM IDS PREFILL [qopt-compile flags...]
    local model=$1 stem=$2 ids=$3 prefill=$4
    shift 4
    for target in cpu cuda; do
      "$bin/qopt-compile" "$model" "$@" --cpu=haswell --target=$target \
        -o "$out/lib/$stem.$target.so" >/dev/null
    done
    cp "$ids" "$out/ref/$stem.ids.npy"
    echo "$prefill" > "$out/ref/$stem.prefill"
    "$bin/qopt-run" "$out/lib/$stem.cpu.so" --score-ids "$ids" --prefill "$prefill" \
      --output "$out/ref/$stem.session.npy" >/dev/null
  }
  for model in "$root"/test/fixtures/kv/*.onnx; do
    session_ref "$model" "$(basename "$model" .onnx).f32" "${model%.onnx}.ids.npy" 8
  done
  /usr/bin/python3 -c "import numpy as n; n.save('$out/ref/session.ids.npy', ((n.arange(40) * 37 + 11) % 96).reshape(1, 40).astype(n.int64))"
  for shape in llama-tiny gpt2-tiny; do
    /usr/bin/python3 "$root/bench/make_decoder.py" "$shape" "$out/lib/$shape.onnx" >/dev/null
    session_ref "$out/lib/$shape.onnx" "$shape.f32" "$out/ref/session.ids.npy" 24
    session_ref "$out/lib/$shape.onnx" "$shape.w4" "$out/ref/session.ids.npy" 24 --wbits=4 --group-size=32
    # Groups of 128 (the default): the 24-token prefill runs on the tensor-core GEMM.
    session_ref "$out/lib/$shape.onnx" "$shape.w4g128" "$out/ref/session.ids.npy" 24 --wbits=4
    session_ref "$out/lib/$shape.onnx" "$shape.w8" "$out/ref/session.ids.npy" 24 --wbits=8
    rm -f "$out/lib/$shape.onnx"*
  done
  # The libraries load OpenBLAS, which the GPU machine may lack.
  bash "$here/copy_runtime.sh" "$bin" "$out/bin"
  if [ -f "$shared/models/qlm_llama.onnx" ]; then
    for target in cpu cuda; do
      "$bin/qopt-compile" "$shared/models/qlm_llama.onnx" --wbits=4 --cpu=haswell --target=$target \
        -o "$out/lib/qlm_llama.w4.$target.so" >/dev/null
    done
    cp "$shared/data/valid.txt" "$out/ref/valid.txt"
    "$bin/qopt-run" "$out/lib/qlm_llama.w4.cpu.so" --ppl "$out/ref/valid.txt" --ctx $ppl_ctx \
      > "$out/ref/qlm_llama.ppl"
  fi
}

run() {
  export LD_LIBRARY_PATH="$out/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local passed=0 failed=0 work
  work=$(mktemp -d)
  check() { # LIBRARY INPUT REFERENCE TOLERANCE LABEL [QOPT_GPU_HALF]
    if ! QOPT_GPU_HALF=${6:-1} "$out/bin/qopt-run" "$1" --device cuda:0 --input "input_ids=$2" \
        --output "$work/out.npy" >"$work/log" 2>&1; then
      echo "$5: run FAILED: $(head -c 300 "$work/log")"; failed=$((failed + 1)); return
    fi
    if result=$(python3 "$out/bin/compare_npy.py" "$work/out.npy" "$3" --tol "$4"); then
      echo "$5: $result"; passed=$((passed + 1))
    else
      echo "$5: MISMATCH $result"; failed=$((failed + 1))
    fi
  }
  for lib in "$out"/lib/*.cuda.so; do
    stem=$(basename "$lib" .cuda.so)
    name=${stem%.*}
    [ -f "$out/ref/$stem.npy" ] || continue
    if [ "${stem##*.}" = w4 ]; then
      check "$lib" "$out/ref/$name.in.npy" "$out/ref/$stem.npy" 1e-5 "$stem (f32 kernels)" 0
      check "$lib" "$out/ref/$name.in.npy" "$out/ref/$stem.npy" 2e-3 "$stem"
    else
      check "$lib" "$out/ref/$name.in.npy" "$out/ref/$stem.npy" 1e-5 "$stem"
    fi
    [ -f "$out/ref/$stem.long.npy" ] &&
      check "$lib" "$out/ref/$name.long.in.npy" "$out/ref/$stem.long.npy" 2e-3 "$stem (24 tokens)"
    if [ -f "$out/ref/$stem.one.npy" ]; then
      check "$lib" "$out/ref/$name.one.in.npy" "$out/ref/$stem.one.npy" 1e-5 \
        "$stem (1 token, f32 kernels)" 0
      check "$lib" "$out/ref/$name.one.in.npy" "$out/ref/$stem.one.npy" 2e-3 "$stem (1 token)"
    fi
  done
  for ref in "$out"/ref/*.session.npy; do
    [ -f "$ref" ] || continue
    stem=$(basename "$ref" .session.npy)
    tol=1e-5; case "${stem##*.}" in w*) tol=2e-3 ;; esac
    if ! "$out/bin/qopt-run" "$out/lib/$stem.cuda.so" --device cuda:0 \
        --score-ids "$out/ref/$stem.ids.npy" --prefill "$(cat "$out/ref/$stem.prefill")" \
        --output "$work/out.npy" >"$work/log" 2>&1; then
      echo "$stem (session): run FAILED: $(head -c 300 "$work/log")"; failed=$((failed + 1)); continue
    fi
    if result=$(python3 "$out/bin/compare_npy.py" "$work/out.npy" "$ref" --tol "$tol"); then
      echo "$stem (session): $result"; passed=$((passed + 1))
    else
      echo "$stem (session): MISMATCH $result"; failed=$((failed + 1))
    fi
  done
  if [ -f "$out/lib/qlm_llama.w4.cuda.so" ]; then
    gpu=$("$out/bin/qopt-run" "$out/lib/qlm_llama.w4.cuda.so" --device cuda:0 \
          --ppl "$out/ref/valid.txt" --ctx $ppl_ctx 2>"$work/log" | awk '{print $2}')
    cpu=$(awk '{print $2}' "$out/ref/qlm_llama.ppl")
    if [ -n "$gpu" ] && awk -v g="$gpu" -v c="$cpu" 'BEGIN { d = (g - c) / c; exit !(d < 0.001 && d > -0.001) }'; then
      echo "qlm_llama.w4 perplexity: GPU $gpu, CPU $cpu: ok"; passed=$((passed + 1))
    else
      echo "qlm_llama.w4 perplexity: GPU ${gpu:-none} ($(head -c 300 "$work/log")), CPU $cpu: MISMATCH"
      failed=$((failed + 1))
    fi
  fi
  rm -rf "$work"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

case $mode in
  prepare) prepare ;;
  run) run ;;
  all) prepare && run ;;
  *) echo "usage: check_gpu.sh prepare|run|all OUT [BIN]" >&2; exit 2 ;;
esac
