#!/usr/bin/env python3
"""Check spk_convert against PyTorch itself: torch.save -> spk_convert -> safetensors -> spk_convert -> .model
-> torch.load must give back the original state_dict (values bit for bit, dtypes, shapes, names; the order is
safetensors' data order, largest element size first), with no warning from torch.load, and
load_state_dict(strict=True) must accept it. .model -> spk_convert -> .model keeps the order too.

    /usr/bin/python3 scripts/check_torch_roundtrip.py [--spk_convert build/apps/spk_convert]

Prints one verdict line ("torch round trip: OK ..." or "torch round trip: FAILED ...") and exits non-zero on
failure. Optional: needs PyTorch (>= 1.6); no spk test depends on it.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile
import warnings

import torch


def state_dict():
    g = torch.Generator().manual_seed(3)
    sd = collections.OrderedDict()
    sd["__S__.conv1.weight"] = torch.randn(8, 1, 3, 3, generator=g)
    sd["__S__.bn1.weight"] = torch.rand(8, generator=g)
    sd["__S__.bn1.running_mean"] = torch.randn(8, generator=g)
    sd["__S__.bn1.num_batches_tracked"] = torch.tensor(1234)
    sd["__S__.fc.weight"] = torch.randn(5, 7, generator=g).t()   # not contiguous
    sd["__S__.scalar"] = torch.tensor(2.5, dtype=torch.float64)
    sd["__S__.half"] = torch.randn(3, 4, generator=g).half()
    sd["__S__.bf16"] = torch.randn(6, generator=g).bfloat16()
    sd["__S__.int"] = torch.arange(-3, 4, dtype=torch.int32)
    sd["__S__.empty"] = torch.zeros(0, 3)
    sd["__S__.deep"] = torch.randn(2, 3, 1, 2, 2, generator=g)
    for k in range(12):   # enough entries for storage keys "10", "11" (sorted as text in the archive)
        sd["__L__.w%d" % k] = torch.randn(k + 1, generator=g)
    return sd


def raw(t):
    return t.contiguous().reshape(-1).view(torch.uint8)


def same(a, b, ordered):
    if (list(a.keys()) if ordered else sorted(a.keys())) != (list(b.keys()) if ordered else sorted(b.keys())):
        return "names or order differ: %s vs %s" % (list(a.keys())[:4], list(b.keys())[:4])
    for k in a:
        x, y = a[k], b[k]
        if x.dtype != y.dtype or x.shape != y.shape:
            return "%s: %s %s vs %s %s" % (k, x.dtype, tuple(x.shape), y.dtype, tuple(y.shape))
        if not torch.equal(raw(x), raw(y)):   # bit for bit (NaN payloads, -0.0 included)
            return "%s: values differ" % k
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spk_convert", default="build/apps/spk_convert")
    args = ap.parse_args()
    sd = state_dict()
    with tempfile.TemporaryDirectory() as d:
        src, mid, out, direct = (os.path.join(d, n) for n in ("orig.model", "mid.safetensors", "back.model", "direct.pt"))
        torch.save(sd, src)
        for a, b in ((src, mid), (mid, out), (src, direct)):
            r = subprocess.run([args.spk_convert, a, b], capture_output=True, text=True)
            if r.returncode != 0:
                print("torch round trip: FAILED: spk_convert %s %s: %s" % (a, b, (r.stdout + r.stderr).strip()))
                return 1
        problem = None
        for path, ordered in ((out, False), (direct, True)):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                back = torch.load(path)
            if not isinstance(back, collections.OrderedDict):
                problem = "%s: not an OrderedDict: %s" % (path, type(back))
            else:
                problem = same(sd, back, ordered)
            if problem is None and caught:
                problem = "torch.load warned: %s" % caught[0].message
            if problem:
                problem = "%s: %s" % (os.path.basename(path), problem)
                break
            m = torch.nn.Module()
            for k, v in sd.items():
                m.register_buffer(k.replace(".", "_"), torch.empty_like(v))
            m.load_state_dict(collections.OrderedDict((k.replace(".", "_"), v) for k, v in back.items()), strict=True)
        if problem:
            print("torch round trip: FAILED: %s" % problem)
            return 1
        print("torch round trip: OK: %d tensors (f32 f64 f16 bf16 i32 i64, strided, 0-dim, empty) torch %s -> "
              "safetensors -> .model and .model -> .pt: torch.load gives them back bit for bit, no warning, "
              "load_state_dict(strict=True) accepts them" % (len(sd), torch.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
