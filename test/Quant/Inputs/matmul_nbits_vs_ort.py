#!/usr/bin/env python3
"""matmul_nbits_vs_ort.py WORKDIR - MatMulNBits with random weights, compiled by qopt and run by
qopt and by ONNX Runtime on the same inputs: at accuracy_level 4 (int8 activations) and with g_idx
(act-order groups).

With accuracy level 4 ONNX Runtime quantizes each activation row to int8 per weight block; qopt does
the same, so the results agree to float-summation order (1e-5 x max|reference|), where float
activations would differ by about 1e-2. With g_idx, column i uses group g_idx[i]. Prints one line
per case and `N passed, N failed`.
"""
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, save

WORK = sys.argv[1]
ORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oracle", "run_ort.js")
rs = np.random.RandomState(11)


def model(name, k, n, bits, block, zero_points, accuracy=4, act_order=False):
    blocks = (k + block - 1) // block
    codes = rs.randint(0, 1 << bits, (n, blocks * block))
    codes[:, k:] = 0
    per_byte = 8 // bits
    packed = np.zeros((n, blocks, block * bits // 8), np.uint8)
    flat = codes.reshape(n, blocks, block)
    for j in range(per_byte):
        packed |= (flat[:, :, j::per_byte] << (j * bits)).astype(np.uint8)
    scales = (rs.rand(n * blocks).astype(np.float32) * 0.05 + 0.01)
    inits = [helper.make_tensor("b", TensorProto.UINT8, packed.shape, packed.ravel().tolist()),
             helper.make_tensor("s", TensorProto.FLOAT, [n * blocks], scales.tolist())]
    inputs = ["x", "b", "s"]
    if zero_points:
        zp_row = (blocks * bits + 7) // 8
        zps = rs.randint(0, 1 << bits, (n, blocks))
        zpk = np.zeros((n, zp_row), np.uint8)
        for g in range(blocks):
            zpk[:, g * bits // 8] |= (zps[:, g] << ((g * bits) % 8)).astype(np.uint8)
        inits.append(helper.make_tensor("z", TensorProto.UINT8, [n * zp_row], zpk.ravel().tolist()))
        inputs.append("z")
    if act_order:
        # A permutation of the columns, each group keeping `block` of them (as GPTQ's act-order).
        group = (np.argsort(rs.permutation(k)) // block).astype(np.int32)
        inits.append(helper.make_tensor("g", TensorProto.INT32, [k], group.tolist()))
        inputs += [""] * (4 - len(inputs)) + ["g"]
    node = helper.make_node("MatMulNBits", inputs, ["y"], domain="com.microsoft", K=k, N=n,
                            bits=bits, block_size=block, accuracy_level=accuracy)
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", n])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    path = os.path.join(WORK, name + ".onnx")
    save(m, path)
    return path


results = []
for k, n, bits, block, zp, rows, acc, act in [
        (256, 48, 4, 32, False, 1, 4, False), (256, 48, 4, 32, True, 7, 4, False),
        (192, 40, 4, 64, True, 3, 4, False), (512, 24, 4, 128, False, 9, 4, False),
        (128, 32, 4, 16, True, 2, 4, False), (256, 40, 8, 32, True, 5, 4, False),
        (96, 16, 8, 32, False, 1, 4, False), (128, 24, 4, 32, False, 3, 0, True),
        (256, 16, 4, 64, False, 6, 0, True)]:
    name = (f"nbits{bits}_k{k}_b{block}_{'asym' if zp else 'sym'}_m{rows}_acc{acc}"
            + ("_gidx" if act else ""))
    path = model(name, k, n, bits, block, zp, acc, act)
    x = (rs.randn(rows, k) * rs.choice([0.1, 1.0, 5.0], (rows, 1))).astype(np.float32)
    xin = os.path.join(WORK, name + ".x.npy")
    np.save(xin, x)
    ref, out, so = (os.path.join(WORK, name + s) for s in (".ref.npy", ".out.npy", ".so"))
    subprocess.run(["node", ORT, path, ref, f"x={xin}"], check=True)
    subprocess.run(["qopt-compile", path, "-o", so], check=True)
    subprocess.run(["qopt-run", so, "--input", f"x={xin}", "--output", out], check=True)
    r, q = np.load(ref), np.load(out)
    rel = float(np.abs(r - q).max() / np.abs(r).max())
    ok = rel <= 1e-5
    results.append(ok)
    print(f"{name}: {'ok' if ok else 'FAIL'} max abs diff {rel:.2e} x max|reference|")
print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
