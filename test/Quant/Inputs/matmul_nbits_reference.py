"""matmul_nbits_reference.py X.npy OUT.npy - the output of matmul_nbits_short_block.onnxtxt for X,
computed from ONNX Runtime's MatMulNBits definition: B [N, blocks, blob] holds each block's 4-bit
codes low nibble first, zero points are packed two per byte, y = x @ ((q - zp) * scale).T + bias."""
import sys

import numpy as np

K, N, BITS, BLOCK = 12, 2, 4, 8
B = np.array([16, 50, 84, 118, 16, 50, 0, 0, 136, 136, 136, 136, 136, 136, 0, 0], np.uint8).reshape(2, 2, 4)
SCALES = np.array([0.5, 0.25, 1.0, 2.0], np.float32).reshape(2, 2)
ZP = np.array([120, 136], np.uint8)
BIAS = np.array([1.0, -1.0], np.float32)

w = np.zeros((N, K), np.float32)
for n in range(N):
    for i in range(K):
        blk, j = divmod(i, BLOCK)
        q = (B[n, blk, j // 2] >> (4 * (j % 2))) & 15
        zp = (ZP[n] >> (4 * blk)) & 15
        w[n, i] = (float(q) - float(zp)) * SCALES[n, blk]
x = np.load(sys.argv[1])
np.save(sys.argv[2], (x @ w.T + BIAS).astype(np.float32))
