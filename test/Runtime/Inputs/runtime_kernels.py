#!/usr/bin/env python3
"""runtime_kernels.py - reads qopt-run's QOPT_PROFILE lines from stdin and names each op that ran on
a C++ kernel of the runtime rather than generated code, leaving out the ops that only describe
tensors (Shape, and the views Reshape, Squeeze and Unsqueeze, which move no data) and the fused
attention kernel, which is the runtime's by design (it reads a session's KV cache in place; its
products run on BLAS). Prints `computed by the runtime: NAME` per such op and `N runtime kernels`."""
import sys

METADATA = {"Shape", "Reshape", "Squeeze", "Unsqueeze"}
BY_DESIGN = {"Attention"}
names = []
for line in sys.stdin:
    if not line.startswith("qopt profile:"):
        continue
    fields = line.split()
    if len(fields) < 5 or fields[2] == "opcode" or "generated" in fields[5:]:
        continue
    if fields[2] not in METADATA | BY_DESIGN:
        names.append(fields[2])
for name in names:
    print(f"computed by the runtime: {name}")
print(f"{len(names)} runtime kernels")
