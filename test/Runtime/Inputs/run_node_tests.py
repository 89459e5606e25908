#!/usr/bin/python3
"""run_node_tests.py DATA_DIR LIST WORKDIR - runs ONNX backend node tests through qopt.

For every test named in LIST: compile model.onnx to a library, run it with qopt-run on
test_data_set_0's inputs, and compare each output with the expected one (floats: max abs error
<= 1e-4 x max|expected| + 1e-6; integers and bools: exact). Prints one FAIL line per failing test,
the pass count per op, and a total; exits 1 if any test fails.
"""
import collections
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

data_dir, list_file, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
per_op = collections.defaultdict(lambda: [0, 0])
failed = 0


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def run_one(name):
    model_path = os.path.join(data_dir, name, "model.onnx")
    model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    in_names = [i.name for i in model.graph.input if i.name not in inits]
    out_names = [o.name for o in model.graph.output]
    case = os.path.join(data_dir, name, "test_data_set_0")
    lib = os.path.join(work, name + ".so")
    r = subprocess.run(["qopt-compile", model_path, "-o", lib], capture_output=True, text=True)
    if r.returncode != 0:
        return "compile: " + r.stderr.strip().splitlines()[0]
    cmd = ["qopt-run", lib]
    for i, n in enumerate(in_names):
        arr = load_pb(os.path.join(case, f"input_{i}.pb"))
        path = os.path.join(work, f"{name}.in{i}.npy")
        np.save(path, arr)
        cmd += ["--input", f"{n}={path}"]
    outs = [os.path.join(work, f"{name}.out{i}.npy") for i in range(len(out_names))]
    for p in outs:
        cmd += ["--output", p]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return "run: " + r.stderr.strip()
    for i, p in enumerate(outs):
        want = load_pb(os.path.join(case, f"output_{i}.pb"))
        got = np.load(p)
        if got.shape != want.shape:
            return f"output {i}: shape {got.shape}, expected {want.shape}"
        if want.dtype.kind in "iub":
            if not np.array_equal(got.astype(want.dtype), want):
                return f"output {i}: values differ"
        else:
            w, g = want.astype(np.float64), got.astype(np.float64)
            if not np.array_equal(np.isnan(w), np.isnan(g)):
                return f"output {i}: NaNs differ"
            m = ~np.isnan(w)
            err = np.max(np.abs(w[m] - g[m])) if m.any() else 0.0
            scale = np.max(np.abs(w[m])) if m.any() else 0.0
            if err > 1e-4 * scale + 1e-6 and not np.array_equal(w[m], g[m]):
                return f"output {i}: max abs error {err:.3e} (max|expected| {scale:.3e})"
    return None


with open(list_file) as f:
    names = [line.strip() for line in f if line.strip()]
for name in names:
    op = name[len("test_"):].split("_")[0]
    problem = run_one(name)
    per_op[op][1] += 1
    if problem is None:
        per_op[op][0] += 1
    else:
        failed += 1
        print(f"FAIL {name}: {problem}")
for op in sorted(per_op):
    print(f"{op}: {per_op[op][0]}/{per_op[op][1]} passed")
print(f"node tests: {len(names) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
