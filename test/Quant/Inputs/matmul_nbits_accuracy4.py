#!/usr/bin/env python3
"""matmul_nbits_accuracy4.py WORKDIR - MatMulNBits at accuracy_level 4 (int8 activations), random
weights, compiled by qopt and run by qopt and by ONNX Runtime on the same inputs.

With accuracy level 4 ONNX Runtime quantizes each activation row to int8 per weight block; qopt does
the same, so the results agree to float-summation order (1e-5 x max|reference|), where float
activations would differ by about 1e-2. Prints one line per case and `N passed, N failed`.
"""
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, save

WORK = sys.argv[1]
ORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oracle", "run_ort.js")
rs = np.random.RandomState(11)


def model(name, k, n, bits, block, zero_points):
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
    node = helper.make_node("MatMulNBits", inputs, ["y"], domain="com.microsoft", K=k, N=n,
                            bits=bits, block_size=block, accuracy_level=4)
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", n])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    path = os.path.join(WORK, name + ".onnx")
    save(m, path)
    return path


results = []
for k, n, bits, block, zp, rows in [(256, 48, 4, 32, False, 1), (256, 48, 4, 32, True, 7),
                                    (192, 40, 4, 64, True, 3), (512, 24, 4, 128, False, 9),
                                    (128, 32, 4, 16, True, 2), (256, 40, 8, 32, True, 5),
                                    (96, 16, 8, 32, False, 1)]:
    name = f"nbits{bits}_k{k}_b{block}_{'asym' if zp else 'sym'}_m{rows}"
    path = model(name, k, n, bits, block, zp)
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
