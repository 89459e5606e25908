#!/usr/bin/env python3
"""batched_matmul_vs_ort.py WORKDIR - batched MatMul (attention's per-head products) compiled by
qopt and run on two threads, compared with ONNX Runtime: products small enough to be split across
the worker pool one per thread, broadcast batch dimensions, a shared 2-D weight, and products big
enough for BLAS's own threads. Prints one line per case and `N passed, N failed`.
"""
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, save

WORK = sys.argv[1]
ORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oracle", "run_ort.js")
rs = np.random.RandomState(3)


def case(name, a_shape, b_shape):
    a, b = rs.randn(*a_shape).astype(np.float32), rs.randn(*b_shape).astype(np.float32)
    out_shape = list(np.matmul(a, b).shape)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])], name,
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, a_shape),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, b_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = os.path.join(WORK, name + ".onnx")
    save(model, path)
    pa, pb = os.path.join(WORK, name + ".a.npy"), os.path.join(WORK, name + ".b.npy")
    np.save(pa, a)
    np.save(pb, b)
    ref, out, so = (os.path.join(WORK, name + s) for s in (".ref.npy", ".out.npy", ".so"))
    subprocess.run(["node", ORT, path, ref, f"a={pa}", f"b={pb}"], check=True)
    subprocess.run(["qopt-compile", path, "-o", so], check=True)
    subprocess.run(["qopt-run", so, "--threads", "2", "--input", f"a={pa}", "--input", f"b={pb}",
                    "--output", out], check=True)
    r, q = np.load(ref), np.load(out)
    err = float(np.abs(r - q).max() / np.abs(r).max()) if r.shape == q.shape else float("inf")
    ok = err <= 1e-5
    print(f"{name}: {'ok' if ok else 'FAIL'} {err:.2e} x max|ref| shape {list(q.shape)}")
    return ok


results = [
    case("heads", [6, 128, 64], [6, 64, 128]),                 # split across the pool
    case("heads_odd", [1, 5, 96, 40], [1, 5, 40, 72]),         # an odd number of parts
    case("broadcast_batch", [1, 6, 128, 64], [2, 1, 64, 128]),  # 12 products, broadcast offsets
    case("shared_weight", [2, 3, 50, 64], [64, 96]),           # one GEMM over all rows
    case("large_products", [2, 256, 128], [2, 128, 256]),      # BLAS threads each
    case("tiny_products", [3, 1, 64], [3, 64, 5]),             # too small to split
]
print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
