"""Deterministic weights and inputs shared by the PyTorch reference generators (Python twin of nntest.go).

For the k-th tensor of the state dict (num_batches_tracked skipped), flat element i in PyTorch
layout:  h = fmix32(uint32(i*0x9E3779B1 + k*0x7F4A7C15)),  u = (h >> 8) / 2**23 - 1  in [-1, 1),
and the value is, by tensor role:
  conv / linear weight: u * sqrt(3 / fan_in)  (fan_in = numel / shape[0])
  BN weight: 1 + 0.2u; BN bias, conv/linear bias, running_mean: 0.1u; running_var: 1 + 0.5u.
Input j uses k = 1000000 + j over the NHWC (channels-last) flat index, then is permuted to NCHW.
Keep this file and nntest.go identical in meaning.
"""
import json
import math
import sys

import numpy as np
import torch
import torchvision


def fmix32(h):
    h = h.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def det_uniform(k, n):
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(0x9E3779B1) + np.uint64(k) * np.uint64(0x7F4A7C15)) & np.uint64(0xFFFFFFFF)
    h = fmix32(h.astype(np.uint32))
    return (h >> np.uint32(8)).astype(np.float64) / float(1 << 23) - 1.0


def det_values(name, k, shape):
    n = int(np.prod(shape))
    u = det_uniform(k, n)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_var":
        v = 1 + 0.5 * u
    elif leaf in ("running_mean", "bias"):
        v = 0.1 * u
    elif leaf == "weight" and len(shape) == 1:
        v = 1 + 0.2 * u
    elif leaf == "weight":
        v = u * math.sqrt(3.0 / (n // shape[0]))
    else:
        raise ValueError(f"no formula for {name}")
    return v.astype(np.float32).reshape(shape)


def fill(model):
    params = []
    sd = model.state_dict()
    k = 0
    for name, t in sd.items():
        if name.endswith("num_batches_tracked"):
            continue
        t.copy_(torch.from_numpy(det_values(name, k, tuple(t.shape))))
        params.append({"name": name, "shape": list(t.shape)})
        k += 1
    return params


def det_input(j, batch, size):
    x = det_uniform(1000000 + j, batch * size * size * 3).astype(np.float32).reshape(batch, size, size, 3)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def run(model, features_fn, inputs, out_path, meta):
    torch.set_num_threads(2)
    model.eval()
    params = fill(model)
    results = []
    with torch.no_grad():
        for j, (batch, size) in enumerate(inputs):
            x = det_input(j, batch, size)
            logits = model(x)
            feats = features_fn(model, x)
            results.append({
                "input_index": j, "batch": batch, "size": size,
                "logits": [[float(v) for v in row] for row in logits.numpy()],
                "features": [[float(v) for v in row] for row in feats.numpy()],
            })
            print(f"{meta['model']} input {j} batch {batch} size {size}: logits std {logits.std():.4f} "
                  f"max|.| {logits.abs().max():.4f}", file=sys.stderr)
    n_params = sum(p.numel() for p in model.parameters())
    doc = dict(meta, torch=torch.__version__, torchvision=torchvision.__version__,
               num_parameters=n_params, params=params, outputs=results)
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"wrote {out_path}: {n_params} parameters, {len(params)} tensors", file=sys.stderr)
