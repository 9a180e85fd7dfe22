#!/usr/bin/python3
"""PyTorch's row of `make bench`: torchvision resnet18 + ReLU + top-k + Linear.

Same measurement as bench_nn.c: a training step is zero_grad + forward (train) + RMSE
loss + backward on a random batch (no optimizer), an inference step an eval-mode
forward under no_grad; one warm-up step each, 2 threads, the better of the contiguous
and channels_last layouts. Prints
    ROW pytorch-<layout> <train img/s> <infer img/s> <peak RSS MB>
(pytorch-bf16-<layout> with --bf16: the network under bf16 autocast, fp32 weights).
bench/run.sh sets MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=... so that glibc keeps
PyTorch's large buffers instead of mapping and unmapping them every step.
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn as nn

# the same resnet18 (any width) as the parity test builds
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from parity_torch import backbone  # noqa: E402


class SFNet(nn.Module):
    def __init__(self, width, k, n_out):
        super().__init__()
        self.resnet = backbone(width)
        self.k = k
        self.fc = nn.Linear(8 * width, n_out)

    def forward(self, x):
        r = torch.relu(self.resnet(x))
        vals, idx = torch.topk(r, self.k, dim=1)
        return self.fc(torch.zeros_like(r).scatter(1, idx, vals))


def measure(layout, a):
    torch.manual_seed(1)
    model = SFNet(a.width, a.k, a.n_out)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randn(a.batch, a.n_out)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()
    t_train = 0.0
    for s in range(a.train_steps + 1):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            out = model(x)
        loss = torch.sqrt(torch.mean((out.float() - y) ** 2))
        loss.backward()
        if s > 0:
            t_train += time.perf_counter() - t0
        print(f"bench_torch: {layout} train step {s}/{a.train_steps} "
              f"{time.perf_counter() - t0:.2f} s", file=sys.stderr)
    model.eval()
    t_infer = 0.0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
        for s in range(a.infer_steps + 1):
            t0 = time.perf_counter()
            model(x)
            if s > 0:
                t_infer += time.perf_counter() - t0
    train = a.batch * a.train_steps / t_train if a.train_steps else 0.0
    infer = a.batch * a.infer_steps / t_infer if a.infer_steps else 0.0
    return train, infer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--n-out", type=int, default=1)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--infer-steps", type=int, default=3)
    ap.add_argument("--layouts", default="contiguous,channels_last")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast")
    a = ap.parse_args()
    torch.set_num_threads(2)
    results = []
    for layout in a.layouts.split(","):
        train, infer = measure(layout, a)
        print(f"bench_torch: {layout}: train {train:.1f} img/s, infer {infer:.1f} img/s",
              file=sys.stderr)
        results.append((layout, train, infer))
    best = max(results, key=lambda r: r[1])
    best_infer = max(r[2] for r in results)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"ROW pytorch-{'bf16-' if a.bf16 else ''}{best[0]} {best[1]:.1f} {best_infer:.1f} {peak:.0f}")


if __name__ == "__main__":
    main()
