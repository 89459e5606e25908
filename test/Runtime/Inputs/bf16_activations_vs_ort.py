#!/usr/bin/env python3
"""bf16_activations_vs_ort.py WORKDIR - `--activations=bf16` (the input of every quantized matmul
rounded to bf16, products summed in f32) against ONNX Runtime running the same quantized weights
(qopt-compile --emit=onnx: MatMulNBits at accuracy level 3, which allows bf16 but which ONNX
Runtime computes in f32 on x86, or DequantizeLinear + MatMul) on the input rounded to bf16
by numpy. One quantized layer, so that the rounded input is the layer's whole input.

Each configuration runs three ways, which must all agree with ONNX Runtime to 1e-5 of its largest
output:
  - panels: channel panels in a library for this CPU (AVX-512-BF16: `vdpbf16ps` for 2-, 3- and
    4-bit integer codes; 8-bit codes take the f32 kernels on the rounded input);
  - rows: --pack-channel-panels=false (the row kernels on the rounded input);
  - vnni: --cpu=cascadelake, AVX-512 VNNI without BF16 (panels, the f32 kernels on the rounded
    input).
The layer has N = 120 (7 whole panels, then 8 channels in rows) and K = 200 (2- and 3-bit:
N = 144, K = 256), rows 1, 3, 13 and 37. The unrounded input must give a result further away (the rounding
happens). Prints one line per case and `N passed, N failed`."""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, save

work = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
ort = os.path.join(here, "..", "..", "oracle", "run_ort.js")
rs = np.random.RandomState(5)


def write_model(name, k, n):
    w = (rs.randn(k, n) / 14).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "bf16",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "s", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "s", n])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = os.path.join(work, name + ".onnx")
    save(model, path)
    return path, k


def round_bf16(x):
    """Round to nearest bf16, ties to even, kept in f32."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32)


models = {4: write_model("layer", 200, 120), 2: write_model("layer2", 256, 144),
          8: write_model("layer8", 200, 120), 3: write_model("layer3", 256, 144)}
configs = {
    "bf16_g64": ["--group-size=64"],
    "bf16_asym_g32": ["--group-size=32", "--asym", "--scale-type=f32"],
    "bf16_channel_bf16scales": ["--group-size=channel", "--scale-type=bf16"],
    "w2_bf16_g32": ["--wbits=2", "--group-size=32"],
    "w2_bf16_asym_g48": ["--wbits=2", "--group-size=48", "--asym"],
    "w8_bf16_g64": ["--wbits=8", "--group-size=64"],
    "w3_bf16_g32": ["--wbits=3", "--group-size=32"],
    "w3_bf16_asym_g64": ["--wbits=3", "--group-size=64", "--asym"],
}


def error(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b))) / float(np.max(np.abs(b)))


results = []
for name, flags in configs.items():
    bits = int(flags[0][len("--wbits="):]) if flags[0].startswith("--wbits=") else 4
    path, k = models[bits]
    base = ["qopt-compile", path, "--activations=bf16"] + \
        (flags if bits != 4 else ["--wbits=4"] + flags)
    libs = {"panels": [], "rows": ["--pack-channel-panels=false"], "vnni": ["--cpu=cascadelake"]}
    for tag, extra in libs.items():
        subprocess.run(base + extra + ["-o", os.path.join(work, f"{name}.{tag}.so")], check=True,
                       stdout=subprocess.DEVNULL)
    export = os.path.join(work, name + ".onnx")
    subprocess.run(base + ["--emit=onnx", "-o", export], check=True, stdout=subprocess.DEVNULL)
    fused = subprocess.run(base + ["--compile-to=fused"], check=True, capture_output=True,
                           text=True).stdout
    levels = [helper.get_attribute_value(a) for node in onnx.load(export).graph.node
              if node.op_type == "MatMulNBits" for a in node.attribute if a.name == "accuracy_level"]
    # MatMulNBits says the precision at accuracy level 3; schemes it cannot hold (per-channel,
    # groups that are no power of two) are exported as DequantizeLinear + MatMul.
    marked = fused.count("bf16_activations") == 1 and fused.count("channel_panels") == 1 and \
        levels in ([3], [])
    for s in (1, 3, 13, 37):
        x = rs.randn(1, s, k).astype(np.float32)
        raw, rounded = (os.path.join(work, f"{name}.{s}.{t}.npy") for t in ("x", "xr"))
        np.save(raw, x)
        np.save(rounded, round_bf16(x))
        refs = {}
        for tag, inp in (("ort", rounded), ("ort_f32", raw)):
            refs[tag] = os.path.join(work, f"{name}.{s}.{tag}.npy")
            # Weights exported as DequantizeLinear + MatMul: ONNX Runtime's fusion of them into
            # MatMulNBits must keep f32 arithmetic (its default is int8).
            subprocess.run(["node", ort, "--config", "session.qdq_matmulnbits_accuracy_level=0",
                            export, refs[tag], f"x={inp}"], check=True)
        ref = np.load(refs["ort"]).astype(np.float64)
        errors = {}
        for tag in libs:
            out = os.path.join(work, f"{name}.{s}.{tag}.npy")
            subprocess.run(["qopt-run", os.path.join(work, f"{name}.{tag}.so"), "--threads", "2",
                            "--input", f"x={raw}", "--output", out], check=True)
            errors[tag] = error(np.load(out), ref)
        unrounded = error(np.load(refs["ort_f32"]), ref)
        ok = marked and max(errors.values()) <= 1e-5 and unrounded > 1e-4
        results.append(ok)
        print(f"{name} rows={s}: {'ok' if ok else 'FAIL'} "
              + ", ".join(f"{t} {e:.2e}" for t, e in errors.items())
              + f" x max|ort|; f32 input {unrounded:.2e}; marked {marked}")
print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
