"""onnx_ints.py - integer initializers of ONNX models, 4-bit ones included, with NumPy.

The onnx package's numpy_helper predates the 4-bit types that QAT exports use for codes and zero
points (INT4 = 22, UINT4 = 21: two values a byte, the low nibble first).
"""
import numpy as np
import onnx
from onnx import numpy_helper

INT4, UINT4 = 22, 21


def read_ints(t):
    """An integer initializer as int64 (4-bit ones unpacked, low nibble first)."""
    if t.data_type in (INT4, UINT4):
        raw = np.frombuffer(t.raw_data, dtype=np.uint8)
        vals = np.stack([raw & 0xF, raw >> 4], axis=1).reshape(-1)[: int(np.prod(t.dims))]
        vals = vals.astype(np.int64)
        if t.data_type == INT4:
            vals = np.where(vals >= 8, vals - 16, vals)
        return vals.reshape(tuple(t.dims))
    return numpy_helper.to_array(t).astype(np.int64)


def write_ints(name, data_type, values):
    """A TensorProto of `data_type` (INT4, UINT4, INT8 or UINT8) holding `values`."""
    t = onnx.TensorProto()
    t.name = name
    t.data_type = data_type
    t.dims.extend(values.shape)
    flat = values.reshape(-1)
    if data_type in (INT4, UINT4):
        nib = (flat & 0xF).astype(np.uint8)
        if nib.size % 2:
            nib = np.append(nib, 0)
        t.raw_data = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8).tobytes()
    else:
        signed = data_type == onnx.TensorProto.INT8
        t.raw_data = flat.astype(np.int8 if signed else np.uint8).tobytes()
    return t
