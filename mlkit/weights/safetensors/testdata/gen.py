"""Generates the safetensors test fixtures with the reference `safetensors` library (PyPI safetensors, torch).

Run with a Python that has torch and safetensors:  python3 gen.py   (from this folder).
Writes: mixed.safetensors (one tensor per dtype + __metadata__), expected.json (the values as float64/int
lists), and a two-shard checkpoint sharded/ with its model.safetensors.index.json.
"""
import json
import os

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(7)
f32 = torch.randn(3, 4, generator=g)
tensors = {
    "f32": f32,
    "f16": (torch.randn(2, 5, generator=g) * 10).to(torch.float16),
    "bf16": (torch.randn(7, generator=g) * 100).to(torch.bfloat16),
    "f64": torch.randn(2, 2, generator=g, dtype=torch.float64),
    "i64": torch.tensor([[-3, 0, 2**40], [5, -(2**33), 7]], dtype=torch.int64),
    "i32": torch.tensor([-(2**31), 2**31 - 1, 0, 42], dtype=torch.int32),
    "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
    "scalar": torch.tensor(3.5),
    "f16_special": torch.tensor([float("inf"), -float("inf"), 6.1e-5, 5.96e-8, -0.0, 65504.0], dtype=torch.float16),
}
save_file(tensors, os.path.join(here, "mixed.safetensors"), metadata={"format": "pt", "note": "mlkit fixture"})
exp = {}
for k, v in tensors.items():
    exp[k] = {"shape": list(v.shape), "values": [x if x == x and abs(x) != float("inf") else str(x) for x in v.to(torch.float64).flatten().tolist()] if v.is_floating_point() else v.flatten().tolist()}
with open(os.path.join(here, "expected.json"), "w") as fh:
    json.dump(exp, fh, indent=1)

sh = os.path.join(here, "sharded")
os.makedirs(sh, exist_ok=True)
a = {"layer.0.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "layer.0.bias": torch.tensor([1.0, 2.0])}
b = {"layer.1.weight": torch.full((2, 2), -1.5)}
save_file(a, os.path.join(sh, "model-00001-of-00002.safetensors"), metadata={"format": "pt"})
save_file(b, os.path.join(sh, "model-00002-of-00002.safetensors"), metadata={"format": "pt"})
wm = {k: "model-00001-of-00002.safetensors" for k in a}
wm.update({k: "model-00002-of-00002.safetensors" for k in b})
with open(os.path.join(sh, "model.safetensors.index.json"), "w") as fh:
    json.dump({"metadata": {"total_size": 40}, "weight_map": wm}, fh, indent=1)
