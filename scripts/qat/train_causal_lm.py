#!/usr/bin/env python3
"""train_causal_lm.py - short quantization-aware training of a causal LM from a qopt QAT export.

    train_causal_lm.py --onnx model.onnx --qat model.qat.onnx --train train.txt \
        --valid valid.txt --steps 1000 --out model.trained.onnx

`model.onnx` is the float model (a dynamo-exported Llama: llama_from_onnx.py rebuilds it in
PyTorch, and its outputs are checked against ONNX Runtime's when onnxruntime is installed);
`model.qat.onnx` is `qopt-compile model.onnx ... --emit=qat-onnx`. The student starts from the
export's weights and scales (qopt's post-training point) with LSQ fake-quant on them and learns
from the float model (KL divergence of the next-token distributions) on windows of the
training text, read as bytes (token files: --train-tokens, an int64 .npy). The result goes back
into the QAT export (--out), which `qopt-compile` compiles; --out-codes writes only the codes
and scales, compressed, for moving the result between machines (apply_codes.py restores the
export from them).
"""
import argparse
import copy
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import qopt_qat  # noqa: E402
from llama_from_onnx import llama_from_onnx  # noqa: E402


def tokens(path, tokens_path):
    if tokens_path:
        return np.load(tokens_path).astype(np.int64).reshape(-1)
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8).astype(np.int64)


@torch.no_grad()
def perplexity(model, ids, ctx, device, batch=32):
    """exp(mean next-token loss) over non-overlapping windows of `ctx`."""
    n = len(ids) // ctx
    windows = torch.from_numpy(ids[: n * ctx].reshape(n, ctx))
    total, count = 0.0, 0
    for i in range(0, n, batch):
        x = windows[i:i + batch].to(device)
        logits = model(x).logits.float()
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                 x[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += x[:, 1:].numel()
    return math.exp(total / count)


def check_against_ort(model, onnx_path, ids, ctx):
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime is not installed: the rebuilt model is not checked")
        return
    x = ids[None, :ctx]
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    reference = session.run(None, {name: x})[0]
    with torch.no_grad():
        ours = model.cpu()(torch.from_numpy(x)).logits.numpy()
    err = float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))
    print(f"rebuilt model vs ONNX Runtime: {err:.2e} x max|logits|")
    if err > 1e-3:
        raise SystemExit("the rebuilt PyTorch model does not match the ONNX model")


def save_codes(applied, path):
    arrays = {}
    for module, attr, layer in applied.values():
        fq = getattr(module.parametrizations, attr)
        quant = fq[0]
        with torch.no_grad():
            w = fq.original.float()
            w = w.t() if quant.transposed else w
            k = w.shape[1]
            s = quant._expand(quant.scale, k)
            z = quant._expand(quant.zero, k)
            q = torch.clamp(torch.round(w / s) + z, quant.qmin, quant.qmax)
        arrays[layer.weight_name + "|codes"] = q.cpu().numpy().astype(np.int16)
        arrays[layer.weight_name + "|scale"] = quant.scale.detach().float().cpu().numpy()
    np.savez_compressed(path, **arrays)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--onnx", required=True)
    p.add_argument("--qat", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--train-tokens")
    p.add_argument("--valid")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--ctx", type=int, default=256)
    p.add_argument("--lr-weights", type=float, default=2e-5)
    p.add_argument("--lr-scales", type=float, default=2e-6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out")
    p.add_argument("--out-codes")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    train = tokens(args.train, args.train_tokens)
    valid = tokens(args.valid, None) if args.valid else None
    model = llama_from_onnx(args.onnx).float()
    check_against_ort(model, args.onnx, train, args.ctx)
    teacher = copy.deepcopy(model).to(device).eval()
    spec = qopt_qat.QATSpec.load(args.qat)
    applied = qopt_qat.apply_qat(model, spec)
    qopt_qat.freeze_others(model, applied)
    model.to(device)
    if valid is not None:
        print(f"perplexity (PyTorch): float {perplexity(teacher, valid, args.ctx, device):.4f}, "
              f"quantized before training {perplexity(model, valid, args.ctx, device):.4f}")

    optimizer = torch.optim.AdamW([
        {"params": qopt_qat.latent_weights(applied), "lr": args.lr_weights},
        {"params": qopt_qat.qat_parameters(applied), "lr": args.lr_scales},
    ], weight_decay=0.0)
    warmup = max(1, args.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / args.steps)))
    model.train()
    start = time.time()
    for step in range(args.steps):
        offsets = rng.integers(0, len(train) - args.ctx, args.batch)
        x = torch.from_numpy(np.stack([train[o:o + args.ctx] for o in offsets])).to(device)
        with torch.no_grad():
            target = torch.log_softmax(teacher(x).logits.float(), dim=-1)
        logp = torch.log_softmax(model(x).logits.float(), dim=-1)
        loss = torch.nn.functional.kl_div(logp, target, log_target=True, reduction="batchmean") / args.ctx
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            print(f"step {step}: KL {loss.item():.5f} nats/token")
    elapsed = time.time() - start
    model.eval()
    print(f"trained {args.steps} steps of {args.batch} x {args.ctx} tokens in {elapsed:.1f} s "
          f"on {torch.cuda.get_device_name() if device == 'cuda' else 'the CPU'}")
    if valid is not None:
        print(f"perplexity (PyTorch): quantized after training "
              f"{perplexity(model, valid, args.ctx, device):.4f}")
    model.cpu()
    if args.out:
        qopt_qat.export_qat(applied, spec, args.out)
    if args.out_codes:
        save_codes(applied, args.out_codes)


if __name__ == "__main__":
    main()
