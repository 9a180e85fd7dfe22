#!/usr/bin/python3
"""PyTorch's side of bench/recipe_compare: the SFNet training recipe in plain PyTorch.

Trains torchvision's resnet18 + ReLU + top-k + Linear on the galaxies that
recipe_compare prepared (DATA/pixels.u8: (n, 3, S, S) bytes, exactly the bytes the
C trainer sees; DATA/meta.json: targets, split, per-channel normalisation), and
prints one line per epoch and one at the end:
    EPOCH <epoch> <train RMSE> <valid RMSE>      (target units: dex for metallicity)
    RESULT <valid RMSE> <seconds>

The default recipe is the paper's (Wu 2025, fastai 2.7's fit_one_cycle with ranger)
written with torch's own parts, as a PyTorch user would write it:
  optimizer  torch.optim.RAdam(betas=(0.95, 0.99), eps=1e-6) inside a Lookahead
             (k = 6, alpha = 0.5: every 6th step slow += 0.5 (fast - slow), fast = slow,
             slow taken from the weights before the first step), decoupled weight decay
             0.01 (p *= 1 - lr wd before each step) on conv and linear weights only
             (fastai's wd_bn_bias=False)
  schedule   torch.optim.lr_scheduler.OneCycleLR with fastai's numbers: 25% cosine
             warm-up from lr/25, cosine down to lr/1e5, beta1 0.95 -> 0.85 -> 0.95
  data       per-image random dihedral transform (one of 8), per-channel normalisation,
             shuffled batches, the last incomplete one dropped
  targets    standardised with the training split's mean and sd (the loss is the RMSE
             in sd units); predictions are scaled back for every RMSE printed
  init       torchvision's (kaiming normal fan-out convs, BN 1/0, nn.Linear's uniform)
Each option below changes one of these, for the ablations.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))


def backbone(width):
    """torchvision's resnet18 at base width `width` (64: the paper), fc removed, with
    torchvision's initialisation applied to every layer (rebuilt layers included)."""
    net = torchvision.models.resnet18()
    if width != 64:
        net.inplanes = width
        net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        net.bn1 = nn.BatchNorm2d(width)
        net.layer1 = net._make_layer(BasicBlock, width, 2)
        net.layer2 = net._make_layer(BasicBlock, 2 * width, 2, stride=2)
        net.layer3 = net._make_layer(BasicBlock, 4 * width, 2, stride=2)
        net.layer4 = net._make_layer(BasicBlock, 8 * width, 2, stride=2)
        for mod in net.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.constant_(mod.weight, 1)
                nn.init.constant_(mod.bias, 0)
    net.fc = nn.Identity()
    return net


class SFNet(nn.Module):
    def __init__(self, width, k, n_out):
        super().__init__()
        self.resnet = backbone(width)
        self.k = k
        self.fc = nn.Linear(8 * width, n_out)

    def forward(self, x):
        r = torch.relu(self.resnet(x))
        if self.k > 0:
            vals, idx = torch.topk(r, self.k, dim=1)
            r = torch.zeros_like(r).scatter(1, idx, vals)
        return self.fc(r)


class Lookahead:
    """Lookahead around an optimizer, as fastai's: slow weights copied before the first
    step, every k-th step slow += alpha (fast - slow) and fast = slow."""

    def __init__(self, inner, k=6, alpha=0.5):
        self.inner, self.k, self.alpha, self.count, self.slow = inner, k, alpha, 0, None
        self.param_groups = inner.param_groups

    def zero_grad(self):
        self.inner.zero_grad(set_to_none=False)

    @torch.no_grad()
    def step(self):
        params = [p for g in self.param_groups for p in g["params"]]
        if self.slow is None:
            self.slow = [p.detach().clone() for p in params]
        self.inner.step()
        self.count += 1
        if self.count % self.k:
            return
        for s, p in zip(self.slow, params):
            s.add_(p - s, alpha=self.alpha)
            p.copy_(s)


class FastaiRAdam(torch.optim.Optimizer):
    """fastai 2.7's RAdam step (eps added to sqrt(sqr_avg / debias2)), no weight decay
    (done outside, decoupled). The hyper-parameters live in each group: lr, betas."""

    def __init__(self, params, lr, betas, eps):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            mom, sqr_mom = g["betas"]
            lr, eps = g["lr"], g["eps"]
            for p in g["params"]:
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["grad_avg"] = torch.zeros_like(p)
                    st["sqr_avg"] = torch.zeros_like(p)
                st["step"] += 1
                n = st["step"]
                st["grad_avg"].mul_(mom).add_(p.grad, alpha=1 - mom)
                st["sqr_avg"].mul_(sqr_mom).addcmul_(p.grad, p.grad, value=1 - sqr_mom)
                debias1 = 1 - mom**n
                debias2 = 1 - sqr_mom**n
                r_inf = 2 / (1 - sqr_mom) - 1
                r = r_inf - 2 * n * sqr_mom**n / debias2
                if r > 5:
                    v = math.sqrt(((r - 4) * (r - 2) * r_inf) / ((r_inf - 4) * (r_inf - 2) * r))
                    denom = (st["sqr_avg"] / debias2).sqrt() + eps
                    p.addcdiv_(st["grad_avg"], denom, value=-lr * v / debias1)
                else:
                    p.add_(st["grad_avg"], alpha=-lr / debias1)


def sched_cos(start, end, pos):
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def fastai_one_cycle(lr_max, pos):
    """fastai's fit_one_cycle: (lr, mom) at the fraction pos of training."""
    if pos < 0.25:
        p = pos / 0.25
        return sched_cos(lr_max / 25, lr_max, p), sched_cos(0.95, 0.85, p)
    p = (pos - 0.25) / 0.75
    return sched_cos(lr_max, lr_max / 1e5, p), sched_cos(0.85, 0.95, p)


def dihedral(x, t):
    """x (3, S, S) under transform t: bit 2 transposes, bit 0 mirrors left-right,
    bit 1 mirrors top-bottom (the C trainer's convention)."""
    if t & 4:
        x = x.transpose(1, 2)
    if t & 1:
        x = x.flip(2)
    if t & 2:
        x = x.flip(1)
    return x


def draw_transforms(mode, B, gen):
    """One transform per image of the batch (0: none)."""
    if mode == "none":
        return [0] * B
    if mode == "d8":
        return torch.randint(0, 8, (B,), generator=gen).tolist()
    if mode == "hv":  # independent horizontal and vertical flips: 4 of the 8
        return torch.randint(0, 4, (B,), generator=gen).tolist()
    if mode == "batch":  # one of the 8 for the whole batch
        return [int(torch.randint(0, 8, (1,), generator=gen))] * B
    if mode == "fastai":  # fastai's Dihedral(p=0.5): half the images one of the 8
        do = torch.rand(B, generator=gen) < 0.5
        t = torch.randint(0, 8, (B,), generator=gen)
        return [int(t[i]) if do[i] else 0 for i in range(B)]
    raise ValueError(mode)


def load_init(model, path):
    """Weights from a safetensors file with state-dict names (the C trainer's init)."""
    sys.path.insert(0, os.path.join(HERE, "..", "share"))
    import st_py  # noqa: E402
    tensors, _ = st_py.load(path)
    state = {}
    for name, a in tensors.items():
        if name.startswith("optimizer.") or name.startswith("train."):
            continue
        key = name if name.startswith("fc.") else "resnet." + name
        state[key] = torch.from_numpy(a.copy())
    model.load_state_dict(state, strict=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by recipe_compare")
    ap.add_argument("--seed", type=int, default=0, help="initialisation, shuffles, flips")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--optimizer", choices=["torch", "fastai"], default="torch",
                    help="torch.optim.RAdam (eps added to sqrt(sqr_avg), then debiased) or "
                         "fastai's RAdam step (eps added after debiasing)")
    ap.add_argument("--schedule", choices=["torch", "fastai"], default="torch",
                    help="OneCycleLR stepped after each step, or fastai's one-cycle set before "
                         "each step at pos = step / total")
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--lookahead", type=int, default=6, help="k of Lookahead (1: off)")
    ap.add_argument("--flips", choices=["d8", "hv", "none", "batch", "fastai"], default="d8")
    ap.add_argument("--targets", choices=["standardised", "raw"], default="standardised")
    ap.add_argument("--head-bias", choices=["init", "mean"], default="init",
                    help="the head's bias: nn.Linear's init, or the training mean (0 in "
                         "standardised units)")
    ap.add_argument("--bn-momentum", type=float, default=0.1)
    ap.add_argument("--bn-eps", type=float, default=1e-5)
    ap.add_argument("--init", help="start from these weights (safetensors, state-dict names)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    with open(os.path.join(a.data, "meta.json")) as f:
        meta = json.load(f)
    n, S, no = meta["n"], meta["size"], meta["n_out"]
    pix = np.fromfile(os.path.join(a.data, "pixels.u8"), dtype=np.uint8).reshape(n, 3, S, S)
    y = np.asarray(meta["y"], dtype=np.float64).reshape(n, no)
    split = np.asarray(meta["split"])
    train_idx, valid_idx = np.nonzero(split == 0)[0], np.nonzero(split == 1)[0]
    mean = torch.tensor(meta["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(meta["std"], dtype=torch.float32).view(1, 3, 1, 1)

    def images(idx):
        return (torch.from_numpy(pix[idx]).float() / 255.0 - mean) / std

    # targets: per-output mean and one pooled scale, so that the loss is the raw RMSE
    # divided by a constant (with one output: plain standardisation)
    mu = y[train_idx].mean(axis=0)
    scale = math.sqrt(float(np.mean(y[train_idx].var(axis=0)))) if a.targets == "standardised" else 1.0
    if a.targets == "raw":
        mu = np.zeros(no)
    z = torch.tensor((y - mu) / scale, dtype=torch.float32)

    torch.manual_seed(a.seed)
    model = SFNet(a.width, a.k, no)
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum, mod.eps = a.bn_momentum, a.bn_eps
    if a.init:
        load_init(model, a.init)
    if a.head_bias == "mean":
        with torch.no_grad():
            model.fc.bias.copy_(torch.tensor(y[train_idx].mean(axis=0) - mu, dtype=torch.float32) / scale)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay}, {"params": no_decay}]
    if a.optimizer == "torch":
        inner = torch.optim.RAdam(groups, lr=a.lr, betas=(0.95, 0.99), eps=a.eps, weight_decay=0)
    else:
        inner = FastaiRAdam(groups, lr=a.lr, betas=(0.95, 0.99), eps=a.eps)
    opt = Lookahead(inner, k=a.lookahead, alpha=0.5)
    B = a.batch
    steps = len(train_idx) // B
    total = steps * a.epochs
    sched = None
    if a.schedule == "torch":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            inner, max_lr=a.lr, total_steps=total, pct_start=0.25, anneal_strategy="cos",
            cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
            final_div_factor=1e5 / 25)

    gen = torch.Generator()
    gen.manual_seed(a.seed + 1000003)
    xv = images(valid_idx)
    t0 = time.time()
    it = 0
    valid = float("nan")
    for epoch in range(a.epochs):
        model.train()
        perm = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
        sq, cnt = 0.0, 0
        for s in range(steps):
            idx = perm[s * B:(s + 1) * B]
            x = images(idx)
            tr = draw_transforms(a.flips, B, gen)
            x = torch.stack([dihedral(x[i], tr[i]) for i in range(B)])
            if sched is None:
                lr, mom = fastai_one_cycle(a.lr, it / total)
                for g in inner.param_groups:
                    g["lr"], g["betas"] = lr, (mom, 0.99)
            lr = inner.param_groups[0]["lr"]
            out = model(x)
            loss = torch.sqrt(torch.mean((out - z[idx]) ** 2))
            if not torch.isfinite(loss):
                print(f"recipe_torch: the loss became {loss.item()} at epoch {epoch + 1}", file=sys.stderr)
                return 1
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in decay:
                    p.mul_(1 - lr * a.wd)
            opt.step()
            if sched is not None:
                sched.step()
            it += 1
            sq += loss.item() ** 2 * B * no
            cnt += B * no
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(xv[i:i + 64]) for i in range(0, len(valid_idx), 64)])
            pred = pred.double().numpy() * scale + mu
        valid = float(np.sqrt(np.mean((pred - y[valid_idx]) ** 2)))
        train = math.sqrt(sq / cnt) * scale
        print(f"EPOCH {epoch + 1} {train:.6f} {valid:.6f}", flush=True)
        print(f"recipe_torch: seed {a.seed} epoch {epoch + 1}/{a.epochs}: train {train:.4f} "
              f"valid {valid:.4f} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"RESULT {valid:.6f} {time.time() - t0:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
