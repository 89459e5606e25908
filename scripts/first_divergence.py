#!/usr/bin/env python3
"""first_divergence.py MODEL.onnx INPUT.npy [--tol T] - where do qopt and ONNX Runtime part ways?

Rewrites MODEL so that the output of every float or 8-bit node becomes a graph output (cast to
float32), compiles it with qopt-compile, runs it with qopt-run and with ONNX Runtime
(test/oracle/run_ort.js) on INPUT (fed as `input_ids`), and prints the nodes in graph order whose
outputs differ by more than T x max|reference|, first one first. A debugging aid for importer and
kernel work, not a test.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, TensorProto, shape_inference

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("input")
ap.add_argument("--tol", type=float, default=1e-6)
ap.add_argument("--build", default=os.path.join(ROOT, "build"))
ap.add_argument("--no-optimize", action="store_true", help="run ONNX Runtime without graph fusions")
args = ap.parse_args()

model = onnx.load(args.model)
inferred = shape_inference.infer_shapes(model)
types = {v.name: v.type.tensor_type.elem_type
         for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
wanted = (TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8)
probes = []
for node in model.graph.node:
    for out in node.output:
        # Contrib ops (com.microsoft) have no ONNX type inference; their outputs are 8-bit.
        known = types.get(out) in wanted or (node.domain == "com.microsoft" and out not in types)
        if out and known:
            probes.append((node.name or node.op_type, node.op_type, out))
del model.graph.output[:]
for i, (_, _, out) in enumerate(probes):
    cast = f"probe_{i}"
    model.graph.node.append(helper.make_node("Cast", [out], [cast], to=TensorProto.FLOAT))
    model.graph.output.append(helper.make_tensor_value_info(cast, TensorProto.FLOAT, None))

with tempfile.TemporaryDirectory() as tmp:
    probed = os.path.join(tmp, "probed.onnx")
    onnx.save(model, probed)
    subprocess.run([os.path.join(args.build, "bin", "qopt-compile"), probed, "-o",
                    os.path.join(tmp, "m.so")], check=True)
    outs = [os.path.join(tmp, f"q.{i}.npy") for i in range(len(probes))]
    cmd = [os.path.join(args.build, "bin", "qopt-run"), os.path.join(tmp, "m.so"),
           "--input", f"input_ids={args.input}"]
    for o in outs:
        cmd += ["--output", o]
    subprocess.run(cmd, check=True)
    ort = ["node", os.path.join(ROOT, "test", "oracle", "run_ort.js")]
    if args.no_optimize:
        ort.append("--no-optimize")
    subprocess.run(ort + ["--all-outputs", probed, os.path.join(tmp, "r.npy"),
                          f"input_ids={args.input}"], check=True)
    shown = 0
    for i, (name, op, out) in enumerate(probes):
        q, r = np.load(outs[i]), np.load(os.path.join(tmp, f"r.{i}.npy"))
        if q.shape != r.shape:
            print(f"{name} ({op}) -> {out}: shape {q.shape} vs {r.shape}")
            shown += 1
            continue
        scale = max(float(np.abs(r).max()), 1e-30) if r.size else 1.0
        err = float(np.abs(q - r).max()) if r.size else 0.0
        if err > args.tol * scale:
            print(f"{name} ({op}) -> {out}: max abs diff {err:.3e} ({err / scale:.2e} x max), "
                  f"{int((np.abs(q - r) > args.tol * scale).sum())} of {r.size} elements")
            shown += 1
            if shown >= 15:
                break
    print(f"{len(probes)} outputs compared")
