#!/usr/bin/env python3
"""test_qopt_qat.py WORKDIR [QOPT_SRC] - the QAT round trip on a tiny model, on the CPU.

1. A small PyTorch language model is exported to ONNX and `qopt-compile --emit=qat-onnx` makes
   its QAT export (4-bit groups of 16, the head kept f32).
2. `apply_qat` puts LSQ fake-quant on the PyTorch model's parameters by name; before training,
   its outputs equal ONNX Runtime's on the QAT export (1e-5 x max).
3. A short distillation from the float model lowers the loss.
4. `export_qat` writes the trained weights and scales back; ONNX Runtime running that file as
   written equals the trained PyTorch model (1e-4 x max), and the library qopt compiles from it
   equals ONNX Runtime's default session on it (1e-5 x max).
Needs torch, onnx, numpy, and qopt-compile, qopt-run and node on PATH.
"""
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import qopt_qat  # noqa: E402

SRC = sys.argv[2] if len(sys.argv) > 2 else os.path.abspath(os.path.join(HERE, "..", ".."))
ORACLE = os.path.join(SRC, "test", "oracle", "run_ort.js")


class TinyLM(torch.nn.Module):
    def __init__(self, vocab=64, dim=32, hidden=48):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.fc1 = torch.nn.Linear(dim, hidden)
        self.fc2 = torch.nn.Linear(hidden, dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)

    def forward(self, ids):
        x = self.embed(ids)
        x = x + self.fc2(torch.nn.functional.gelu(self.fc1(x)))
        return self.head(x)


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def relative_error(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def ort(model_path, ids_path, out_path, optimize=False):
    flags = [] if optimize else ["--no-optimize"]
    run("node", ORACLE, *flags, model_path, out_path, f"input_ids={ids_path}")
    return np.load(out_path)


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = TinyLM().eval()
    ids = torch.randint(0, 64, (1, 12))
    ids_path = os.path.join(work, "ids.npy")
    np.save(ids_path, ids.numpy())
    onnx_path = os.path.join(work, "tiny.onnx")
    torch.onnx.export(model, (ids,), onnx_path, input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {1: "seq"}}, opset_version=17)
    qat_path = os.path.join(work, "tiny.qat.onnx")
    run("qopt-compile", onnx_path, "--wbits=4", "--group-size=16",
        "--emit=qat-onnx", "-o", qat_path)

    teacher = TinyLM().eval()
    teacher.load_state_dict(model.state_dict())
    spec = qopt_qat.QATSpec.load(qat_path)
    applied = qopt_qat.apply_qat(model, spec)
    # The output head stays f32, as qopt-compile keeps it by default.
    assert len(applied) == 2, f"expected fc1 and fc2, got {sorted(applied)}"

    with torch.no_grad():
        start = model(ids).numpy()
    err = relative_error(start, ort(qat_path, ids_path, os.path.join(work, "ort0.npy")))
    print(f"before training: PyTorch fake-quant vs ONNX Runtime on the export: {err:.2e}")
    assert err < 1e-5, err

    qopt_qat.freeze_others(model, applied)
    optimizer = torch.optim.Adam([
        {"params": qopt_qat.latent_weights(applied), "lr": 1e-4},
        {"params": qopt_qat.qat_parameters(applied), "lr": 1e-5},
    ])
    data = torch.randint(0, 64, (16, 12))
    codes_before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = []
    for step in range(100):
        with torch.no_grad():
            target = teacher(data)
        loss = torch.nn.functional.mse_loss(model(data), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"distillation loss: {losses[0]:.3e} -> {losses[-1]:.3e}")
    assert losses[-1] < 0.8 * losses[0], losses
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, codes_before[n])]
    print(f"trained: {sorted(moved)}")

    trained_path = os.path.join(work, "tiny.trained.onnx")
    qopt_qat.export_qat(applied, spec, trained_path)
    model.eval()
    with torch.no_grad():
        trained = model(ids).numpy()
    err = relative_error(trained, ort(trained_path, ids_path, os.path.join(work, "ort1.npy")))
    print(f"after training: PyTorch vs ONNX Runtime on the trained export: {err:.2e}")
    assert err < 1e-4, err
    lib = os.path.join(work, "trained.so")
    run("qopt-compile", trained_path, "-o", lib)
    out = os.path.join(work, "qopt.npy")
    run("qopt-run", lib, "--input", f"input_ids={ids_path}", "--output", out)
    # Like ONNX Runtime's default session, qopt runs blocked 4-bit QDQ weights with int8
    # activations (MatMulNBits' accuracy level 4): the two agree.
    reference = ort(trained_path, ids_path, os.path.join(work, "ort2.npy"), optimize=True)
    err = relative_error(np.load(out), reference)
    print(f"after training: qopt's library vs ONNX Runtime's default session: {err:.2e}")
    assert err < 1e-5, err
    print("ok")


if __name__ == "__main__":
    main()
