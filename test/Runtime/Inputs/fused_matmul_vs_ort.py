#!/usr/bin/env python3
"""fused_matmul_vs_ort.py WORKDIR [QOPT-COMPILE FLAG...] - linear layers that qopt compiles into generated matmul kernels
(weights packed in panels, the consuming elementwise chain as epilogue), compared with ONNX
Runtime on the same random inputs: row counts that use every row block (8/4/1 or 6/3/1), partial
last panels, K of 1, 1-D and 3-D activations, transposed weights and Gemm (in every form),
bias/GELU/residual
epilogues, an epilogue input broadcast over some rows, one weight shared by two products, and
products large enough to be split across threads by panels and by rows. Every case is also
compiled with --generate-matmul=false (BLAS) as a control. Prints one line per case and
`N passed, N failed`.
"""
import sys

import numpy as np
from onnx import helper
from ort_compare import Cases  # beside this script

cases = Cases(sys.argv[1], "_blas", ["--generate-matmul=false"], sys.argv[2:])
case = cases.case
rs = np.random.RandomState(5)
N = helper.make_node


def w(*shape):
    return rs.randn(*shape) / np.sqrt(shape[0])


# 29 rows = 3 blocks of 8, one of 4, one single row (AVX-512; 4x6 + 3 + 2x1 on AVX2); N = 70 leaves
# a partial last panel (masked stores).
case("odd_sizes", {"x": rs.randn(29, 37)}, [N("MatMul", ["x", "W"], ["y"])], [29, 70],
     [("W", w(37, 70))])

# One token: a GEMV-shaped product with a bias, split across threads by panels.
case("decode_row", {"x": rs.randn(1, 1, 384)}, [
    N("MatMul", ["x", "W"], ["t"]), N("Add", ["t", "b"], ["y"])], [1, 1, 1024],
    [("W", w(384, 1024)), ("b", rs.randn(1024))])

# A GPT-2 MLP's first half: bias and GELU (erf form) in the epilogue, 3-D activations.
case("gelu_mlp", {"x": rs.randn(2, 64, 96)}, [
    N("MatMul", ["x", "W"], ["t0"]), N("Add", ["t0", "b"], ["t1"]),
    N("Div", ["t1", "sqrt2"], ["t2"]), N("Erf", ["t2"], ["t3"]), N("Add", ["t3", "one"], ["t4"]),
    N("Mul", ["t1", "t4"], ["t5"]), N("Mul", ["t5", "half"], ["y"])], [2, 64, 200],
    [("W", w(96, 200)), ("b", rs.randn(200) * 0.1), ("sqrt2", np.float32(np.sqrt(2))),
     ("one", np.float32(1)), ("half", np.float32(0.5))])

# A residual add of the layer's own input (one row of the residual per output row).
case("residual", {"x": rs.randn(3, 17, 40)}, [
    N("MatMul", ["x", "W"], ["t"]), N("Add", ["t", "x"], ["y"])], [3, 17, 40], [("W", w(40, 40))])

# An epilogue input broadcast over the middle dimension (neither one row for all nor one per row).
case("broadcast_rows", {"x": rs.randn(3, 17, 24), "s": rs.randn(3, 1, 24)}, [
    N("MatMul", ["x", "W"], ["t"]), N("Mul", ["t", "s"], ["y"])], [3, 17, 24], [("W", w(24, 24))])

# The weight stored [N, K] and transposed in the graph (tied heads), and Gemm with transB and a
# bias of one row or of every row.
case("transposed", {"x": rs.randn(6, 33)}, [
    N("Transpose", ["Wt"], ["t"], perm=[1, 0]), N("MatMul", ["x", "t"], ["y"])], [6, 50],
    [("Wt", w(50, 33))])
case("gemm_bias", {"x": rs.randn(9, 20)}, [N("Gemm", ["x", "W", "c"], ["y"], transB=1)], [9, 12],
     [("W", w(12, 20)), ("c", rs.randn(12))])
case("gemm_bias_rows", {"x": rs.randn(9, 20)}, [N("Gemm", ["x", "W", "c"], ["y"])], [9, 12],
     [("W", w(20, 12)), ("c", rs.randn(9, 12))])

# Gemm's other forms (qopt-decompose-to-kernel-forms): transposed A and B with alpha and beta on a
# constant weight; two activations with a bias broadcast along the rows; a bias of one column.
case("gemm_general", {"a": rs.randn(20, 9)}, [
    N("Gemm", ["a", "W", "c"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0)], [9, 12],
     [("W", w(12, 20)), ("c", rs.randn(12))])
case("gemm_activations", {"a": rs.randn(9, 20), "b": rs.randn(20, 12), "c": rs.randn(9, 1)}, [
    N("Gemm", ["a", "b", "c"], ["y"], alpha=1.5)], [9, 12])
case("gemm_column_bias", {"x": rs.randn(9, 20)}, [N("Gemm", ["x", "W", "c"], ["y"], beta=0.25)],
     [9, 12], [("W", w(20, 12)), ("c", rs.randn(9, 1))])

# K = 1, and a 1-D activation.
case("k_one", {"x": rs.randn(5, 1)}, [N("MatMul", ["x", "W"], ["y"])], [5, 7], [("W", w(1, 7))])
case("vector_input", {"x": rs.randn(16)}, [N("MatMul", ["x", "W"], ["y"])], [33],
     [("W", w(16, 33))])

# One weight feeding two products whose sum is the second one's epilogue.
case("shared_weight", {"a": rs.randn(4, 10), "b": rs.randn(4, 10)}, [
    N("MatMul", ["a", "W"], ["p"]), N("MatMul", ["b", "W"], ["q"]), N("Add", ["p", "q"], ["y"])],
    [4, 18], [("W", w(10, 18))])

# A tied embedding: the table feeds the lookup and, transposed, the head; the lookup reads the
# head's panels (negative ids count from the end).
case("tied_embedding", {"ids": np.array([[0, 5, 49, -1, 17, 3, -50]])}, [
    N("Gather", ["E", "ids"], ["h"], axis=0), N("Transpose", ["E"], ["t"], perm=[1, 0]),
    N("MatMul", ["h", "t"], ["y"])], [1, 7, 50], [("E", w(50, 24))])

# One panel and 2000 rows: split across threads by rows; then a 128-token layer split by panels.
case("rows_split", {"x": rs.randn(2000, 64)}, [N("MatMul", ["x", "W"], ["y"])], [2000, 20],
     [("W", w(64, 20))])
case("prefill", {"x": rs.randn(1, 128, 768)}, [
    N("MatMul", ["x", "W"], ["t"]), N("Add", ["t", "b"], ["y"])], [1, 128, 768],
    [("W", w(768, 768)), ("b", rs.randn(768))])

cases.summary()
