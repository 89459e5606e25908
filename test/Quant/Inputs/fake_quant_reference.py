"""fake_quant_reference.py MODEL.onnx REPORT.json OUT.onnx

Writes MODEL with the weight of every layer listed in qopt-compile's --report replaced by its
quantize-then-dequantize values, computed here with NumPy from the scheme's definition
(docs/quantization.md), independently of qopt's C++ quantizer. A layer with a static activation
scale (--activations=int8-static) also gets ONNX's QuantizeLinear/DequantizeLinear (int8, zero
point 0) on its input. ONNX Runtime run on OUT.onnx is the reference that a compiled quantized
model must match.
"""
import json
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], np.float32)
FP4 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], np.float32)
F32 = np.float32


def round_half_away(x):
    """C's roundf on float32 values (exact: float32 + 0.5 is exact in float64)."""
    x = x.astype(np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.float32)


def parse_scheme(text):
    m = re.match(r"#qopt\.scheme<(\w+), group = (\w+), (a?sym), scale = (\w+)(?:, double_quant = (\d+))?>", text)
    kind, group, sym, scale, dq = m.groups()
    if kind.startswith("int"):
        codebook, bits = "int", int(kind[3:])
    else:
        codebook, bits = kind, 8 if kind == "fp8_e4m3" else 4
    return dict(codebook=codebook, bits=bits, group=0 if group == "channel" else int(group),
                sym=sym == "sym", scale=scale, dq=int(dq or 0))


def store_scale(s, kind):
    if kind == "f16":
        return s.astype(np.float16).astype(np.float32)
    if kind == "bf16":
        bits = s.astype(np.float32).view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        return (bits.astype(np.uint32) << 16).view(np.float32)
    return s


def double_quantize(s, block, signed):
    flat = s.reshape(-1)
    out = np.empty_like(flat)
    offset, levels = (128, F32(127)) if signed else (0, F32(255))
    for b in range(0, flat.size, block):
        part = flat[b:b + block]
        ss = F32(np.abs(part).max() / levels)
        code = np.rint(part / ss) + offset if ss != 0 else np.full_like(part, offset)
        code = np.clip(code, 0, 255)
        out[b:b + block] = (code - offset).astype(np.float32) * ss
    return out.reshape(s.shape)


def fp8_e4m3(x):
    """Round to the nearest e4m3 value (ties to even), saturating at 448."""
    a = np.minimum(np.abs(x), F32(448))
    _, e = np.frexp(a)
    e = np.maximum(e - 1, -6)
    step = np.ldexp(np.float32(1), e - 3).astype(np.float32)
    q = np.minimum(np.rint(a / step) * step, F32(448))
    return (np.sign(x) * q).astype(np.float32)


def fake_quant(w, sc):
    """w: [N, K] float32, one output channel per row."""
    n, k = w.shape
    g = sc["group"] or k
    groups = -(-k // g)
    pad = groups * g - k
    # Groups as [N, G, g]; a short last group is padded with copies of its own last element,
    # which changes neither its extremes nor its absolute maximum.
    wp = np.concatenate([w, np.repeat(w[:, -1:], pad, axis=1)], axis=1) if pad else w
    blk = wp.reshape(n, groups, g)
    mn, mx = blk.min(axis=2), blk.max(axis=2)
    absmax = np.maximum(np.abs(mn), np.abs(mx))
    bits, cb = sc["bits"], sc["codebook"]
    if cb == "int" and sc["sym"]:
        m = np.where(np.abs(mn) > np.abs(mx), mn, mx)
        scale = (m / F32(-(1 << (bits - 1)))).astype(np.float32)
    elif cb == "int":
        mn, mx = np.minimum(mn, 0), np.maximum(mx, 0)
        scale = ((mx - mn) / F32((1 << bits) - 1)).astype(np.float32)
    elif cb == "nf4":
        scale = absmax
    elif cb == "fp4":
        scale = (absmax / F32(6)).astype(np.float32)
    else:
        scale = (absmax / F32(448)).astype(np.float32)
    if sc["dq"]:
        scale = double_quantize(scale, sc["dq"], cb == "int" and sc["sym"])
    else:
        scale = store_scale(scale, sc["scale"])
    safe = np.where(scale != 0, scale, F32(1))
    inv = np.where(scale != 0, (F32(1) / safe).astype(np.float32), F32(0))[:, :, None]
    x = (blk * inv).astype(np.float32)
    s3 = scale[:, :, None]
    maxq = F32((1 << bits) - 1)
    if cb == "int" and sc["sym"]:
        u = np.clip(round_half_away((x + F32(1 << (bits - 1))).astype(np.float32)), 0, maxq)
        deq = (u - F32(1 << (bits - 1))) * s3
    elif cb == "int":
        zero = np.where(scale != 0, round_half_away((-mn / safe).astype(np.float32)), 0)
        zero = np.clip(zero, 0, maxq)[:, :, None]
        u = np.clip(round_half_away(x) + zero, 0, maxq)
        deq = (u - zero) * s3
    elif cb in ("nf4", "fp4"):
        table = NF4 if cb == "nf4" else FP4
        idx = np.argmin(np.abs(table[None, None, None, :] - x[..., None]), axis=-1)
        deq = table[idx] * s3
    else:
        deq = fp8_e4m3(x) * s3
    return deq.astype(np.float32).reshape(n, groups * g)[:, :k]


def quantize_input(model, weight, scale):
    """Puts QuantizeLinear -> DequantizeLinear on the data input of the matmul reading `weight`."""
    readers = {weight}
    for node in model.graph.node:
        if node.op_type == "Transpose" and node.input[0] == weight:
            readers.add(node.output[0])
    for i, node in enumerate(model.graph.node):
        if node.op_type in ("MatMul", "Gemm") and node.input[1] in readers:
            x = node.input[0]
            s_name, z_name = weight + ".act_scale", weight + ".act_zero"
            model.graph.initializer.extend([
                numpy_helper.from_array(np.array(scale, np.float32), s_name),
                numpy_helper.from_array(np.array(0, np.int8), z_name)])
            q = onnx.helper.make_node("QuantizeLinear", [x, s_name, z_name], [x + ".q." + weight])
            dq = onnx.helper.make_node("DequantizeLinear", [x + ".q." + weight, s_name, z_name],
                                       [x + ".dq." + weight])
            node.input[0] = x + ".dq." + weight
            model.graph.node.insert(i, dq)
            model.graph.node.insert(i, q)
            return
    raise SystemExit(f"no matmul reads {weight}")


def main():
    model_path, report_path, out_path = sys.argv[1:4]
    model = onnx.load(model_path)
    report = json.load(open(report_path))
    tensors = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] not in tensors:
            for a in node.attribute:
                if a.name == "value":
                    tensors[node.output[0]] = a.t
    for layer in report["layers"]:
        t = tensors[layer["weight"]]
        w = numpy_helper.to_array(t).astype(np.float32)
        rows = w if layer["weight_layout"] == "NxK" else w.T
        q = fake_quant(np.ascontiguousarray(rows), parse_scheme(layer["scheme"]))
        q = q if layer["weight_layout"] == "NxK" else q.T
        t.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(q), t.name))
        if layer.get("activation_scale", 0.0) > 0.0:
            quantize_input(model, layer["weight"], layer["activation_scale"])
    onnx.save(model, out_path)
    print(f"replaced {len(report['layers'])} weights")


if __name__ == "__main__":
    main()
