#!/usr/bin/env python3
"""fused_elementwise_vs_ort.py WORKDIR - chains of elementwise ops that qopt compiles into generated
(fused) kernels, compared with ONNX Runtime on the same random inputs: broadcasting in every
position (leading, middle and trailing dimensions, rank 0, dimensions of 1 between others),
tensors large enough to be split across threads, and every fusible op. Prints one line per case
and `N passed, N failed`.
"""
import sys

import numpy as np
from onnx import TensorProto, helper
from ort_compare import compare  # beside this script

WORK = sys.argv[1]
rs = np.random.RandomState(11)


def case(name, inputs, nodes, out_shape, consts=(), tol=1e-5):
    return compare(WORK, name, inputs, nodes, out_shape, consts, tol)


N = helper.make_node
results = []

# GELU as exporters spell it, with a bias broadcast along rows; 614400 elements run on two threads
# (split along the two leading dimensions, merged).
x = rs.randn(4, 300, 512)
results.append(case("gelu_bias", {"x": x, "b": rs.randn(512) * 0.1}, [
    N("Add", ["x", "b"], ["t0"]), N("Div", ["t0", "sqrt2"], ["t1"]), N("Erf", ["t1"], ["t2"]),
    N("Add", ["t2", "one"], ["t3"]), N("Mul", ["t0", "t3"], ["t4"]),
    N("Mul", ["t4", "half"], ["y"])], [4, 300, 512],
    consts=[("sqrt2", np.float32(np.sqrt(2))), ("one", np.float32(1)), ("half", np.float32(0.5))]))

# Broadcasting in the leading, middle and trailing dimensions at once: no dimensions merge.
results.append(case("broadcast_middle", {
    "a": rs.randn(4, 1, 33), "b": rs.randn(4, 7, 1), "c": rs.randn(7, 33)}, [
    N("Mul", ["a", "b"], ["t0"]), N("Add", ["t0", "c"], ["t1"]), N("Tanh", ["t1"], ["t2"]),
    N("Exp", ["t2"], ["y"])], [4, 7, 33]))

# A rank-0 graph input and dimensions of 1 between others (they merge away).
results.append(case("scalar_and_ones", {
    "x": rs.randn(2, 1, 16, 1, 8), "s": np.array(0.75), "z": rs.randn(2, 1, 16, 1, 8)}, [
    N("Mul", ["x", "s"], ["t0"]), N("Sub", ["t0", "z"], ["t1"]), N("Sigmoid", ["t1"], ["y"])],
    [2, 1, 16, 1, 8]))

# Rows broadcast against columns over 600000 elements: split across threads by the outer dim.
results.append(case("rows_and_columns", {
    "x": rs.randn(3, 200000), "r": rs.randn(200000), "c": rs.randn(3, 1)}, [
    N("Add", ["x", "r"], ["t0"]), N("Mul", ["t0", "c"], ["t1"]), N("Relu", ["t1"], ["t2"]),
    N("Max", ["t2", "r"], ["t3"]), N("Min", ["t3", "c"], ["y"])], [3, 200000]))

# Every fusible op once, in one chain over values in a safe range for each.
v = rs.uniform(-3, 3, size=(5, 37))
results.append(case("every_op", {"x": v, "p": rs.uniform(0.5, 2, size=(37,))}, [
    N("Neg", ["x"], ["a0"]), N("Abs", ["a0"], ["a1"]), N("Sqrt", ["a1"], ["a2"]),
    N("Add", ["a2", "one"], ["a3"]), N("Reciprocal", ["a3"], ["a4"]), N("Log", ["a4"], ["a5"]),
    N("Sin", ["a5"], ["a6"]), N("Cos", ["a6"], ["a7"]), N("Mul", ["a7", "x"], ["a8"]),
    N("Floor", ["a8"], ["b0"]), N("Ceil", ["a8"], ["b1"]), N("Round", ["a8"], ["b2"]),
    N("Sign", ["a8"], ["b3"]), N("Add", ["b0", "b1"], ["b4"]), N("Add", ["b4", "b2"], ["b5"]),
    N("Add", ["b5", "b3"], ["b6"]), N("Pow", ["a3", "three"], ["c0"]),
    N("Pow", ["a3", "p"], ["c1"]), N("Div", ["c0", "c1"], ["c2"]), N("Sub", ["c2", "b6"], ["c3"]),
    N("Erf", ["a8"], ["d0"]), N("Tanh", ["x"], ["d1"]), N("Exp", ["d1"], ["d2"]),
    N("Mul", ["d0", "d2"], ["d3"]), N("Add", ["c3", "d3"], ["y"])], [5, 37],
    consts=[("one", np.float32(1)), ("three", np.float32(3))]))

# The activations qopt raises before fusion (SiLU from x * sigmoid(x), GELU's tanh form).
g = rs.randn(1, 9, 96) * 3
results.append(case("raised_activations", {"g": g, "u": rs.randn(1, 9, 96)}, [
    N("Sigmoid", ["g"], ["s"]), N("Mul", ["g", "s"], ["silu"]), N("Mul", ["silu", "u"], ["y"])],
    [1, 9, 96]))

# A chain over 18 distinct inputs: more operands than the runtime describes on the stack.
many = {f"i{k}": rs.randn(3, 1, 8) if k % 3 == 0 else rs.randn(4, 8) for k in range(18)}
sum_nodes = [N("Add", ["i0", "i1"], ["s1"])]
for k in range(2, 18):
    sum_nodes.append(N("Mul" if k % 4 == 0 else "Add", [f"s{k - 1}", f"i{k}"],
                       ["y" if k == 17 else f"s{k}"]))
results.append(case("many_inputs", many, sum_nodes, [3, 4, 8]))

# An attention mask and the NaN guard that exporters put after a softmax: a bool input, where,
# comparisons, logic and NaN tests, ending in f32; and a chain that ends in a bool result.
scores = rs.randn(2, 3, 5, 5)
scores[0, 1, 2, :] = np.nan
mask = rs.rand(1, 1, 5, 5) > 0.3
results.append(case("mask_and_guard", {"s": scores, "m": mask}, [
    N("Where", ["m", "zero", "ninf"], ["bias"]), N("Add", ["s", "bias"], ["t0"]),
    N("IsNaN", ["t0"], ["nan"]), N("Where", ["nan", "zero", "t0"], ["t1"]),
    N("Greater", ["t1", "zero"], ["pos"]), N("Not", ["m"], ["notm"]),
    N("Or", ["pos", "notm"], ["keep"]), N("LessOrEqual", ["t1", "one"], ["small"]),
    N("And", ["keep", "small"], ["sel"]), N("Equal", ["t1", "zero"], ["z"]),
    N("GreaterOrEqual", ["t1", "ninf"], ["ge"]), N("Less", ["t1", "one"], ["lt"]),
    N("Xor", ["z", "ge"], ["zx"]), N("Where", ["sel", "t1", "one"], ["t2"]),
    N("Where", ["zx", "t2", "zero"], ["t3"]), N("Where", ["lt", "t3", "one"], ["y"])], [2, 3, 5, 5],
    consts=[("zero", np.float32(0)), ("one", np.float32(1)), ("ninf", np.float32(-3.0e38))]))

# Position and mask arithmetic on int64 (as exporters compute positions from an attention mask),
# int32 arithmetic, and casts between float, bool, int32 and int64, all in generated kernels.
ids = rs.randint(-9, 9, size=(3, 1, 7)).astype(np.int64)
other = rs.randint(-9, 9, size=(1, 4, 7)).astype(np.int64)
i64 = lambda v: np.array(v, dtype=np.int64)
results.append(case("int64_positions", {"a": ids, "b": other}, [
    N("Sub", ["a", "b"], ["d"]), N("Max", ["d", "zero"], ["m"]), N("Mul", ["m", "three"], ["p"]),
    N("Less", ["a", "b"], ["lt"]), N("Where", ["lt", "p", "b"], ["w"]), N("Abs", ["w"], ["aw"]),
    N("Neg", ["aw"], ["n"]), N("Min", ["n", "a"], ["mn"]), N("Add", ["mn", "three"], ["s"]),
    N("Sign", ["s"], ["sg"]), N("Add", ["sg", "s"], ["t"]),
    N("Equal", ["t", "a"], ["eq"]), N("GreaterOrEqual", ["t", "b"], ["ge"]),
    N("Or", ["eq", "ge"], ["o"]), N("Cast", ["o"], ["oi"], to=TensorProto.INT64),
    N("Add", ["t", "oi"], ["u"]), N("Cast", ["u"], ["y"], to=TensorProto.FLOAT)], [3, 4, 7],
    consts=[("zero", i64(0)), ("three", i64(3))]))
x = (rs.randn(5, 6) * 40).astype(np.float32)
x[0, :4] = [-2.7, 2.7, -0.5, 0.0]
results.append(case("casts", {"x": x, "k": rs.randint(-5, 5, size=(5, 6)).astype(np.int64)}, [
    N("Cast", ["x"], ["xi"], to=TensorProto.INT32), N("Cast", ["k"], ["ki"], to=TensorProto.INT32),
    N("Mul", ["xi", "ki"], ["p"]), N("Sub", ["p", "xi"], ["q"]),
    N("Cast", ["q"], ["ql"], to=TensorProto.INT64), N("Cast", ["x"], ["b"], to=TensorProto.BOOL),
    N("Cast", ["b"], ["bl"], to=TensorProto.INT64), N("Add", ["ql", "bl"], ["s"]),
    N("Cast", ["k"], ["kb"], to=TensorProto.BOOL), N("Cast", ["kb"], ["kf"], to=TensorProto.FLOAT),
    N("Cast", ["s"], ["sf"], to=TensorProto.FLOAT), N("Add", ["sf", "kf"], ["y"])], [5, 6]))

# Integer division (truncating) and modulo (the divisor's sign) on int64 and int32 with divisors of
# both signs, and a float fmod.
num = rs.randint(-50, 50, size=(4, 9)).astype(np.int64)
den = rs.choice([-7, -3, -1, 1, 2, 5], size=(4, 9)).astype(np.int64)
results.append(case("integer_division", {"a": num, "b": den, "x": rs.randn(4, 9) * 10}, [
    N("Div", ["a", "b"], ["q"]), N("Mod", ["a", "b"], ["r"]), N("Add", ["q", "r"], ["s"]),
    N("Cast", ["a"], ["a32"], to=TensorProto.INT32), N("Cast", ["b"], ["b32"], to=TensorProto.INT32),
    N("Mod", ["a32", "b32"], ["r32"]), N("Div", ["a32", "b32"], ["q32"]),
    N("Sub", ["r32", "q32"], ["d32"]), N("Cast", ["d32"], ["d"], to=TensorProto.INT64),
    N("Mul", ["s", "d"], ["p"]), N("Cast", ["p"], ["pf"], to=TensorProto.FLOAT),
    N("Mod", ["x", "three"], ["fm"], fmod=1), N("Add", ["pf", "fm"], ["y"])], [4, 9],
    consts=[("three", np.float32(3))]))

print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
