#!/usr/bin/python3
"""Reference dump for tests/test_nn_parity.c: one SFNet step in PyTorch.

Builds torchvision's resnet18 (width 64; other widths by torchvision's own
ResNet._make_layer with the base channels changed) + ReLU + top-k + Linear, with
random weights and BN statistics, and a random batch. Runs forward, RMSE loss and
backward in train mode and again, from the same weights, in eval mode. Writes
OUT/data.bin (float32, little-endian, concatenated) and OUT/index.json
({"config": {...}, "tensors": {name: {"offset": floats, "shape": [...]}}}) with:
  init/<state-dict name>   weights and BN statistics before the step
                           (backbone as "resnet.<name>", head as "fc.<name>")
  x (B,3,S,S), y (B,n_out)
  <mode>/feats (B,d), <mode>/out (B,n_out), <mode>/loss (1),
  <mode>/topk_idx (B,k) as floats, <mode>/grad/<name> every parameter's gradient,
  train/state/<name> BN running statistics after the train-mode step.
  f64/<any of the above results>  the same step computed in float64: the exact answer,
                           so that a test can tell rounding from a bug where train-mode BN
                           over a small batch makes float32 results sensitive to the order
                           of accumulation (which the BLAS kernels decide).
With PARITY_DOUBLE=1 in the environment PyTorch computes in float64 (the dump stays
float32): the exact answer, to tell rounding from a bug.
Usage: parity_torch.py --width 64 --size 64 --batch 4 --k 4 --n-out 4 --seed 1 --out DIR
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock


def backbone(width):
    net = torchvision.models.resnet18()
    if width != 64:
        net.inplanes = width
        net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        net.bn1 = nn.BatchNorm2d(width)
        net.layer1 = net._make_layer(BasicBlock, width, 2)
        net.layer2 = net._make_layer(BasicBlock, 2 * width, 2, stride=2)
        net.layer3 = net._make_layer(BasicBlock, 4 * width, 2, stride=2)
        net.layer4 = net._make_layer(BasicBlock, 8 * width, 2, stride=2)
    net.fc = nn.Identity()
    return net


class SFNet(nn.Module):
    def __init__(self, width, k, n_out):
        super().__init__()
        self.resnet = backbone(width)
        self.k = k
        self.fc = nn.Linear(8 * width, n_out)

    def forward(self, x):
        feats = self.resnet(x)
        r = torch.relu(feats)
        if self.k > 0:
            vals, idx = torch.topk(r, self.k, dim=1)
            sparse = torch.zeros_like(r).scatter(1, idx, vals)
        else:
            idx = torch.zeros(r.shape[0], 0, dtype=torch.long)
            sparse = r
        return feats, idx, self.fc(sparse)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--n-out", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    if os.environ.get("PARITY_DOUBLE"):
        torch.set_default_dtype(torch.float64)
    model = SFNet(a.width, a.k, a.n_out)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.1)
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    init = {n: t.clone() for n, t in model.state_dict().items()}
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randn(a.batch, a.n_out)

    blobs, index = [], {}
    offset = 0

    def put(name, t):
        nonlocal offset
        t = t.detach().to(torch.float32).contiguous()
        index[name] = {"offset": offset, "shape": list(t.shape)}
        blobs.append(t.numpy().tobytes())
        offset += t.numel()

    for n, t in init.items():
        if n.endswith("num_batches_tracked"):
            continue
        put("init/" + n, t)
    put("x", x)
    put("y", y)
    def step(model, x, y, prefix):
        for mode in ("train", "eval"):
            model.load_state_dict(init)
            model.train(mode == "train")
            model.zero_grad(set_to_none=False)
            feats, idx, out = model(x)
            loss = torch.sqrt(torch.mean((out - y) ** 2))
            loss.backward()
            put(prefix + mode + "/feats", feats)
            put(prefix + mode + "/out", out)
            put(prefix + mode + "/loss", loss.reshape(1))
            put(prefix + mode + "/topk_idx", idx.to(torch.float32))
            for n, p in model.named_parameters():
                put(prefix + mode + "/grad/" + n, p.grad)
            if mode == "train":
                for n, t in model.state_dict().items():
                    if "running_" in n:
                        put(prefix + "train/state/" + n, t)

    step(model, x, y, "")
    step(model.double(), x.double(), y.double(), "f64/")
    with open(os.path.join(a.out, "data.bin"), "wb") as f:
        for b in blobs:
            f.write(b)
    cfg = {"width": a.width, "size": a.size, "batch": a.batch, "k": a.k, "n_out": a.n_out}
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump({"config": cfg, "tensors": index}, f)


if __name__ == "__main__":
    main()
