#!/usr/bin/env python3
"""batched_matmul_vs_ort.py WORKDIR [QOPT-COMPILE FLAG...] - MatMul of two activations (attention's per-head products)
compiled by qopt and run on two threads, compared with ONNX Runtime: the generated kernel (K and N
read at run time, rows of the rhs read with masked loads) and, as a control, OpenBLAS
(--generate-matmul=false). Products split across the worker pool one per thread, broadcast batch
dimensions, a shared 2-D rhs split by columns, widths that are not a multiple of any panel, a
transposed 2-D rhs (a generated copy, then the kernel; BLAS reads it transposed), large and tiny
products. Prints one line per case and
`N passed, N failed`.
"""
import sys

import numpy as np
from onnx import helper
from ort_compare import Cases  # beside this script

cases = Cases(sys.argv[1], "_blas", ["--generate-matmul=false"], sys.argv[2:])
rs = np.random.RandomState(3)


def case(name, a_shape, b_shape, transpose_b=False):
    a, b = rs.randn(*a_shape), rs.randn(*b_shape)
    bt = np.swapaxes(b, -1, -2) if transpose_b else b
    out_shape = list(np.matmul(a, bt).shape)
    nodes = [helper.make_node("MatMul", ["a", "t" if transpose_b else "b"], ["y"])]
    if transpose_b:
        nodes.insert(0, helper.make_node("Transpose", ["b"], ["t"], perm=[1, 0]))
    cases.case(name, {"a": a, "b": b}, nodes, out_shape)


case("heads", [6, 128, 64], [6, 64, 128])                 # split across the pool
case("heads_odd", [1, 5, 96, 40], [1, 5, 40, 72])         # an odd number of parts, N = 72
case("broadcast_batch", [1, 6, 128, 64], [2, 1, 64, 128])  # 12 products, broadcast offsets
case("shared_weight", [2, 3, 50, 64], [64, 96])           # one product over all rows
case("shared_columns", [300, 64], [64, 200])              # split by columns, N = 200
case("large_products", [2, 256, 128], [2, 128, 256])      # BLAS threads each
case("tiny_products", [3, 1, 64], [3, 64, 5])             # too small to split
case("transposed_rhs", [7, 33], [20, 33], transpose_b=True)  # copied, or read transposed by BLAS
cases.summary()
