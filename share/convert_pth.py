#!/usr/bin/env python3
"""Convert a PyTorch checkpoint of an SFNet / ResNet18 into safetensors for
sfnet-explore.

Accepts torchvision's resnet18 state dicts (e.g. the ImageNet weights, for
`--init`: the backbone is used and fc is replaced) and the reference implementation's
ResNet18TopK (a state dict, or a whole pickled model saved with torch.save(model)).
The reference model's `resnet.` prefix is stripped and its `trunk.` duplicates are
dropped. Weights are written as float32 (num_batches_tracked as int64), with the
metadata given on the command line, so that `sfnet-explore predict` needs no flags.

usage: convert_pth.py IN.pth OUT.safetensors [--k K] [--targets oh_p50]
           [--resize 160 --crop 144] [--mean R,G,B --std R,G,B]

Loading a whole pickled model runs code from the file: only convert files you trust.
"""
import argparse
import importlib.abc
import importlib.util
import json
import os
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_py  # noqa: E402  (beside this script, also where it is installed)


class _StubModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Lets a whole pickled model load when the module of its class (e.g. the reference
    implementation's `model.ResNet18TopK`) is not importable here: such modules are
    made up, and their classes become plain nn.Modules, which is all a state_dict()
    needs. Consulted only after every real import has failed."""

    def find_spec(self, name, path, target=None):
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        mod = types.ModuleType(spec.name)
        mod.__path__ = []
        classes = {}

        def getattr_(attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return classes.setdefault(attr, type(attr, (torch.nn.Module,), {}))
        mod.__getattr__ = getattr_
        return mod

    def exec_module(self, module):
        pass


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a whole pickled model, not a plain state dict
        try:  # imported first: its optional imports must not meet made-up modules
            import torchvision  # noqa: F401
        except ImportError:
            pass
        stubs = _StubModules()
        sys.meta_path.append(stubs)
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except TypeError:  # a torch without weights_only
            obj = torch.load(path, map_location="cpu")
        finally:
            sys.meta_path.remove(stubs)
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    for key in ("state_dict", "model"):  # common checkpoint wrappers
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        sys.exit(f"{path}: no state dict found (got {type(obj).__name__})")
    return obj


def convert(sd):
    out = {}
    for name, t in sd.items():
        if not torch.is_tensor(t):
            continue
        if name.startswith("module."):  # DataParallel
            name = name[len("module."):]
        if name.startswith("trunk."):  # the reference model's shared copy of the backbone
            continue
        if name.startswith("resnet."):
            name = name[len("resnet."):]
        t = t.detach().cpu()
        t = t.to(torch.int64) if name.endswith("num_batches_tracked") else t.to(torch.float32)
        out[name] = t.contiguous()
    if "conv1.weight" not in out:
        sys.exit("no conv1.weight: not a resnet18 state dict")
    return out


def save(path, tensors, metadata):
    try:  # the safetensors package, when installed
        from safetensors.torch import save_file
        save_file(tensors, path, metadata=metadata)
        return
    except ImportError:
        pass
    st_py.save(path, {name: t.numpy() for name, t in tensors.items()}, metadata)


def three(s):
    v = [float(x) for x in s.split(",")]
    if len(v) != 3:
        raise argparse.ArgumentTypeError("expected R,G,B")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--k", type=int, help="active features per galaxy (top-k)")
    ap.add_argument("--targets", help="comma-separated output names")
    ap.add_argument("--resize", type=int)
    ap.add_argument("--crop", type=int)
    ap.add_argument("--mean", type=three, help="R,G,B on the 0..1 scale")
    ap.add_argument("--std", type=three, help="R,G,B on the 0..1 scale")
    a = ap.parse_args()

    tensors = convert(load_state_dict(a.input))
    width = tensors["conv1.weight"].shape[0]
    meta = {"format": "sfnet-explore-weights-1", "model": "resnet18-topk",
            "width": str(width), "source": a.input}
    if "fc.weight" in tensors:
        meta["n_out"] = str(tensors["fc.weight"].shape[0])
    if a.k is not None:
        meta["k"] = str(a.k)
    if a.targets:
        meta["targets"] = json.dumps(a.targets.split(","))
    if a.resize:
        meta["resize"] = str(a.resize)
    if a.crop:
        meta["crop"] = meta["in_size"] = str(a.crop)
    if (a.mean is None) != (a.std is None):
        sys.exit("--mean and --std go together")
    if a.mean:
        meta["mean"], meta["std"] = json.dumps(a.mean), json.dumps(a.std)
    save(a.output, tensors, meta)
    print(f"{a.output}: {len(tensors)} tensors, width {width}, metadata "
          f"{', '.join(k for k in meta if k not in ('format', 'model', 'source'))}")


if __name__ == "__main__":
    main()
