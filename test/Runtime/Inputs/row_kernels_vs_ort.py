#!/usr/bin/env python3
"""row_kernels_vs_ort.py WORKDIR [QOPT-COMPILE FLAG...] - softmax, RMSNorm and LayerNorm, which qopt compiles into
generated row kernels, compared with ONNX Runtime on the same random inputs: widths with a partial
last vector, rows split across threads, attention masks of -inf and of the most negative float,
LayerNorm over several trailing dims and without a bias, RMSNorm in the spelling exporters write.
Each case is also compiled with --generate-row-kernels=false (the runtime's kernels) as a control;
a softmax over a middle axis runs between two transposes. Prints one line per case and
`N passed, N failed`.
"""
import sys

import numpy as np
from onnx import helper
from ort_compare import Cases  # beside this script

cases = Cases(sys.argv[1], "_runtime", ["--generate-row-kernels=false"], sys.argv[2:])
case = cases.case
N = helper.make_node
rs = np.random.RandomState(7)


# 37 columns: two whole vectors of 16 (four of 8) and a masked step of 5.
case("softmax_rows", {"x": rs.randn(3, 7, 37) * 4}, [N("Softmax", ["x"], ["y"], axis=-1)],
     [3, 7, 37])

# Scores plus a causal mask of -inf, and one of the most negative float (a row of only that
# value is uniform, as exporters' masks make for padding rows).
scores = rs.randn(2, 3, 9, 9).astype(np.float32)
causal = np.triu(np.full((9, 9), -np.inf, dtype=np.float32), 1)
case("softmax_masked_inf", {"s": scores, "m": causal[None, None]}, [
    N("Add", ["s", "m"], ["t"]), N("Softmax", ["t"], ["y"], axis=-1)], [2, 3, 9, 9])
lowest = np.where(np.triu(np.ones((9, 9)), 1) > 0, np.finfo(np.float32).min, 0).astype(np.float32)
lowest[0, :] = np.finfo(np.float32).min
case("softmax_masked_lowest", {"s": scores, "m": lowest[None, None]}, [
    N("Add", ["s", "m"], ["t"]), N("Softmax", ["t"], ["y"], axis=-1)], [2, 3, 9, 9])

# 64 rows of 1000: split across two threads.
case("softmax_threads", {"x": rs.randn(64, 1000)}, [N("Softmax", ["x"], ["y"], axis=1)], [64, 1000])

# A softmax over a middle axis: transposed to the last axis for the row kernel and back.
case("softmax_middle_axis", {"x": rs.randn(2, 5, 3)}, [N("Softmax", ["x"], ["y"], axis=1)], [2, 5, 3])
case("softmax_negative_axis", {"x": rs.randn(2, 4, 5, 3)}, [N("Softmax", ["x"], ["y"], axis=-3)],
     [2, 4, 5, 3])

# RMSNorm as PyTorch exports LlamaRMSNorm (raised to qopt.rms_norm), width 40 and 384.
for width, rows in ((40, 11), (384, 130)):
    case(f"rms_norm_{width}", {"x": rs.randn(1, rows, width)}, [
        N("Pow", ["x", "two"], ["p"]), N("ReduceMean", ["p"], ["m"], axes=[-1], keepdims=1),
        N("Add", ["m", "eps"], ["a"]), N("Sqrt", ["a"], ["s"]), N("Reciprocal", ["s"], ["r"]),
        N("Mul", ["x", "r"], ["n"]), N("Mul", ["w", "n"], ["y"])], [1, rows, width],
        [("two", np.float32(2)), ("eps", np.float32(1e-6)),
         ("w", rs.randn(width))])

# LayerNormalization over the last dim with a bias, over the last two dims, and without a bias.
case("layer_norm_bias", {"x": rs.randn(4, 13, 50) * 3 + 1}, [
    N("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-5)], [4, 13, 50],
    [("g", rs.randn(50)), ("b", rs.randn(50))])
case("layer_norm_two_dims", {"x": rs.randn(2, 3, 40)}, [
    N("LayerNormalization", ["x", "g"], ["y"], axis=1, epsilon=1e-5)], [2, 3, 40],
    [("g", rs.randn(3, 40))])

cases.summary()
