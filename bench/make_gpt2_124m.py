#!/usr/bin/python3
"""make_gpt2_124m.py OUT.onnx - writes a GPT-2-124M-shaped model with random weights.

12 layers, hidden 768, 12 heads, MLP 3072, vocabulary 50257, learned positions (1024): the shapes
of GPT-2 small, spelled with the ops PyTorch's exporter uses (LayerNormalization, MatMul + Add,
Reshape/Transpose attention with a causal mask, tanh GELU). Weights live in OUT.data beside it
(about 500 MB); the model is for benchmarks only, never committed.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

L, D, H, F, V, P = 12, 768, 12, 3072, 50257, 1024
rng = np.random.default_rng(0)
inits, nodes = [], []


def w(name, *shape, scale=0.02):
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
    return name


def c(name, value):
    inits.append(numpy_helper.from_array(np.array(value), name))
    return name


def node(op, ins, out, **attrs):
    nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
    return out


c("one", np.float32(1.0)), c("half", np.float32(0.5)), c("k3", np.float32(3.0))
c("gelu_a", np.float32(0.044715)), c("gelu_b", np.float32(np.sqrt(2 / np.pi)))
c("neg_inf", np.float32(-1e9)), c("zero_i", np.int64(0)), c("one_i", np.int64(1))
c("scale", np.float32(1 / np.sqrt(D // H))), c("axes0", np.array([0], np.int64))
c("heads_shape", np.array([0, 0, H, D // H], np.int64)), c("merge_shape", np.array([0, 0, D], np.int64))

shape = node("Shape", ["input_ids"], "shape")
seq = node("Gather", [shape, "one_i"], "seq")
pos = node("Range", ["zero_i", seq, "one_i"], "positions")
x = node("Add", [node("Gather", [w("wte", V, D), "input_ids"], "tok_emb"),
                 node("Gather", [w("wpe", P, D), pos], "pos_emb")], "h0")
seq1 = node("Unsqueeze", [seq, "axes0"], "seq1")
mask_shape = node("Concat", [seq1, seq1], "mask_shape", axis=0)
ones = node("ConstantOfShape", [mask_shape], "ones", value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))
upper = node("Trilu", [ones, "one_i"], "upper", upper=1)
mask = node("Mul", [upper, "neg_inf"], "mask")
for i in range(L):
    p = f"l{i}."
    ln1 = node("LayerNormalization", [x, w(p + "ln1_g", D, scale=1.0), w(p + "ln1_b", D)], p + "ln1", epsilon=1e-5)
    qkv = node("Add", [node("MatMul", [ln1, w(p + "attn_w", D, 3 * D)], p + "qkv_mm"), w(p + "attn_b", 3 * D)], p + "qkv")
    heads = []
    for j, part in enumerate("qkv"):
        nodes.append(helper.make_node("Split", [qkv], [f"{p}{pp}_flat" for pp in "qkv"], axis=-1,
                                      num_outputs=3, name=p + "split")) if j == 0 else None
        r = node("Reshape", [f"{p}{part}_flat", "heads_shape"], p + part + "_r")
        heads.append(node("Transpose", [r], p + part + "_t", perm=[0, 2, 3, 1] if part == "k" else [0, 2, 1, 3]))
    scores = node("Mul", [node("MatMul", [heads[0], heads[1]], p + "qk"), "scale"], p + "scores")
    probs = node("Softmax", [node("Add", [scores, mask], p + "masked")], p + "probs", axis=-1)
    ctx = node("Transpose", [node("MatMul", [probs, heads[2]], p + "ctx_h")], p + "ctx_t", perm=[0, 2, 1, 3])
    merged = node("Reshape", [ctx, "merge_shape"], p + "ctx")
    proj = node("Add", [node("MatMul", [merged, w(p + "proj_w", D, D)], p + "proj_mm"), w(p + "proj_b", D)], p + "proj")
    x = node("Add", [x, proj], p + "res1")
    ln2 = node("LayerNormalization", [x, w(p + "ln2_g", D, scale=1.0), w(p + "ln2_b", D)], p + "ln2", epsilon=1e-5)
    fc = node("Add", [node("MatMul", [ln2, w(p + "fc_w", D, F)], p + "fc_mm"), w(p + "fc_b", F)], p + "fc")
    cube = node("Mul", [node("Mul", [fc, fc], p + "sq"), fc], p + "cube")
    inner = node("Mul", [node("Add", [fc, node("Mul", [cube, "gelu_a"], p + "ga")], p + "gb"), "gelu_b"], p + "gc")
    gelu = node("Mul", [node("Mul", [fc, "half"], p + "gd"), node("Add", [node("Tanh", [inner], p + "gt"), "one"], p + "ge")], p + "gelu")
    mlp = node("Add", [node("MatMul", [gelu, w(p + "mlp_w", F, D)], p + "mlp_mm"), w(p + "mlp_b", D)], p + "mlp")
    x = node("Add", [x, mlp], p + "res2")
lnf = node("LayerNormalization", [x, w("lnf_g", D, scale=1.0), w("lnf_b", D)], "lnf", epsilon=1e-5)
wte_t = node("Transpose", ["wte"], "wte_t", perm=[1, 0])
node("MatMul", [lnf, wte_t], "logits")

graph = helper.make_graph(
    nodes, "gpt2_124m",
    [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "seq"])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "seq", V])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
out = sys.argv[1]
onnx.save(model, out, save_as_external_data=True, location=os.path.basename(out) + ".data")
print(f"wrote {out}")
