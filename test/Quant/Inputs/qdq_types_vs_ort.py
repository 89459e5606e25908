#!/usr/bin/env python3
"""qdq_types_vs_ort.py WORKDIR - QuantizeLinear → DequantizeLinear on activations for the storage
types of opsets 19 and 21 (int4, uint4, float8e4m3fn with and without saturation), per tensor, per
axis and blocked, compiled by qopt and compared with ONNX Runtime on the same random input, which
includes values beyond each type's range. The round trip must be identical. Prints one line per
case and `N passed, N failed`.
"""
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, save

WORK = sys.argv[1]
ORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oracle", "run_ort.js")
rs = np.random.RandomState(5)
x = (rs.randn(4, 6, 32) * 3).astype(np.float32)
x[0, 0, :4] = [1e4, -1e4, 0.5, -0.5]
xin = os.path.join(WORK, "x.npy")
np.save(xin, x)

# ONNX's type numbers (the Python onnx package may predate these types).
INT4, UINT4, FLOAT8E4M3FN = 22, 21, 17


def zero_points(elem, shape, value):
    """A raw-data initializer of `value` in `elem` (4-bit values packed two per byte)."""
    t = TensorProto()
    t.name, t.data_type = "z", elem
    t.dims.extend(shape)
    count = int(np.prod(shape)) if shape else 1
    if elem == FLOAT8E4M3FN:
        t.raw_data = bytes(count)  # +0.0
    else:
        nibble = value & 0xF
        t.raw_data = bytes([nibble | (nibble << 4)] * ((count + 1) // 2))
    return t


results = []
for elem, tag in [(INT4, "int4"), (UINT4, "uint4"), (FLOAT8E4M3FN, "e4m3")]:
    zero = 0 if elem != UINT4 else 7
    for layout in ["tensor", "axis", "block"]:
        for saturate in ([1, 0] if elem == FLOAT8E4M3FN else [1]):
            if layout == "tensor":
                scale_shape, attrs = [], {}
            elif layout == "axis":
                scale_shape, attrs = [6], {"axis": 1}
            else:
                scale_shape, attrs = [4, 6, 2], {"axis": 2, "block_size": 16}
            count = int(np.prod(scale_shape)) if scale_shape else 1
            scales = (rs.rand(count) * 0.5 + 0.05).astype(np.float32)
            inits = [helper.make_tensor("s", TensorProto.FLOAT, scale_shape, scales.tolist()),
                     zero_points(elem, scale_shape, zero)]
            qattrs = dict(attrs)
            if elem == FLOAT8E4M3FN:
                qattrs["saturate"] = saturate
            nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], **qattrs),
                     helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs)]
            graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
                "x", TensorProto.FLOAT, list(x.shape))], [helper.make_tensor_value_info(
                    "y", TensorProto.FLOAT, list(x.shape))], inits)
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
            model.ir_version = 10
            name = f"{tag}_{layout}" + ("" if saturate else "_nosat")
            path = os.path.join(WORK, name + ".onnx")
            save(model, path)
            ref, out, so = (os.path.join(WORK, name + s) for s in (".ref.npy", ".out.npy", ".so"))
            subprocess.run(["node", ORT, path, ref, f"x={xin}"], check=True)
            subprocess.run(["qopt-compile", path, "-o", so], check=True)
            subprocess.run(["qopt-run", so, "--input", f"x={xin}", "--output", out], check=True)
            r, q = np.load(ref), np.load(out)
            same = np.array_equal(np.isnan(r), np.isnan(q)) and np.array_equal(
                np.nan_to_num(r), np.nan_to_num(q))
            results.append(same)
            print(f"{name}: {'ok' if same else 'FAIL'}"
                  + ("" if same else f" {int((np.nan_to_num(r) != np.nan_to_num(q)).sum())} differ"))
print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
