"""qopt_qat.py - quantization-aware training of a PyTorch model from a qopt QAT export.

`qopt-compile model.onnx --wbits=N ... --emit=qat-onnx -o model.qat.onnx` writes the model with
every quantized weight behind QuantizeLinear -> DequantizeLinear and describes those weights in
the model's `qopt.qat_layers` metadata. This module
- reads that description (`QATSpec.load`),
- puts the same fake-quant, with learnable scales (LSQ), on the matching parameters of a PyTorch
  model, found by name (`apply_qat`): the exporters keep module names in initializer names or in
  the scopes qopt records, and the initial weights and scales are qopt's post-training ones;
- writes the trained weights and scales back into the QAT export (`export_qat`), which
  `qopt-compile` takes like any QDQ model and packs into the codes the graph implies.

Fake-quant follows ONNX: q = clamp(round_half_even(w / s) + z, qmin, qmax), out = (q - z) * s,
with straight-through gradients for the rounding (LSQ: Esser et al., "Learned Step Size
Quantization", with its gradient scale 1 / sqrt(group * qmax)).

Needs torch, numpy and onnx.
"""
import json
import math

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from onnx_ints import read_ints

class QATLayer:
    """One fake-quantized weight of the export, its arrays in the export's [N, K] view."""

    def __init__(self, desc, inits):
        self.desc = desc
        self.name = desc["layer"]
        self.weight_name = desc["weight"]
        self.scale_name = desc["scale"]
        self.transposed = desc["layout"] == "KxN"  # the initializer holds [K, N]
        self.group = desc["group_size"]
        self.qmin, self.qmax = desc["qmin"], desc["qmax"]
        w = numpy_helper.to_array(inits[self.weight_name]).astype(np.float32)
        s = numpy_helper.to_array(inits[self.scale_name]).astype(np.float32)
        z = read_ints(inits[desc["zero_point"]])
        if self.transposed:
            w = w.T
            s = s.T if s.ndim == 2 else s
            z = z.T if z.ndim == 2 else z
        self.weight = np.ascontiguousarray(w)              # [N, K]
        self.scale = np.ascontiguousarray(s.reshape(w.shape[0], -1))  # [N, groups]
        self.zero = np.ascontiguousarray(z.reshape(w.shape[0], -1))


class QATSpec:
    """What a qopt QAT export quantizes, read from its metadata and initializers."""

    def __init__(self, model):
        self.model = model
        meta = {p.key: p.value for p in model.metadata_props}
        if "qopt.qat_layers" not in meta:
            raise ValueError("not a qopt QAT export: no qopt.qat_layers metadata "
                             "(make it with qopt-compile --emit=qat-onnx)")
        inits = {t.name: t for t in model.graph.initializer}
        self.layers = [QATLayer(d, inits) for d in json.loads(meta["qopt.qat_layers"])]

    @staticmethod
    def load(path):
        return QATSpec(onnx.load(path))


def _grad_scale(x, factor):
    """x in the forward pass; its gradient times `factor` in the backward pass."""
    return (x - x * factor).detach() + x * factor


def _round_ste(x):
    """torch.round (half to even, as ONNX) with a straight-through gradient."""
    return (torch.round(x) - x).detach() + x


class LSQFakeQuant(torch.nn.Module):
    """Fake-quant of an [N, K] weight per group of K with learnable scales (a parametrization)."""

    def __init__(self, layer, transposed_param):
        super().__init__()
        self.group = layer.group
        self.qmin, self.qmax = layer.qmin, layer.qmax
        self.transposed = transposed_param  # the parameter holds [K, N]
        self.scale = torch.nn.Parameter(torch.from_numpy(layer.scale.copy()))
        self.register_buffer("zero", torch.from_numpy(layer.zero.astype(np.float32)))
        k = layer.weight.shape[1]
        per_group = k if self.group == 0 else min(self.group, k)
        self.grad_factor = 1.0 / math.sqrt(per_group * max(abs(self.qmax), abs(self.qmin), 1))

    def _expand(self, p, k):
        if self.group == 0:
            return p.expand(-1, k)
        return p.repeat_interleave(self.group, dim=1)[:, :k]

    def forward(self, weight):
        w = weight.t() if self.transposed else weight
        k = w.shape[1]
        s = self._expand(_grad_scale(self.scale, self.grad_factor), k)
        z = self._expand(self.zero, k)
        q = torch.clamp(_round_ste(w / s) + z, self.qmin, self.qmax)
        out = (q - z) * s
        return out.t() if self.transposed else out


def _candidate_names(layer):
    names = [layer.weight_name, layer.name + ".weight"]
    # TorchScript names nodes after the module path: /model/layers.0/mlp/up_proj/MatMul.
    if "/" in layer.name:
        path = [p for p in layer.name.split("/") if p][:-1]
        if path:
            names.append(".".join(path) + ".weight")
    return [n for n in names if n]


def _find_parameter(model, layer):
    """The (module, attribute, transposed) holding the layer's weight, matched by name: the
    initializer's name or the recorded scope plus '.weight', either one a dotted suffix of the
    other (exporters add or drop wrapper prefixes), and a shape of [N, K] or [K, N]."""
    n, k = layer.weight.shape
    params = dict(model.named_parameters())
    for cand in _candidate_names(layer):
        for pname, p in params.items():
            if not (pname == cand or pname.endswith("." + cand) or cand.endswith("." + pname)):
                continue
            shape = tuple(p.shape)
            if shape not in ((n, k), (k, n)):
                continue
            module_name, _, attr = pname.rpartition(".")
            module = model.get_submodule(module_name) if module_name else model
            # nn.Linear holds [out, in]; Hugging Face's Conv1D (GPT-2) holds [in, out].
            if type(module).__name__ == "Conv1D":
                transposed = True
            elif isinstance(module, torch.nn.Linear) or n == k:
                transposed = False
            else:
                transposed = shape == (k, n)
            if ((k, n) if transposed else (n, k)) != shape:
                continue
            return module, attr, transposed
    return None


def apply_qat(model, spec, strict=True):
    """Puts LSQ fake-quant on the parameters of `model` that `spec` quantizes, initialized to
    the export's latent weights and scales. Returns {layer name: (module, attribute)}."""
    import torch.nn.utils.parametrize as parametrize

    applied = {}
    for layer in spec.layers:
        found = _find_parameter(model, layer)
        if found is None:
            if strict:
                raise KeyError(f"no parameter of the model matches layer '{layer.name}' "
                               f"(weight '{layer.weight_name}', shape {layer.weight.shape})")
            continue
        module, attr, transposed = found
        param = getattr(module, attr)
        with torch.no_grad():
            latent = torch.from_numpy(layer.weight.T.copy() if transposed else layer.weight.copy())
            param.copy_(latent.to(param.dtype))
        parametrize.register_parametrization(module, attr, LSQFakeQuant(layer, transposed))
        applied[layer.name] = (module, attr, layer)
    return applied


def qat_parameters(applied):
    """The learnable scales, for an optimizer group of their own."""
    return [getattr(m.parametrizations, a)[0].scale for m, a, _ in applied.values()]


def latent_weights(applied):
    """The latent (float) weights behind the fake-quant."""
    return [getattr(m.parametrizations, a).original for m, a, _ in applied.values()]


def freeze_others(model, applied):
    """Stops training every parameter but the fake-quantized weights and their scales: those
    are what the export carries back (other parameters only where an initializer has their
    name and shape, which exporters do not promise)."""
    keep = {id(p) for p in latent_weights(applied) + qat_parameters(applied)}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)


def export_qat(applied, spec, out_path, model=None):
    """Writes the trained latent weights and scales into the QAT export's initializers; with
    `model`, also its other parameters whose name and shape an initializer has."""
    inits = {t.name: t for t in spec.model.graph.initializer}
    if model is not None:
        for name, p in model.named_parameters():
            if "parametrizations." in name or name not in inits:
                continue
            t = inits[name]
            if tuple(t.dims) == tuple(p.shape) and t.data_type == onnx.TensorProto.FLOAT:
                t.CopyFrom(numpy_helper.from_array(p.detach().float().cpu().numpy(), name))
    for module, attr, layer in applied.values():
        fq = getattr(module.parametrizations, attr)
        quant = fq[0]
        w = fq.original.detach().float().cpu().numpy()
        if quant.transposed:
            w = w.T
        s = quant.scale.detach().float().cpu().numpy()
        if layer.transposed:  # the initializers hold [K, N] and [groups, N]
            w, s = w.T, s.T
        s = s.reshape(tuple(inits[layer.scale_name].dims))
        inits[layer.weight_name].CopyFrom(
            numpy_helper.from_array(np.ascontiguousarray(w, dtype=np.float32), layer.weight_name))
        inits[layer.scale_name].CopyFrom(
            numpy_helper.from_array(np.ascontiguousarray(s, dtype=np.float32), layer.scale_name))
    onnx.save(spec.model, out_path)
