"""make_token_windows.py OUT.npy N SEQ VOCAB [DTYPE] - random token windows for calibration tests."""
import sys

import numpy as np

out, n, seq, vocab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dtype = sys.argv[5] if len(sys.argv) > 5 else "int64"
rng = np.random.default_rng(1234)
np.save(out, rng.integers(0, vocab, (n, seq)).astype(dtype))
