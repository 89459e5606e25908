#!/usr/bin/env bash
# bench/gemv.sh - the 4-bit GEMV (one token through one linear layer) against the machine's read
# bandwidth, measured in the same run:
#   read_gb_s       bench/read_bandwidth.cpp: all threads summing a 1 GiB buffer
#   from memory     16 distinct weights of the shape applied to one input (16x the weight
#                   bytes, beyond the caches), time per weight
#   from cache      one weight applied to 16 inputs (x + c, so no product repeats another): the
#                   weight stays in the last-level cache
# for 4096x4096 and 4096x11008 at --wbits=4 --group-size=128 (f16 scales), with float (w4), int8
# (w4i8) and bf16 (w4bf16, --activations=bf16) activations, in the layout --cpu picks (channel
# panels with AVX-512 VNNI) and, with `-rows`, in rows (--pack-channel-panels=false). GB/s counts the packed codes and scales each
# GEMV reads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/bin"
out="$root/bench/models/gemv"
threads=${QOPT_BENCH_THREADS:-2}
runs=${QOPT_BENCH_RUNS:-50}
mkdir -p "$out"
clang++-22 -O3 -mavx2 -pthread "$root/bench/read_bandwidth.cpp" -o "$out/read_bandwidth"
bandwidth=$("$out/read_bandwidth" "$threads" 1024 | awk '{print $2}')
echo "read bandwidth ($threads threads): $bandwidth GB/s"

make_model() { # K N COPIES SHARED OUT
  /usr/bin/python3 - "$@" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
k, n, copies, shared, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
rng = np.random.default_rng(0)
inits = [numpy_helper.from_array(rng.standard_normal((k, n), dtype=np.float32) * 0.02, f"w{c}")
         for c in range(1 if shared else copies)]
nodes = []
for c in range(copies):
    inits.append(numpy_helper.from_array(np.full((k,), float(c), np.float32), f"c{c}"))
    nodes.append(helper.make_node("Add", ["x", f"c{c}"], [f"x{c}"]))
    nodes.append(helper.make_node("MatMul", [f"x{c}", "w0" if shared else f"w{c}"], [f"y{c}"]))
graph = helper.make_graph(nodes, "gemv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info(f"y{c}", TensorProto.FLOAT, [1, n]) for c in range(copies)],
                          inits)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), out,
          save_as_external_data=copies * k * n * 4 > 1.8e9, location=out.split("/")[-1] + ".data")
EOF
}

printf '%-12s %-10s %-12s %10s %10s %14s\n' shape kind where "us/GEMV" "GB/s" "of bandwidth"
for shape in ${QOPT_GEMV_SHAPES:-4096x4096 4096x11008}; do
  k=${shape%x*} n=${shape#*x}
  bytes=$(( k * n / 2 + (k / 128) * n * 2 ))
  /usr/bin/python3 -c "import numpy as np; np.save('$out/x$k.npy', np.random.default_rng(1).standard_normal((1, $k)).astype(np.float32))"
  for shared in 0 1; do
    copies=16
    model="$out/gemv_${shape}_$shared.onnx"
    [ -f "$model" ] || make_model "$k" "$n" "$copies" "$shared" "$model"
    for kind in ${QOPT_GEMV_KINDS:-w4 w4i8 w4bf16 w4-rows w4i8-rows}; do
      flags="--wbits=4 --group-size=128"
      case $kind in w4i8*) flags="$flags --int8-activations" ;; esac
      case $kind in w4bf16*) flags="$flags --activations=bf16" ;; esac
      case $kind in *-rows) flags="$flags --pack-channel-panels=false" ;; esac
      lib="$out/gemv_${shape}_${shared}_$kind.so"
      "$bin/qopt-compile" "$model" $flags -o "$lib" > /dev/null
      ms=$("$bin/qopt-run" "$lib" --threads "$threads" --bench "$runs" --input "x=$out/x$k.npy" | awk '{print $4}')
      us=$(echo "$ms * 1000 / $copies" | bc -l)
      gbs=$(echo "$bytes / ($us * 1000)" | bc -l)
      where=$([ "$shared" = 1 ] && echo "from cache" || echo "from memory")
      printf '%-12s %-10s %-12s %10.1f %10.2f %13.0f%%\n' "$shape" "$kind" "$where" "$us" "$gbs" \
        "$(echo "100 * $gbs / $bandwidth" | bc -l)"
    done
  done
done
