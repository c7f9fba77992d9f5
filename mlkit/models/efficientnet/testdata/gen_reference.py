#!/usr/bin/python3
"""Generates the EfficientNet reference JSON files: torchvision outputs for deterministic weights/inputs.

Run with Debian's python3 (torch 1.13, torchvision 0.14), from anywhere:

    /usr/bin/python3 mlkit/models/efficientnet/testdata/gen_reference.py

Writes efficientnet_b0_reference.json (B0: batch 2 at 64 px, batch 1 at 224 px) and
efficientnet_b5_reference.json (B5, whose BN uses eps 1e-3 and wider/deeper stages: batch 1 at 64 px),
plus param_counts.json (torchvision's parameter counts of B0..B7 with 1000 classes).
Weights and inputs are not stored: both sides compute them from an integer hash, see
mlkit/models/nn/nntest/detweights.py (and its Go twin nntest.go, which the Go test uses).
"""
import json
import os
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "nn", "nntest"))
from detweights import run  # noqa: E402


def effnet_features(model, x):
    return torch.flatten(model.avgpool(model.features(x)), 1)


if __name__ == "__main__":
    m = torchvision.models
    run(m.efficientnet_b0(), effnet_features, [(2, 64), (1, 224)],
        os.path.join(HERE, "efficientnet_b0_reference.json"), {"model": "efficientnet_b0"})
    run(m.efficientnet_b5(), effnet_features, [(1, 64)],
        os.path.join(HERE, "efficientnet_b5_reference.json"), {"model": "efficientnet_b5"})
    counts = {}
    for v in range(8):
        model = getattr(m, f"efficientnet_b{v}")()
        counts[f"b{v}"] = sum(p.numel() for p in model.parameters())
    with open(os.path.join(HERE, "param_counts.json"), "w") as f:
        json.dump(counts, f, indent=1)
    print(counts, file=sys.stderr)
