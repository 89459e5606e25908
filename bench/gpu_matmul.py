#!/usr/bin/env python3
"""gpu_matmul.py GPU_MATMUL MODEL.so [MODEL_W8.so] - qopt's 4-bit (and 8-bit) GPU matmul against
PyTorch on the same GPU.

For K x N of 4096x4096, 8192x8192 and 8192x28672 (in x out features) at M = 1, 4, 16, 32, 128, all
measured in this run:
  qopt      bench/gpu_matmul (4-bit codes, f16 scales per 128, f32 activations and outputs), the
            kernel the runtime takes (f16 arithmetic, f32 sums)
  qopt f32  the same with QOPT_GPU_HALF=0 (the f32 kernels below 16 rows)
  qopt w8   8-bit codes, from MODEL_W8.so (a library with 8-bit symmetric f16-scale layers)
  fp16      torch.matmul of f16 [M, K] by [K, N] (cuBLAS)
  tinygemm  torch.ops.aten._weight_int4pack_mm (bf16 activations, int4 weights in groups of 128)
and the GPU's read bandwidth: torch.sum over a 4 GiB f16 tensor. Times are means over 200 runs
after warm-up (CUDA events). GB/s counts the weight bytes each product reads (qopt: packed
codes and scales; fp16: 2 bytes per weight).
"""
import os
import subprocess
import sys

import torch

SHAPES = [(4096, 4096), (8192, 8192), (8192, 28672)]
ROWS = [1, 4, 16, 32, 128]


def timed(fn, iters=200):
    for _ in range(20):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) * 1000.0 / iters  # microseconds


def read_bandwidth():
    t = torch.ones(2 << 30, dtype=torch.float16, device="cuda")
    us = timed(lambda: t.sum(dtype=torch.float32), 20)
    return t.numel() * 2 / us / 1e3  # GB/s


def tinygemm(k, n, m):
    try:
        w = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8, device="cuda")
        packed = torch.ops.aten._convert_weight_to_int4pack(w, 8)
        sz = torch.rand(k // 128, n, 2, dtype=torch.bfloat16, device="cuda")
        x = torch.randn(m, k, dtype=torch.bfloat16, device="cuda")
        return timed(lambda: torch.ops.aten._weight_int4pack_mm(x, packed, 128, sz))
    except Exception as e:  # an unsupported combination in this PyTorch
        print(f"# tinygemm {k}x{n} M={m}: {str(e).splitlines()[0]}", file=sys.stderr)
        return float("nan")


def main():
    harness, model = sys.argv[1], sys.argv[2]
    model8 = sys.argv[3] if len(sys.argv) > 3 else None
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}")
    bw = read_bandwidth()
    print(f"# read bandwidth (torch.sum, 4 GiB f16): {bw:.0f} GB/s")
    print("| K x N | M | kernel | qopt us | qopt GB/s | % of read bw | qopt f32 us | qopt w8 us | fp16 us | tinygemm us | qopt vs fp16 | qopt vs tinygemm | max rel err |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for k, n in SHAPES:
        runs = {}
        for run in ("1", "0", "w8"):
            extra = {"QOPT_GPU_HALF": run}
            lib = model
            if run == "w8":
                if not model8:
                    runs["w8"] = {m: (float("nan"), "-", "-") for m in ROWS}
                    continue
                extra, lib = {"QOPT_BENCH_BITS": "8"}, model8
            out = subprocess.run([harness, lib, str(k), str(n)] + [str(m) for m in ROWS],
                                 capture_output=True, text=True,
                                 env=dict(os.environ, **extra))
            if out.returncode != 0:
                print(f"# gpu_matmul failed: {out.stderr.strip()}")
                break
            runs[run] = {int(f[3]): (float(f[4]), f[5], f[6])
                          for f in (l.split() for l in out.stdout.splitlines())}
        if len(runs) < 3:
            continue
        ours, f32, w8 = runs["1"], runs["0"], runs["w8"]
        w = torch.randn(k, n, dtype=torch.float16, device="cuda")
        qbytes = n * k // 2 + n * (k // 128) * 2
        for m in ROWS:
            x = torch.randn(m, k, dtype=torch.float16, device="cuda")
            fp16 = timed(lambda: torch.matmul(x, w))
            tiny = tinygemm(k, n, m)
            us, err, kernel = ours[m]
            gbs = qbytes / us / 1e3
            print(f"| {k}x{n} | {m} | {kernel} | {us:.1f} | {gbs:.0f} | {100 * gbs / bw:.0f}% | "
                  f"{f32[m][0]:.1f} | {w8[m][0]:.1f} | {fp16:.1f} | {tiny:.1f} | {fp16 / us:.2f}x | {tiny / us:.2f}x | "
                  f"{err} |")
        del w
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
