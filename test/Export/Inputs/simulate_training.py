#!/usr/bin/env python3
"""simulate_training.py QAT.onnx TRAINED.onnx CODES.onnx [SEED]

Stands in for a trainer: moves every fake-quantized weight of a qopt QAT export (its
`qopt.qat_layers` metadata) by up to 0.7 of its step and every scale by up to 10%, and writes
- TRAINED.onnx: the export with the moved weights and scales, as a trainer hands it back;
- CODES.onnx: the same model with each QuantizeLinear (and Clip) replaced by the integer codes
  that ONNX's definition gives for the moved values (round half to even of w / scale, plus the
  zero point, saturated), computed here in NumPy.
Compiling both must give the same packed codes, bit for bit.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "scripts", "qat"))
from onnx_ints import INT4, UINT4, read_ints, write_ints  # noqa: E402


def expand(params, layer, shape):
    """Per-group parameters broadcast to the weight's shape (its layout)."""
    if layer["group_size"] == 0:
        return params.reshape(1, -1) if layer["layout"] == "KxN" else params.reshape(-1, 1)
    g = layer["group_size"]
    axis = 0 if layer["layout"] == "KxN" else 1
    return np.repeat(params, g, axis=axis)[tuple(slice(0, s) for s in shape)]


def main():
    src, trained_path, codes_path = sys.argv[1:4]
    rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    model = onnx.load(src)
    meta = {p.key: p.value for p in model.metadata_props}
    layers = json.loads(meta["qopt.qat_layers"])
    inits = {t.name: t for t in model.graph.initializer}
    codes_of = {}
    for layer in layers:
        w = numpy_helper.to_array(inits[layer["weight"]]).astype(np.float32)
        s = numpy_helper.to_array(inits[layer["scale"]]).astype(np.float32)
        zt = inits[layer["zero_point"]]
        z = read_ints(zt)
        s = (s * (1 + rng.uniform(-0.1, 0.1, s.shape))).astype(np.float32)
        sb, zb = expand(s, layer, w.shape), expand(z, layer, w.shape)
        w = (w + rng.uniform(-0.7, 0.7, w.shape) * np.abs(sb)).astype(np.float32)
        # Some weights land exactly on a tie, where rounding half to even decides.
        ties = rng.random(w.shape) < 0.02
        w = np.where(ties, (np.rint(w / sb) + 0.5) * sb, w).astype(np.float32)
        lo, hi = (-128, 127) if zt.data_type == 3 else (0, 255)
        if zt.data_type in (INT4, UINT4):
            lo, hi = (-8, 7) if zt.data_type == INT4 else (0, 15)
        q = np.clip(np.rint(w / sb) + zb, lo, hi)
        q = np.clip(q, layer["qmin"], layer["qmax"]).astype(np.int64)
        inits[layer["weight"]].CopyFrom(numpy_helper.from_array(w, layer["weight"]))
        inits[layer["scale"]].CopyFrom(numpy_helper.from_array(s, layer["scale"]))
        codes_of[layer["weight"]] = (q, zt.data_type)
    onnx.save(model, trained_path)

    # The codes model: each weight's QuantizeLinear (and Clip) gives way to its codes.
    by_output = {}
    for node in model.graph.node:
        for o in node.output:
            by_output[o] = node
    drop = set()
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        src_node = by_output.get(node.input[0])
        chain = []
        while src_node is not None and src_node.op_type in ("Clip", "QuantizeLinear"):
            chain.append(src_node)
            if src_node.op_type == "QuantizeLinear":
                break
            src_node = by_output.get(src_node.input[0])
        if not chain or chain[-1].op_type != "QuantizeLinear":
            continue
        weight = chain[-1].input[0]
        q, data_type = codes_of[weight]
        name = weight + "_codes"
        model.graph.initializer.append(write_ints(name, data_type, q))
        node.input[0] = name
        drop.update(id(n) for n in chain)
    kept = [n for n in model.graph.node if id(n) not in drop]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    used = {i for n in model.graph.node for i in n.input}
    kept_inits = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept_inits)
    onnx.save(model, codes_path)


if __name__ == "__main__":
    main()
