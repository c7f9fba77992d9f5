#!/usr/bin/python3
"""Generates resnet50_reference.json: torchvision ResNet50 outputs for deterministic weights and inputs.

Run with Debian's python3 (torch 1.13, torchvision 0.14), from anywhere:

    /usr/bin/python3 mlkit/models/resnet/testdata/gen_reference.py

Weights and inputs are not stored: both sides compute them from an integer hash, see
mlkit/models/nn/nntest/detweights.py (and its Go twin nntest.go, which the Go test uses).
"""
import os
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "nn", "nntest"))
from detweights import run  # noqa: E402


def resnet_features(model, x):
    m = model
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
    return torch.flatten(m.avgpool(x), 1)


if __name__ == "__main__":
    run(torchvision.models.resnet50(), resnet_features, [(2, 64), (1, 224)],
        os.path.join(HERE, "resnet50_reference.json"), {"model": "resnet50"})
