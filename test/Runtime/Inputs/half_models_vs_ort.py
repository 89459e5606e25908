#!/usr/bin/env python3
"""half_models_vs_ort.py WORKDIR - graphs exported in half precision (f16 inputs, weights and
outputs), which qopt computes in f32 (qopt-widen-half-floats), compared with ONNX Runtime on the
same inputs: a linear layer with bias, softmax and a gated product; LayerNorm; an embedding
lookup from an f16 table by int64 ids; a cast to f16 inside the graph; a fill of f16. The result
must be f16 and agree to 1e-3 of the largest reference value (f16 keeps 11 bits). Each case is
also built with --fuse-elementwise=false (the runtime's cast kernels) as a control. Prints one
line per case and `N passed, N failed`.
"""
import sys

import numpy as np
from onnx import TensorProto, helper
from ort_compare import compare  # beside this script

WORK = sys.argv[1]
rs = np.random.RandomState(13)
N = helper.make_node
H = TensorProto.FLOAT16
results = []


def case(name, inputs, nodes, out_shape, consts=(), dynamic=()):
    for suffix, flags in (("", []), ("_runtime_casts", ["--fuse-elementwise=false"])):
        results.append(compare(WORK, name + suffix, inputs, nodes, out_shape, consts, 1e-3, flags,
                               dynamic, out_type=H))


def f16(*shape, scale=1.0):
    return (rs.randn(*shape) * scale).astype(np.float16)


case("linear_softmax", {"x": f16(3, 5, 16)}, [
    N("MatMul", ["x", "w"], ["m"]), N("Add", ["m", "b"], ["a"]),
    N("Softmax", ["a"], ["s"], axis=-1), N("Mul", ["s", "a"], ["y"])], [3, 5, 8],
     [("w", f16(16, 8, scale=0.25)), ("b", f16(8))])
case("layer_norm", {"x": f16(4, 24, scale=3.0)}, [
    N("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-5)], [4, 24],
     [("g", f16(24)), ("b", f16(24))])
case("embedding", {"ids": np.array([[3, 0, 9, 9]], dtype=np.int64)}, [
    N("Gather", ["table", "ids"], ["e"], axis=0), N("Relu", ["e"], ["y"])], [1, 4, 6],
     [("table", f16(10, 6))])
# The fill's f16 value (0.5) was once imported as an f32's bits, that is 0. With a static shape
# the fill folds at compile time; with a dynamic one the generated fill runs.
fill_nodes = [
    N("Cast", ["x"], ["xf"], to=TensorProto.FLOAT), N("Mul", ["xf", "xf"], ["sq"]),
    N("Cast", ["sq"], ["h"], to=H), N("Shape", ["x"], ["s"]),
    N("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", H, [1], [0.5])),
    N("Add", ["h", "c"], ["y"])]
case("inner_cast_and_fill", {"x": f16(2, 7)}, fill_nodes, [2, 7])
case("fill_dynamic", {"x": f16(2, 7)}, fill_nodes, [2, 7], dynamic=("x",))

print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
