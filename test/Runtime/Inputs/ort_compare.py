"""Shared by the *_vs_ort.py scripts: builds a one-graph ONNX model, runs it through ONNX Runtime
(test/oracle/run_ort.js) and through qopt-compile + qopt-run on 2 threads, and compares output `y`
to tol x max|reference| (NaNs must be in the same places)."""
import os
import subprocess

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

ORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oracle", "run_ort.js")


def compare(work, name, inputs, nodes, out_shape, consts=(), tol=1e-5, compile_args=(),
            dynamic=(), out_type=TensorProto.FLOAT):
    """`inputs`: name -> array (float, float16, int64 or bool); `consts`: (name, array)
    initializers (int64 for integer arrays, float16 kept, f32 otherwise); `y` is of `out_type`;
    the inputs named in `dynamic` get symbolic dims, so that
    shapes computed from them are left to run time.
    Prints `name: ok|FAIL err x max|ref| shape [...]` and returns whether it agreed."""
    def elem(v):
        if v.dtype == np.bool_:
            return TensorProto.BOOL
        if v.dtype == np.float16:
            return TensorProto.FLOAT16
        return TensorProto.INT64 if v.dtype.kind == "i" else TensorProto.FLOAT
    def dims(k, v):
        return [f"{k}_{i}" for i in range(v.ndim)] if k in dynamic else list(v.shape)
    infos = [helper.make_tensor_value_info(k, elem(v), dims(k, v)) for k, v in inputs.items()]
    def init(k, v):
        v = np.asarray(v)
        if v.dtype == np.float16:
            return numpy_helper.from_array(v, k)
        return numpy_helper.from_array(v.astype(np.int64 if v.dtype.kind == "i" else np.float32), k)
    inits = [init(k, v) for k, v in consts]
    graph = helper.make_graph(nodes, name, infos,
                              [helper.make_tensor_value_info("y", out_type, out_shape)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = os.path.join(work, name + ".onnx")
    save(model, path)
    args = []
    for k, v in inputs.items():
        p = os.path.join(work, f"{name}.{k}.npy")
        np.save(p, v if v.dtype in (np.bool_, np.float16) else
                v.astype(np.int64 if v.dtype.kind == "i" else np.float32))
        args.append(f"{k}={p}")
    ref, out, so = (os.path.join(work, name + s) for s in (".ref.npy", ".out.npy", ".so"))
    subprocess.run(["node", ORT, path, ref] + args, check=True)
    subprocess.run(["qopt-compile", path, "-o", so] + list(compile_args), check=True)
    run = ["qopt-run", so, "--threads", "2", "--output", out]
    for a in args:
        run += ["--input", a]
    subprocess.run(run, check=True)
    r, q = np.load(ref), np.load(out)
    if r.dtype != q.dtype:
        print(f"{name}: FAIL dtype {q.dtype}, expected {r.dtype}")
        return False
    r, q = r.astype(np.float64), q.astype(np.float64)
    ok = r.shape == q.shape and np.array_equal(np.isnan(r), np.isnan(q))
    err = 0.0
    if ok:
        scale = max(float(np.nanmax(np.abs(r))), 1e-30)
        err = float(np.nanmax(np.abs(np.nan_to_num(r) - np.nan_to_num(q)))) / scale
        ok = err <= tol
    print(f"{name}: {'ok' if ok else 'FAIL'} {err:.2e} x max|ref| shape {list(q.shape)}")
    return ok


class Cases:
    """Runs each case as built by default and, as a control, with `control_flags` (named with
    `control_suffix`); `flags` go to both builds (a script's arguments after its work folder, such
    as --cpu=haswell). `summary()` prints `N passed, N failed`."""

    def __init__(self, work, control_suffix, control_flags, flags=()):
        self.work, self.suffix = work, control_suffix
        self.common = list(flags)
        self.flags = list(control_flags) + self.common
        self.results = []

    def case(self, name, inputs, nodes, out_shape, consts=(), tol=1e-5, dynamic=()):
        self.results.append(compare(self.work, name, inputs, nodes, out_shape, consts, tol,
                                    self.common, dynamic))
        self.results.append(compare(self.work, name + self.suffix, inputs, nodes, out_shape,
                                    consts, tol, self.flags, dynamic))

    def summary(self):
        passed = sum(self.results)
        print(f"{passed} passed, {len(self.results) - passed} failed")
