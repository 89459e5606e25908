#!/usr/bin/env python3
"""data_kernels_vs_ort.py WORKDIR - data movement and reductions, which qopt compiles into
generated kernels (strided copies, gathers, reductions), compared with ONNX Runtime on the same
random inputs. Covers every op that takes such a kernel, on 1-, 4- and 8-byte elements, with
negative slice steps, broadcasts, uneven splits, negative and int32 indices, non-adjacent reduced
axes, copies large enough to be split across threads, and the ops computed from positions (Range,
Trilu, ConstantOfShape, GatherElements, GatherND, CumSum). Each case is also compiled with
--generate-data-kernels=false (the runtime's loops) as a control. Prints one line per case and
`N passed, N failed`.
"""
import sys

import numpy as np
from onnx import TensorProto, helper
from ort_compare import Cases  # beside this script

cases = Cases(sys.argv[1], "_runtime", ["--generate-data-kernels=false"])
case = cases.case
N = helper.make_node
rs = np.random.RandomState(11)
I64 = lambda *v: np.array(v, dtype=np.int64)

case("transpose_4d", {"x": rs.randn(2, 3, 5, 7)}, [N("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])],
     [2, 5, 7, 3])
# 64 x 128 x 64 elements: the copy is split across the two threads.
case("transpose_threads", {"x": rs.randn(64, 128, 64)}, [N("Transpose", ["x"], ["y"], perm=[1, 0, 2])],
     [128, 64, 64])
case("slice_steps", {"x": rs.randn(6, 9, 10)}, [
    N("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])], [3, 3, 10],
     [("starts", I64(-1, 1)), ("ends", I64(-10, 8)), ("axes", I64(1, 0)), ("steps", I64(-3, 2))])
case("expand_broadcast", {"x": rs.randn(3, 1, 5)}, [N("Expand", ["x", "shape"], ["y"])], [2, 3, 4, 5],
     [("shape", I64(2, 1, 4, 1))])
case("tile_2d", {"x": rs.randn(3, 4)}, [N("Tile", ["x", "reps"], ["y"])], [6, 12],
     [("reps", I64(2, 3))])
case("concat_middle", {"a": rs.randn(2, 3, 4), "b": rs.randn(2, 1, 4), "c": rs.randn(2, 5, 4)},
     [N("Concat", ["a", "b", "c"], ["y"], axis=1)], [2, 9, 4])
# Uneven parts, put back in another order: every output of the split is checked.
case("split_uneven", {"x": rs.randn(4, 10)}, [
    N("Split", ["x", "parts"], ["p", "q", "r"], axis=1),
    N("Concat", ["r", "p", "q"], ["y"], axis=1)], [4, 10], [("parts", I64(3, 5, 2))])
case("gather_axis0_negative", {"x": rs.randn(7, 6), "i": I64(6, -1, 0, -7, 3)},
     [N("Gather", ["x", "i"], ["y"], axis=0)], [5, 6])
case("gather_axis1_2d_indices", {"x": rs.randn(3, 8, 5), "i": I64(1, 7, -2, 0).reshape(2, 2)},
     [N("Gather", ["x", "i"], ["y"], axis=1)], [3, 2, 2, 5])
case("gather_int32_indices", {"x": rs.randn(9, 4), "i": I64(8, 2, 2)}, [
    N("Cast", ["i"], ["j"], to=TensorProto.INT32), N("Gather", ["x", "j"], ["y"], axis=0)], [3, 4])
# Eight-byte elements (int64), gathered and transposed, then made float for the comparison.
case("int64_gather_transpose", {"x": rs.randint(-50, 50, size=(4, 6)).astype(np.int64),
                                "i": I64(3, 0)}, [
    N("Gather", ["x", "i"], ["g"], axis=0), N("Transpose", ["g"], ["t"], perm=[1, 0]),
    N("Cast", ["t"], ["y"], to=TensorProto.FLOAT)], [6, 2])
# One-byte elements (bool): a mask expanded and sliced, then used by Where.
case("bool_expand_slice", {"m": rs.rand(1, 6) > 0.5, "x": rs.randn(4, 3)}, [
    N("Expand", ["m", "shape"], ["e"]),
    N("Slice", ["e", "starts", "ends", "axes"], ["s"]),
    N("Where", ["s", "x", "zero"], ["y"])], [4, 3],
     [("shape", I64(4, 6)), ("starts", I64(1)), ("ends", I64(4)), ("axes", I64(1)),
      ("zero", np.float32(0))])
x = rs.randn(4, 5, 6).astype(np.float32)
case("reduce_sum_axes_input", {"x": x}, [N("ReduceSum", ["x", "axes"], ["y"], keepdims=1)],
     [1, 5, 1], [("axes", I64(0, 2))])
case("reduce_mean_last", {"x": x}, [N("ReduceMean", ["x"], ["y"], axes=[-1], keepdims=0)], [4, 5])
case("reduce_max_middle", {"x": x}, [N("ReduceMax", ["x"], ["y"], axes=[1], keepdims=1)], [4, 1, 6])
case("reduce_min_all", {"x": x}, [N("ReduceMin", ["x"], ["y"], keepdims=0)], [])
case("reduce_prod_first", {"x": 1 + 0.1 * x}, [N("ReduceProd", ["x"], ["y"], axes=[0], keepdims=0)],
     [5, 6])
case("reduce_mean_large", {"x": rs.randn(3, 50000)}, [N("ReduceMean", ["x"], ["y"], axes=[1])],
     [3, 1])

# int64 reductions (a mask's length, a maximum position), exact in an int64 accumulator.
m = rs.randint(-1000, 1000, size=(3, 4, 5)).astype(np.int64)
case("reduce_int64", {"m": m}, [
    N("ReduceSum", ["m", "ax"], ["s"], keepdims=0), N("ReduceMax", ["m"], ["x"], axes=[1], keepdims=0),
    N("ReduceMin", ["m"], ["n"], axes=[1], keepdims=0), N("Add", ["s", "x"], ["t"]),
    N("Sub", ["t", "n"], ["u"]), N("ReduceMean", ["m"], ["a"], axes=[1], keepdims=0),
    N("Add", ["u", "a"], ["v"]), N("Cast", ["v"], ["y"], to=TensorProto.FLOAT)], [3, 5],
     [("ax", I64(1))])

# Ops computed from positions: ranges of floats and of integers, Trilu both ways with a k, a
# fill of a shape known only at run time, GatherElements and GatherND (with batch dims) with
# negative indices, CumSum forward, reversed and exclusive, on floats and integers.
case("range_float", {"s": np.float32(-1.5), "l": np.float32(4.0), "d": np.float32(0.75)},
     [N("Range", ["s", "l", "d"], ["y"])], [8])
case("range_int", {"s": I64(10).reshape(()), "l": I64(-3).reshape(()), "d": I64(-4).reshape(())}, [
    N("Range", ["s", "l", "d"], ["r"]), N("Cast", ["r"], ["y"], to=TensorProto.FLOAT)], [4])
case("trilu_lower", {"x": rs.randn(2, 5, 7)}, [N("Trilu", ["x", "k"], ["y"], upper=0)], [2, 5, 7],
     [("k", I64(1).reshape(()))])
case("trilu_upper", {"x": rs.randn(6, 4)}, [N("Trilu", ["x", "k"], ["y"], upper=1)], [6, 4],
     [("k", I64(-2).reshape(()))])
case("constant_of_shape", {"x": rs.randn(3, 5)}, [
    N("Shape", ["x"], ["s"]),
    N("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.5])),
    N("Add", ["x", "c"], ["y"])], [3, 5], dynamic=("x",))
case("gather_elements", {"x": rs.randn(3, 4, 5),
                         "i": rs.randint(-4, 4, size=(3, 2, 5)).astype(np.int64)},
     [N("GatherElements", ["x", "i"], ["y"], axis=1)], [3, 2, 5])
# A negative axis (read back from an unsigned attribute once lost its sign and the kernel).
case("gather_elements_last_axis", {"x": rs.randn(2, 3, 16),
                                   "i": rs.randint(-16, 16, size=(2, 3, 5)).astype(np.int64)},
     [N("GatherElements", ["x", "i"], ["y"], axis=-1)], [2, 3, 5])
# Rank 5, as GPT-J's rotary embedding tiles.
case("tile_rank5", {"x": rs.randn(1, 3, 1, 2, 1)}, [N("Tile", ["x", "reps"], ["y"])], [2, 3, 2, 2, 3],
     [("reps", I64(2, 1, 2, 1, 3))])
case("gather_nd", {"x": rs.randn(2, 3, 4), "i": I64(1, -1, 0, 2).reshape(2, 2)},
     [N("GatherND", ["x", "i"], ["y"])], [2, 4])
case("gather_nd_batch", {"x": rs.randn(2, 3, 4), "i": I64(2, -3).reshape(2, 1)},
     [N("GatherND", ["x", "i"], ["y"], batch_dims=1)], [2, 4])
case("cum_sum", {"x": rs.randn(3, 5, 4)}, [N("CumSum", ["x", "axis"], ["y"])], [3, 5, 4],
     [("axis", I64(1).reshape(()))])
case("cum_sum_exclusive_reverse", {"x": rs.randn(3, 5, 4)},
     [N("CumSum", ["x", "axis"], ["y"], exclusive=1, reverse=1)], [3, 5, 4],
     [("axis", I64(-1).reshape(()))])
case("cum_sum_int", {"m": rs.randint(0, 2, size=(2, 9)).astype(np.int64)}, [
    N("CumSum", ["m", "axis"], ["c"], exclusive=1), N("Cast", ["c"], ["y"], to=TensorProto.FLOAT)],
     [2, 9], [("axis", I64(1).reshape(()))])

cases.summary()
