#!/usr/bin/env python3
"""qlinear_ops_vs_ort.py WORKDIR - ONNX Runtime's QOperator ops, one small model each, compiled by qopt
and run by qopt and by ONNX Runtime (test/oracle/run_ort.js) on random 8-bit inputs.

Integer outputs must be identical (qopt computes QLinearAdd, QLinearMul and QLinearSoftmax the way
ONNX Runtime's kernels do, the others through the exact QuantizeLinear rounding); float outputs
(QGemm without y_scale, DynamicQuantizeMatMul, MatMulIntegerToFloat) agree to 1e-5 x max|reference|.
Prints one line per case and `N passed, N failed`.
"""
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, save

WORK = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
ORT = os.path.join(ROOT, "test", "oracle", "run_ort.js")
rs = np.random.RandomState(3)
U8, I8 = TensorProto.UINT8, TensorProto.INT8
NP = {U8: np.uint8, I8: np.int8}


def scalar(name, elem, value):
    return helper.make_tensor(name, elem, [], [value])


def run_case(name, node, inputs, inits, integer=True):
    """inputs: list of (name, elem type, numpy array); the node's single output is cast to f32."""
    graph_inputs = [helper.make_tensor_value_info(n, t, list(a.shape)) for n, t, a in inputs]
    cast = helper.make_node("Cast", [node.output[0]], ["y"], to=TensorProto.FLOAT)
    graph = helper.make_graph([node, cast], name, graph_inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path = os.path.join(WORK, name + ".onnx")
    save(model, path)
    feeds = []
    for n, _, a in inputs:
        np.save(os.path.join(WORK, f"{name}.{n}.npy"), a)
        feeds.append(f"{n}={os.path.join(WORK, f'{name}.{n}.npy')}")
    ref, out = os.path.join(WORK, name + ".ref.npy"), os.path.join(WORK, name + ".out.npy")
    subprocess.run(["node", ORT, path, ref] + feeds, check=True)
    so = os.path.join(WORK, name + ".so")
    subprocess.run(["qopt-compile", path, "-o", so], check=True)
    cmd = ["qopt-run", so, "--output", out]
    for f in feeds:
        cmd += ["--input", f]
    subprocess.run(cmd, check=True)
    r, q = np.load(ref), np.load(out)
    if r.shape != q.shape:
        print(f"{name}: FAIL shape {q.shape} vs {r.shape}")
        return False
    diff = float(np.abs(r - q).max())
    limit = 0.0 if integer else 1e-5 * float(np.abs(r).max())
    ok = diff <= limit
    print(f"{name}: {'ok' if ok else 'FAIL'} max abs diff {diff:.3g}"
          + (f", {int((r != q).sum())} of {r.size} differ" if not ok else ""))
    return ok


def codes(elem, shape):
    return rs.randint(0, 256, shape).astype(np.uint8) if elem == U8 else \
        rs.randint(-128, 128, shape).astype(np.int8)


results = []
for elem, tag in [(U8, "u8"), (I8, "s8")]:
    zp = 131 if elem == U8 else -7
    params = [scalar("sa", TensorProto.FLOAT, 0.0371), scalar("za", elem, zp),
              scalar("sb", TensorProto.FLOAT, 0.0123), scalar("zb", elem, zp // 2),
              scalar("sc", TensorProto.FLOAT, 0.0419), scalar("zc", elem, zp - 3)]
    for op in ["QLinearAdd", "QLinearMul"]:
        # Same shapes, a broadcast row, a broadcast column (a scalar per span), one value.
        for shape_b, case in [((4, 9, 40), "full"), ((40,), "row"), ((4, 9, 1), "col"), ((1,), "one")]:
            a, b = codes(elem, (4, 9, 40)), codes(elem, shape_b)
            node = helper.make_node(op, ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["c"],
                                    domain="com.microsoft")
            results.append(run_case(f"{op}_{tag}_{case}", node, [("a", elem, a), ("b", elem, b)],
                                    params))
        a, b = codes(elem, (4, 9, 1)), codes(elem, (4, 9, 40))
        node = helper.make_node(op, ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["c"],
                                domain="com.microsoft")
        results.append(run_case(f"{op}_{tag}_acol", node, [("a", elem, a), ("b", elem, b)], params))

    # Softmax: random rows, and the causal-mask rows of an exported attention, whose huge input
    # scale leaves each row as equal maxima (the ties the kernel's grouping decides).
    ys = 1 / 255 if elem == U8 else 1 / 256
    yz = 0 if elem == U8 else -128
    hi, lo = (255, 0) if elem == U8 else (127, -128)
    mask = np.where(np.tril(np.ones((6, 6))) > 0, hi, lo)[None, None].repeat(2, 1).astype(NP[elem])
    for xs, x, case in [(0.07, codes(elem, (3, 5, 37)), "random"), (1.3344406e36, mask, "mask")]:
        node = helper.make_node("QLinearSoftmax", ["x", "xs", "xz", "ys", "yz"], ["y8"],
                                domain="com.microsoft", axis=-1, opset=13)
        inits = [scalar("xs", TensorProto.FLOAT, xs), scalar("xz", elem, zp),
                 scalar("ys", TensorProto.FLOAT, ys), scalar("yz", elem, yz)]
        results.append(run_case(f"QLinearSoftmax_{tag}_{case}", node, [("x", elem, x)], inits))

    unary = [scalar("xs", TensorProto.FLOAT, 0.05), scalar("xz", elem, zp),
             scalar("ys", TensorProto.FLOAT, 0.0041), scalar("yz", elem, zp // 3)]
    x = codes(elem, (7, 33))
    for op, attrs in [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1})]:
        node = helper.make_node(op, ["x", "xs", "xz", "ys", "yz"], ["y8"], domain="com.microsoft",
                                **attrs)
        results.append(run_case(f"{op}_{tag}", node, [("x", elem, x)], unary))
    node = helper.make_node("QLinearConcat", ["ys", "yz", "x", "xs", "xz", "w", "sb", "zb"], ["y8"],
                            domain="com.microsoft", axis=1)
    results.append(run_case(f"QLinearConcat_{tag}", node,
                            [("x", elem, x), ("w", elem, codes(elem, (7, 5)))],
                            unary + [scalar("sb", TensorProto.FLOAT, 0.0123),
                                     scalar("zb", elem, zp // 2)]))

# QGemm (uint8 activations, int8 weight, int32 bias), with and without requantized output.
a = codes(U8, (5, 24))
gemm = [scalar("sa", TensorProto.FLOAT, 0.02), scalar("za", U8, 120),
        helper.make_tensor("w", I8, [16, 24], rs.randint(-128, 128, 16 * 24).tolist()),
        scalar("sw", TensorProto.FLOAT, 0.01), scalar("zw", I8, 0),
        helper.make_tensor("bias", TensorProto.INT32, [16], rs.randint(-500, 500, 16).tolist()),
        scalar("sy", TensorProto.FLOAT, 0.3), scalar("zy", U8, 128)]
node = helper.make_node("QGemm", ["a", "sa", "za", "w", "sw", "zw", "bias"], ["yf"],
                        domain="com.microsoft", transB=1)
results.append(run_case("QGemm_float", node, [("a", U8, a)], gemm, integer=False))
node = helper.make_node("QGemm", ["a", "sa", "za", "w", "sw", "zw", "bias", "sy", "zy"], ["y8"],
                        domain="com.microsoft", transB=1)
results.append(run_case("QGemm_u8", node, [("a", U8, a)], gemm))

# Activations quantized on the fly.
wt = helper.make_tensor("wt", I8, [24, 16], rs.randint(-128, 128, 24 * 16).tolist())
node = helper.make_node("DynamicQuantizeMatMul", ["x", "wt", "sw"], ["yf"], domain="com.microsoft")
results.append(run_case("DynamicQuantizeMatMul", node,
                        [("x", TensorProto.FLOAT, rs.randn(5, 24).astype(np.float32))],
                        [wt, scalar("sw", TensorProto.FLOAT, 0.01)], integer=False))
node = helper.make_node("MatMulIntegerToFloat", ["a", "wt", "sa", "sw", "za"], ["yf"],
                        domain="com.microsoft")
results.append(run_case("MatMulIntegerToFloat", node, [("a", U8, a)],
                        [wt, scalar("sa", TensorProto.FLOAT, 0.02), scalar("sw", TensorProto.FLOAT, 0.01),
                         scalar("za", U8, 120)], integer=False))

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
