"""llama_from_onnx.py - a Hugging Face LlamaForCausalLM rebuilt from a dynamo-exported Llama ONNX.

For training a model whose PyTorch source is not at hand: the configuration is read off the
graph (widths from the weights, layers from the module names, heads from the rotary table,
RoPE's base from its frequencies, RMSNorm's epsilon from its constant) and the weights are
taken by module name (the dynamo exporter records each node's module path in its
`pkg.torch.onnx.name_scopes` metadata; linear weights are stored transposed).

    model = llama_from_onnx("qlm_llama.onnx")

Needs torch, transformers, numpy and onnx (1.16 or newer, for node metadata).
"""
import ast
import re

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def _scope(node):
    for entry in node.metadata_props:
        if entry.key == "pkg.torch.onnx.name_scopes":
            items = ast.literal_eval(entry.value)
            return items[-2] if len(items) >= 2 else ""
    return ""


def read_llama_weights(path):
    """{PyTorch parameter name: array} for every weight of the export, and the model proto."""
    model = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights = {n: a for n, a in inits.items() if n.startswith(("model.", "lm_head."))}
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        w = inits[node.input[1]]
        scope = _scope(node)
        if w.ndim == 2 and scope:
            weights[scope + ".weight"] = np.ascontiguousarray(w.T)
    return weights, model, inits


def llama_config(weights, inits):
    import transformers

    emb = weights["model.embed_tokens.weight"]
    vocab, hidden = emb.shape
    layers = 1 + max(int(m.group(1)) for n in weights
                     for m in [re.match(r"model\.layers\.(\d+)\.", n)] if m)
    q = weights["model.layers.0.self_attn.q_proj.weight"]
    k = weights["model.layers.0.self_attn.k_proj.weight"]
    inter = weights["model.layers.0.mlp.gate_proj.weight"].shape[0]
    # The rotary table [1, head_dim / 2, 1]: 1, base^(-2/head_dim), ...
    freqs = [a for a in inits.values() if a.ndim == 3 and a.shape[0] == 1 and a.shape[2] == 1
             and a.dtype == np.float32 and a.shape[1] > 1 and abs(a.ravel()[0] - 1.0) < 1e-6]
    if not freqs:
        raise ValueError("no rotary frequency table found in the export")
    half = freqs[0].shape[1]
    head_dim = 2 * half
    theta = float(freqs[0].ravel()[1]) ** (-half)
    eps = [float(a) for a in inits.values()
           if a.size == 1 and a.dtype == np.float32 and 0 < float(a) < 1e-3]
    return transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=inter,
        num_hidden_layers=layers, num_attention_heads=q.shape[0] // head_dim,
        num_key_value_heads=k.shape[0] // head_dim, head_dim=head_dim,
        rms_norm_eps=eps[0] if eps else 1e-6, rope_theta=round(theta),
        max_position_embeddings=4096, tie_word_embeddings="lm_head.weight" not in weights,
        attn_implementation="eager")


def llama_from_onnx(path):
    import transformers

    weights, _, inits = read_llama_weights(path)
    config = llama_config(weights, inits)
    model = transformers.LlamaForCausalLM(config)
    state = {n: torch.from_numpy(np.ascontiguousarray(a)) for n, a in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if "rotary_emb" not in m]
    if missing or unexpected:
        raise ValueError(f"weights do not fit LlamaForCausalLM: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return model
