#!/usr/bin/python3
"""make_decoder.py SHAPE OUT.onnx - writes a decoder with a KV cache and random weights.

SHAPE is `gpt2-124m` (12 layers, hidden 768, 12 heads, MLP 3072, vocabulary 50257, learned
positions, LayerNorm, tanh GELU, tied head) or `llama-1.1b` (TinyLlama's shapes: 22 layers, hidden
2048, 32 query and 4 key-value heads, SwiGLU MLP 5632, vocabulary 32000, rotary positions,
RMSNorm), or `llama-tiny` and `gpt2-tiny` (the same graphs, 2 layers of hidden 256: for checks).

The graph is spelled as Hugging Face's eager attention exports it: inputs `input_ids [1, seq]` and
`past_key_values.N.key/value [1, kv_heads, past, head_dim]`, outputs `logits` and
`present.N.key/value` (the past concatenated with this step's keys and values), positions and the
causal mask computed from the past length. Weights go to OUT.data beside the model when they pass
2 GB, inline otherwise. For benchmarks only; never committed.

With QOPT_TILED_WEIGHTS=1 every weight repeats one random 16 x 16 block (values in the same range
as the random model's), so the model, its compiled weights and any quantized form compress by
orders of magnitude: for carrying a model to a machine that only times it (bench/gpu_generation.sh).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = {
    "gpt2-124m": dict(family="gpt2", L=12, D=768, H=12, KV=12, F=3072, V=50257, P=1024),
    "llama-1.1b": dict(family="llama", L=22, D=2048, H=32, KV=4, F=5632, V=32000, P=2048),
    "llama-tiny": dict(family="llama", L=2, D=256, H=8, KV=2, F=512, V=512, P=512),
    "gpt2-tiny": dict(family="gpt2", L=2, D=256, H=4, KV=4, F=1024, V=512, P=512),
}
shape_name, out = sys.argv[1], sys.argv[2]
S = SHAPES[shape_name]
L, D, H, KV, F, V, P = (S[k] for k in ("L", "D", "H", "KV", "F", "V", "P"))
HD = D // H
rng = np.random.default_rng(0)
inits, nodes = [], []


TILED = os.environ.get("QOPT_TILED_WEIGHTS") == "1"


def w(name, *shape, scale=0.02):
    if TILED:
        block = rng.standard_normal([min(n, 16) for n in shape], dtype=np.float32) * scale
        reps = [-(-n // b) for n, b in zip(shape, block.shape)]
        value = np.tile(block, reps)[tuple(slice(0, n) for n in shape)]
    else:
        value = rng.standard_normal(shape, dtype=np.float32) * scale
    inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
    return name


def ones(name, n):
    inits.append(numpy_helper.from_array(np.ones(n, np.float32), name))
    return name


def c(name, value):
    inits.append(numpy_helper.from_array(np.array(value), name))
    return name


def node(op, ins, outn, **attrs):
    nodes.append(helper.make_node(op, ins, [outn], name=outn, **attrs))
    return outn


c("zero_i", np.int64(0)), c("one_i", np.int64(1)), c("two_i", np.int64(2))
c("axes0", np.array([0], np.int64)), c("axes1", np.array([1], np.int64))
c("neg_big", np.float32(-1e9)), c("zero_f", np.float32(0.0)), c("scale", np.float32(1 / np.sqrt(HD)))
c("heads_shape", np.array([1, -1, H, HD], np.int64)), c("kv_shape", np.array([1, -1, KV, HD], np.int64))
c("merge_shape", np.array([1, -1, D], np.int64)), c("rep_shape", np.array([1, H, -1, HD], np.int64))
c("half", np.float32(0.5)), c("one", np.float32(1.0)), c("eps", np.float32(1e-5))
c("gelu_a", np.float32(0.044715)), c("gelu_b", np.float32(np.sqrt(2 / np.pi)))

# Positions past .. past + seq - 1 and the causal mask [seq, past + seq].
seq = node("Gather", [node("Shape", ["input_ids"], "ids_shape"), "one_i"], "seq")
past = node("Gather", [node("Shape", ["past_key_values.0.key"], "past_shape"), "two_i"], "past")
total = node("Add", [past, seq], "total")
pos = node("Range", [past, total, "one_i"], "positions")
cols = node("Range", ["zero_i", total, "one_i"], "cols")
rows = node("Unsqueeze", [pos, "axes1"], "rows")
mask = node("Where", [node("Greater", [cols, rows], "future"), "neg_big", "zero_f"], "mask")

tok = node("Gather", [w("embed", V, D), "input_ids"], "tok_emb")
if S["family"] == "gpt2":
    x = node("Add", [tok, node("Gather", [w("wpe", P, D), pos], "pos_emb")], "h0")
else:
    x = tok
    inv = 1.0 / (10000 ** (np.arange(0, HD, 2, dtype=np.float32) / HD))
    ang = np.outer(np.arange(P, dtype=np.float32), inv)
    emb = np.concatenate([ang, ang], axis=-1)
    inits.append(numpy_helper.from_array(np.cos(emb).astype(np.float32), "cos_table"))
    inits.append(numpy_helper.from_array(np.sin(emb).astype(np.float32), "sin_table"))
    cos = node("Unsqueeze", [node("Gather", ["cos_table", pos], "cos_g"), "axes0"], "cos")
    sin = node("Unsqueeze", [node("Gather", ["sin_table", pos], "sin_g"), "axes0"], "sin")
    cos = node("Unsqueeze", [cos, "axes1"], "cos4")  # [1, 1, seq, HD]
    sin = node("Unsqueeze", [sin, "axes1"], "sin4")
    c("half_lo", np.array([0], np.int64)), c("half_mid", np.array([HD // 2], np.int64))
    c("half_hi", np.array([HD], np.int64)), c("last_axis", np.array([3], np.int64))
    c("rep5", np.array([1, KV, H // KV, 1, HD], np.int64)), c("axes2", np.array([2], np.int64))


def rms_norm(x, p):
    ms = node("ReduceMean", [node("Mul", [x, x], p + "sq")], p + "ms", axes=[-1], keepdims=1)
    r = node("Reciprocal", [node("Sqrt", [node("Add", [ms, "eps"], p + "mse")], p + "rms")], p + "inv")
    return node("Mul", [node("Mul", [x, r], p + "xn"), ones(p + "g", D)], p + "out")


def rotate(x, p):
    lo = node("Slice", [x, "half_lo", "half_mid", "last_axis"], p + "lo")
    hi = node("Slice", [x, "half_mid", "half_hi", "last_axis"], p + "hi")
    rot = node("Concat", [node("Neg", [hi], p + "nhi"), lo], p + "rot", axis=-1)
    return node("Add", [node("Mul", [x, cos], p + "xc"), node("Mul", [rot, sin], p + "rs")], p + "out")


def heads(x, shape, p):
    return node("Transpose", [node("Reshape", [x, shape], p + "r")], p + "t", perm=[0, 2, 1, 3])


def repeat_kv(x, p):
    if KV == H:
        return x
    u = node("Unsqueeze", [x, "axes2"], p + "u")
    return node("Reshape", [node("Expand", [u, "rep5"], p + "e"), "rep_shape"], p + "rep")


present = []
for i in range(L):
    p = f"l{i}."
    if S["family"] == "gpt2":
        h = node("LayerNormalization", [x, ones(p + "ln1_g", D), w(p + "ln1_b", D)], p + "ln1", epsilon=1e-5)
        qkv = node("Add", [node("MatMul", [h, w(p + "attn_w", D, 3 * D)], p + "qkv_mm"), w(p + "attn_b", 3 * D)], p + "qkv")
        nodes.append(helper.make_node("Split", [qkv], [p + "q", p + "k", p + "v"], axis=-1, name=p + "split"))
        q, k, v = heads(p + "q", "heads_shape", p + "qh"), heads(p + "k", "heads_shape", p + "kh"), heads(p + "v", "heads_shape", p + "vh")
    else:
        h = rms_norm(x, p + "n1.")
        q = rotate(heads(node("MatMul", [h, w(p + "wq", D, D)], p + "q"), "heads_shape", p + "qh"), p + "qr.")
        k = rotate(heads(node("MatMul", [h, w(p + "wk", D, KV * HD)], p + "k"), "kv_shape", p + "kh"), p + "kr.")
        v = heads(node("MatMul", [h, w(p + "wv", D, KV * HD)], p + "v"), "kv_shape", p + "vh")
    kc = node("Concat", [f"past_key_values.{i}.key", k], f"present.{i}.key", axis=2)
    vc = node("Concat", [f"past_key_values.{i}.value", v], f"present.{i}.value", axis=2)
    present += [kc, vc]
    kr, vr = repeat_kv(kc, p + "krep"), repeat_kv(vc, p + "vrep")
    kt = node("Transpose", [kr], p + "kt", perm=[0, 1, 3, 2])
    scores = node("Add", [node("Mul", [node("MatMul", [q, kt], p + "qk"), "scale"], p + "scaled"), mask], p + "masked")
    probs = node("Softmax", [scores], p + "probs", axis=-1)
    ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, vr], p + "ctx_h")], p + "ctx_t", perm=[0, 2, 1, 3]), "merge_shape"], p + "ctx")
    if S["family"] == "gpt2":
        proj = node("Add", [node("MatMul", [ctx, w(p + "proj_w", D, D)], p + "proj_mm"), w(p + "proj_b", D)], p + "proj")
        x = node("Add", [x, proj], p + "res1")
        h2 = node("LayerNormalization", [x, ones(p + "ln2_g", D), w(p + "ln2_b", D)], p + "ln2", epsilon=1e-5)
        fc = node("Add", [node("MatMul", [h2, w(p + "fc_w", D, F)], p + "fc_mm"), w(p + "fc_b", F)], p + "fc")
        cube = node("Mul", [node("Mul", [fc, fc], p + "sq"), fc], p + "cube")
        inner = node("Mul", [node("Add", [fc, node("Mul", [cube, "gelu_a"], p + "ga")], p + "gb"), "gelu_b"], p + "gc")
        act = node("Mul", [node("Mul", [fc, "half"], p + "gd"), node("Add", [node("Tanh", [inner], p + "gt"), "one"], p + "ge")], p + "gelu")
        mlp = node("Add", [node("MatMul", [act, w(p + "mlp_w", F, D)], p + "mlp_mm"), w(p + "mlp_b", D)], p + "mlp")
    else:
        x = node("Add", [x, node("MatMul", [ctx, w(p + "wo", D, D)], p + "o")], p + "res1")
        h2 = rms_norm(x, p + "n2.")
        gate = node("MatMul", [h2, w(p + "wg", D, F)], p + "gate")
        up = node("MatMul", [h2, w(p + "wu", D, F)], p + "up")
        act = node("Mul", [node("Mul", [gate, node("Sigmoid", [gate], p + "sg")], p + "silu"), up], p + "act")
        mlp = node("MatMul", [act, w(p + "wd", F, D)], p + "down")
    x = node("Add", [x, mlp], p + "res2")
if S["family"] == "gpt2":
    xf = node("LayerNormalization", [x, ones("lnf_g", D), w("lnf_b", D)], "lnf", epsilon=1e-5)
    node("MatMul", [xf, node("Transpose", ["embed"], "embed_t", perm=[1, 0])], "logits")
else:
    node("MatMul", [rms_norm(x, "nf."), w("lm_head", D, V)], "logits")

inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "seq"])]
outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "seq", V])]
for i in range(L):
    for part in ("key", "value"):
        inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{part}", TensorProto.FLOAT, [1, KV, "past", HD]))
        outputs.append(helper.make_tensor_value_info(f"present.{i}.{part}", TensorProto.FLOAT, [1, KV, "total", HD]))
graph = helper.make_graph(nodes, shape_name.replace("-", "_"), inputs, outputs, inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
external = sum(t.ByteSize() for t in inits) > 1.8e9
onnx.save(model, out, save_as_external_data=external, location=os.path.basename(out) + ".data")
print(f"wrote {out}" + (" (weights in external data)" if external else ""))
