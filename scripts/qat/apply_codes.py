#!/usr/bin/env python3
"""apply_codes.py QAT.onnx CODES.npz OUT.onnx - a trained QAT export from its codes and scales.

train_causal_lm.py --out-codes keeps only what compilation needs (each layer's integer codes and
trained scales, compressed) to move results between machines. This writes them into the QAT
export they came from: each latent weight becomes (code - zero point) x scale, which the
export's QuantizeLinear maps back onto the same code, so qopt-compile packs exactly those codes.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

import qopt_qat


def main():
    qat_path, codes_path, out_path = sys.argv[1:4]
    spec = qopt_qat.QATSpec.load(qat_path)
    arrays = np.load(codes_path)
    inits = {t.name: t for t in spec.model.graph.initializer}
    for layer in spec.layers:
        q = arrays[layer.weight_name + "|codes"].astype(np.float32)
        s = arrays[layer.weight_name + "|scale"].astype(np.float32)
        k = q.shape[1]
        g = k if layer.group == 0 else layer.group
        sk = np.repeat(s, g, axis=1)[:, :k]
        zk = np.repeat(layer.zero.astype(np.float32), g, axis=1)[:, :k]
        w = ((q - zk) * sk).astype(np.float32)
        if layer.transposed:
            w, s = w.T, s.T
        s = s.reshape(tuple(inits[layer.scale_name].dims))
        inits[layer.weight_name].CopyFrom(
            numpy_helper.from_array(np.ascontiguousarray(w), layer.weight_name))
        inits[layer.scale_name].CopyFrom(
            numpy_helper.from_array(np.ascontiguousarray(s), layer.scale_name))
    onnx.save(spec.model, out_path)


if __name__ == "__main__":
    main()
