#!/usr/bin/python3
"""Reference dump of a torchvision resnet18 backbone for tests/test_nn_onednn.c.

usage: parity_onednn.py OUTDIR WIDTH BATCH SIZE SEED

Builds torchvision's resnet18 structure with base width WIDTH (64 = torchvision's own
channels) without fc, on random weights and random BN statistics, and computes in
float64, from fp32 inputs:
  feats_train = backbone(x) in training mode (batch statistics), then the gradient of
  sum(feats_train * dfeats) with respect to every parameter, and the running
  statistics after that forward; feats_eval = backbone(x) in eval mode afterwards.
Writes to OUTDIR:
  manifest.txt   one line per state-dict tensor (num_batches_tracked left out):
                 name is_buffer numel ndim d0 [d1 d2 d3]
  state.bin      every tensor before the forward, float32, in manifest order
  after.bin      every tensor after the training forward (running stats moved)
  grads.bin      every tensor's gradient (zeros for buffers)
  x.bin (B,3,S,S), dfeats.bin (B,d), feats_train.bin (B,d), feats_eval.bin (B,d)
  bf16_err.txt   PyTorch's own bf16 autocast error on the same computation, as
                 "name relative_error" for feats_train, feats_eval and every gradient
                 (max |bf16 - float64| / max |float64|), the yardstick of bf16 engines
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, conv1x1

from parity_torch import DRAWS, margin


class Backbone(nn.Module):
    """torchvision.models.resnet18 up to the average pool, with base width w."""

    def __init__(self, w):
        super().__init__()
        self.inplanes = w
        self.conv1 = nn.Conv2d(3, w, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(w, 1)
        self.layer2 = self._make_layer(2 * w, 2)
        self.layer3 = self._make_layer(4 * w, 2)
        self.layer4 = self._make_layer(8 * w, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride),
                                       nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers.append(BasicBlock(planes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def tensors(model):
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def write(path, arrays):
    with open(path, "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype=np.float32).tobytes())


def main():
    out, width, batch, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.manual_seed(seed)
    model = Backbone(width)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    # Round every tensor to float32 first so that C and Python start from the same values.
    for v in model.state_dict().values():
        if v.dtype.is_floating_point:
            v.copy_(v.float())
    # Of DRAWS batches, the one whose ReLU and max-pool decisions are clearest (see
    # parity_torch.margin): a value within float32 rounding of a threshold makes the
    # gradients depend on the engine's order of summation.
    init = {n: t.clone() for n, t in model.state_dict().items()}
    best = None
    for _ in range(DRAWS):
        x = torch.randn(batch, 3, size, size).float()
        clear = margin(model, init, x)
        if best is None or clear > best[0]:
            best = (clear, x)
    x = best[1]
    dfeats = torch.randn(batch, 8 * width).float()
    state = [v.numpy().copy() for _, v in tensors(model)]
    model32 = copy.deepcopy(model)

    model = model.double()
    model.train()
    feats = model(x.double())
    (feats * dfeats.double()).sum().backward()
    params = dict(model.named_parameters())
    grads = [params[k].grad.numpy() if k in params else np.zeros(v.shape) for k, v in tensors(model)]
    after = [v.numpy() for _, v in tensors(model)]
    model.eval()
    with torch.no_grad():
        feats_eval = model(x.double())

    def rel(a, ref):
        ref = ref.detach().double()
        return float((a.detach().double() - ref).abs().max() / ref.abs().max())

    model32.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        f16 = model32(x)
    (f16.float() * dfeats).sum().backward()
    bf16_err = [("feats_train", rel(f16, feats))]
    model32.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        bf16_err.append(("feats_eval", rel(model32(x), feats_eval)))
    for k, p in model32.named_parameters():
        bf16_err.append((k, rel(p.grad, params[k].grad)))

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bf16_err.txt"), "w") as f:
        for k, e in bf16_err:
            f.write(f"{k} {e:.6g}\n")
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        for k, v in tensors(model):
            dims = " ".join(str(d) for d in v.shape)
            f.write(f"{k} {0 if k in params else 1} {v.numel()} {v.dim()} {dims}\n")
    write(os.path.join(out, "state.bin"), state)
    write(os.path.join(out, "after.bin"), after)
    write(os.path.join(out, "grads.bin"), grads)
    write(os.path.join(out, "x.bin"), [x.numpy()])
    write(os.path.join(out, "dfeats.bin"), [dfeats.numpy()])
    write(os.path.join(out, "feats_train.bin"), [feats.detach().numpy()])
    write(os.path.join(out, "feats_eval.bin"), [feats_eval.numpy()])


if __name__ == "__main__":
    main()
