#!/usr/bin/python3
"""compare_npy.py ACTUAL.npy EXPECTED.npy [--tol T] - checks that two arrays agree.

Passes when the shapes match and max|actual - expected| <= T * max(max|expected|, 1e-30) (the
convention of qopt's numeric tests: errors relative to the largest reference value). Integer and
bool arrays must match exactly. Prints the measured error either way.
"""
import sys

import numpy as np


def main():
    args = sys.argv[1:]
    tol = 1e-4
    if "--tol" in args:
        i = args.index("--tol")
        tol = float(args[i + 1])
        del args[i:i + 2]
    actual, expected = np.load(args[0]), np.load(args[1])
    if actual.shape != expected.shape:
        print(f"FAIL shape {actual.shape} != {expected.shape}")
        return 1
    if expected.dtype.kind in "iub":
        bad = int(np.count_nonzero(actual != expected))
        print(f"{'ok' if bad == 0 else 'FAIL'} exact, {bad} elements differ")
        return 0 if bad == 0 else 1
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    same_nan = np.isnan(a) == np.isnan(e)
    finite = ~np.isnan(e)
    scale = max(float(np.max(np.abs(e[finite]))) if finite.any() else 0.0, 1e-30)
    err = float(np.max(np.abs(a[finite] - e[finite]))) if finite.any() else 0.0
    ok = bool(same_nan.all()) and (err <= tol * scale or err == 0.0 or
                                   np.array_equal(a[finite], e[finite]))
    print(f"{'ok' if ok else 'FAIL'} max abs error {err:.3e} = {err / scale:.3e} x max|expected|")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
