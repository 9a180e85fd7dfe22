#!/usr/bin/python3
"""Reference dump for tests/test_nn_parity.c: one SFNet step in PyTorch.

Builds torchvision's resnet18 (width 64; other widths by torchvision's own
ResNet._make_layer with the base channels changed) + ReLU + top-k + Linear, with
random weights and BN statistics, and a random batch (the clearest of DRAWS: see
margin()). Runs forward, RMSE loss and
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
import copy
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


# The step has decisions: every ReLU keeps or zeroes a value by its sign, the max pool
# picks the largest of each window, top-k the k largest features. A value closer to
# such a threshold than float32's error there (up to ~1e-5 after a few BN layers)
# makes the float32 gradient depend on the order of accumulation: one value whose
# sign flips between two correct float32 computations (PyTorch's and ours, whose
# BLAS kernels sum in another order) moves a BN bias gradient of a small batch by
# ~1%, which no tolerance should absorb. Large batches always hold a few such
# values, whose flips weigh little there; so of DRAWS random batches the one whose
# closest decision is furthest from its threshold (in float64) is used.
DRAWS = 8


def margin(model, init, x):
    """The distance of the closest ReLU, max-pool and top-k decision to its threshold."""
    m = copy.deepcopy(model).double()  # a copy: building a model would draw random numbers
    m.load_state_dict(init)
    worst = [float("inf")]

    def keep(v):
        if v.numel():
            worst[0] = min(worst[0], float(v))

    def relu_input(mod, inp):
        keep(inp[0].detach().abs().min())

    def pool_input(mod, inp):
        t = inp[0].detach()
        n, c, h, w = t.shape
        cols = nn.functional.unfold(t.reshape(n * c, 1, h, w), mod.kernel_size,
                                    padding=mod.padding, stride=mod.stride)
        top2 = cols.topk(2, dim=1).values
        live = top2[:, 0] > 0  # windows of zeros route their gradient into a dead ReLU
        keep((top2[live, 0] - top2[live, 1]).min() if live.any() else torch.tensor([]))

    hooks = [mod.register_forward_pre_hook(relu_input) for mod in m.modules()
             if isinstance(mod, nn.ReLU)]
    hooks += [mod.register_forward_pre_hook(pool_input) for mod in m.modules()
              if isinstance(mod, nn.MaxPool2d)]
    k = getattr(m, "k", 0)
    with torch.no_grad():
        for mode in (True, False):
            m.train(mode)
            out = m(x.double())
            feats = out[0] if isinstance(out, tuple) else out
            # feats average layer4's ReLU outputs: a feature near 0 but not 0 comes from
            # a value near its ReLU's threshold, which the hooks saw
            r = torch.relu(feats)
            if 0 < k < r.shape[1]:
                top = r.topk(k + 1, dim=1).values
                live = top[:, -2] > 0  # a kept 0 has no gradient
                if live.any():
                    keep((top[live, -2] - top[live, -1]).min())
            m.load_state_dict(init)  # train mode moved the running statistics
    for h in hooks:
        h.remove()
    return worst[0]


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
    # Of DRAWS batches, the one whose decisions are clearest: see margin().
    best = None
    for attempt in range(DRAWS):
        x = torch.randn(a.batch, 3, a.size, a.size)
        y = torch.randn(a.batch, a.n_out)
        clear = margin(model, init, x)
        if best is None or clear > best[0]:
            best = (clear, x, y)
    _, x, y = best

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
