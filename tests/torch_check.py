"""PyTorch side of tests/test_train_weights.c.

  torch_check.py load OURS.safetensors IO.safetensors
      Builds torchvision's resnet18 (at the file's width) with a new fc, loads our
      weights with load_state_dict(strict=True), runs the top-k model in eval mode on
      IO's x and compares with IO's out and topk (our forward). Exit 0 when they agree.
  torch_check.py make-pth OUT.pth IO.safetensors WIDTH N_OUT K
      Writes a reference-style model (ResNet18TopK: `resnet.` prefix, `trunk.`
      duplicates) with random weights and BN statistics as a .pth state dict, and its
      eval-mode outputs on a random batch into IO (x, out), for share/convert_pth.py.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, ResNet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "share"))
import st_py  # noqa: E402  (share/st_py.py, beside convert_pth.py)


def resnet18(width, n_out):
    """torchvision's resnet18 (exactly, at width 64) with `width` base channels."""
    m = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=n_out)
    if width != 64:
        m.inplanes = width
        m.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        m.bn1 = nn.BatchNorm2d(width)
        m.layer1 = m._make_layer(BasicBlock, width, 2)
        m.layer2 = m._make_layer(BasicBlock, 2 * width, 2, stride=2)
        m.layer3 = m._make_layer(BasicBlock, 4 * width, 2, stride=2)
        m.layer4 = m._make_layer(BasicBlock, 8 * width, 2, stride=2)
        m.fc = nn.Linear(8 * width, n_out)
    return m


class ResNet18TopK(nn.Module):
    """The reference implementation's model, at any width."""

    def __init__(self, width, k, n_out):
        super().__init__()
        self.resnet = resnet18(width, n_out)
        self.k = k
        self.trunk = nn.Sequential(*list(self.resnet.children())[:-1])

    def sparse_features(self, x):
        f = torch.flatten(self.trunk(x), 1).relu()
        if self.k == 0:
            return f, None
        v, i = torch.topk(f, k=self.k, dim=1)
        return torch.zeros_like(f).scatter_(1, i, v), i

    def forward(self, x):
        s, i = self.sparse_features(x)
        return self.resnet.fc(s), i


def load(ours, io):
    t, meta = st_py.load(ours)
    width, k, n_out = int(meta["width"]), int(meta["k"]), int(meta["n_out"])
    model = ResNet18TopK(width, k, n_out)
    sd = {n: torch.from_numpy(a) for n, a in t.items()}
    model.resnet.load_state_dict(sd, strict=True)
    model.eval()
    d, _ = st_py.load(io)
    with torch.no_grad():
        out, idx = model(torch.from_numpy(d["x"]))
    want = d["out"]
    err = np.abs(out.numpy() - want).max() / max(np.abs(want).max(), 1e-6)
    same_idx = idx is None or np.array_equal(np.sort(idx.numpy(), 1), np.sort(d["topk"], 1))
    nbt = int(model.resnet.bn1.num_batches_tracked)
    print(f"torch: max relative difference {err:.3g}, top-k indices equal: {same_idx}, "
          f"num_batches_tracked {nbt}")
    ok = err < 1e-4 and same_idx and nbt == int(meta.get("expect_nbt", nbt))
    sys.exit(0 if ok else 1)


def make_pth(out_pth, io, width, n_out, k):
    torch.manual_seed(7)
    model = ResNet18TopK(width, k, n_out)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.num_batches_tracked.fill_(42)
    model.eval()
    torch.save(model.state_dict(), out_pth)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        out, _ = model(x)
    st_py.save(io, {"x": x.numpy(), "out": out.numpy()})


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "make-pth":
        make_pth(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        sys.exit("usage: torch_check.py load|make-pth ...")
