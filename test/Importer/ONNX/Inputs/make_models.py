#!/usr/bin/python3
"""make_models.py OUTDIR - writes small ONNX models for the importer's external-data and bad-input tests.

Each model is one MatMul whose weight initializer is stored in a different (mostly broken) way.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
weight = np.arange(12, dtype=np.float32).reshape(4, 3)


def model_with(tensor, name, domain_nodes=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    nodes = domain_nodes or [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul_0")]
    graph = helper.make_graph(nodes, "g", [x], [y], [tensor] if tensor is not None else [])
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)]
    m = helper.make_model(graph, opset_imports=opsets)
    with open(os.path.join(out, name), "wb") as f:
        f.write(m.SerializeToString())


def external(location, offset=0, length=None):
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([4, 3])
    t.data_location = TensorProto.EXTERNAL
    entries = {"location": location, "offset": str(offset)}
    if length is not None:
        entries["length"] = str(length)
    for k, v in entries.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


# A correct model with its weight in a data file beside it, 16 bytes into the file.
with open(os.path.join(out, "weights.bin"), "wb") as f:
    f.write(b"\0" * 16 + weight.tobytes())
model_with(external("weights.bin", 16, 48), "external_ok.onnx")
# Paths that leave the model's folder, a missing file, a range past the file's end.
model_with(external("../outside.bin"), "external_escape.onnx")
model_with(external("/etc/hostname"), "external_absolute.onnx")
model_with(external("missing.bin"), "external_missing.onnx")
model_with(external("weights.bin", 40, 48), "external_short.onnx")
# Raw data that disagrees with the shape.
bad = TensorProto()
bad.name, bad.data_type, bad.raw_data = "w", TensorProto.FLOAT, weight.tobytes()[:40]
bad.dims.extend([4, 3])
model_with(bad, "size_mismatch.onnx")
# An op from another domain.
custom = [helper.make_node("FancyMatMul", ["x", "w"], ["y"], name="fancy", domain="com.example")]
model_with(helper.make_tensor("w", TensorProto.FLOAT, [4, 3], weight.flatten()), "custom_domain.onnx",
           custom)
