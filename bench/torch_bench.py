#!/usr/bin/env python3
"""PyTorch reference for `go run ./bench`: measures one workload on the CPU and prints one JSON line.

`--info` instead prints one JSON line saying which torch this is: versions, and the BLAS / oneDNN / OpenMP /
CPU-capability lines of torch.__config__.show().

Same shapes as bench/worker.go: torchvision resnet50 / efficientnet_b0 with 5 classes, float32, channels
as PyTorch wants them (NCHW), Adam, cross-entropy; inference in eval mode under torch.no_grad(); the dense
head is one nn.Linear(1280, 5). Peak RSS is read by the Go driver from this process's rusage.
"""
import argparse
import json
import sys
import time


def info():
    """Which torch runs: versions and the build's math libraries, as one JSON line."""
    out = {}
    try:
        import torch
        import torchvision

        out["torch"] = torch.__version__
        out["torchvision"] = torchvision.__version__
        try:  # torch >= 2.0
            out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        except AttributeError:
            out["cpu_capability"] = "unknown"
        lines = []
        for line in torch.__config__.show().splitlines():
            line = line.strip().lstrip("- ").strip()
            if line.startswith("Build settings:"):
                for kv in line[len("Build settings:"):].split(","):
                    kv = kv.strip()
                    if kv.startswith(("BLAS_INFO=", "LAPACK_INFO=", "USE_MKLDNN=")):
                        lines.append(kv)
            elif any(w in line for w in ("Math Kernel Library", "MKL-DNN", "oneDNN", "OpenMP", "CPU capability", "BLAS")):
                lines.append(line)
        out["config"] = lines
    except Exception as e:  # reported in RESULTS.md, not raised
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))
    sys.stdout.flush()


def main():
    if "--info" in sys.argv[1:]:
        info()
        return
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True)
    p.add_argument("--model", required=True, choices=["resnet50", "efficientnet_b0", "dense_head"])
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--min-time", type=float, default=2.0, help="seconds: time steps until they took this long")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train", default="True")
    a = p.parse_args()
    train = a.train.lower() in ("true", "1", "yes")
    out = {"workload": a.workload, "backend": "pytorch"}
    try:
        import torch
        import torchvision

        torch.set_num_threads(a.threads)
        torch.manual_seed(0)
        if a.model == "resnet50":
            model = torchvision.models.resnet50(num_classes=5)
        elif a.model == "efficientnet_b0":
            model = torchvision.models.efficientnet_b0(num_classes=5)
        else:
            model = torch.nn.Linear(1280, 5)
        if a.model == "dense_head":
            x = torch.rand(a.batch, 1280) * 2 - 1
        else:
            x = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1
        y = torch.arange(a.batch) % 5
        if train:
            model.train()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            loss_fn = torch.nn.CrossEntropyLoss()

            def step():
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
        else:
            model.eval()

            def step():
                with torch.no_grad():
                    model(x)

        t0 = time.perf_counter()
        step()
        out["first_step_s"] = time.perf_counter() - t0
        # At least --steps timed steps, and more until they took --min-time (as bench/worker.go does).
        t1 = time.perf_counter()
        n = 0
        while n < a.steps or (time.perf_counter() - t1 < a.min_time and n < 100000):
            step()
            n += 1
        elapsed = time.perf_counter() - t1
        out["steps"] = n
        out["step_s"] = elapsed / n
        out["per_second"] = a.batch * n / elapsed
    except Exception as e:  # reported in the table, not raised
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
